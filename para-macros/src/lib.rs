//! Procedural macros of Para. The `pipeline!` and `#[para::pipeline]` front
//! ends arrive with their own issues; until then this crate is empty.
