//! The node kinds, each implementing `exec::node::Node`:
//!
//! * `stage`: runs a `Stage` (maps, serial and ordered stages, sinks,
//!   combinators);
//! * `source`: one source node over a supply, a serial iterator or a
//!   splittable (`#[split]`) source;
//! * `device`: `#[gpu]` stages, batches run on dedicated lanes;
//! * `outlets`: the typed edges every node emits through, and the
//!   claim-slot helpers limited nodes drain their inbox with.
//!
//! Owns: what each kind of node does with a task. May import: `exec`,
//! `protocol`, `data`, `api`, `sync`.

pub(crate) mod device;
pub(crate) mod feed;
pub(crate) mod fold;
pub(crate) mod outlets;
pub(crate) mod source;
pub(crate) mod stage;
pub(crate) mod stream;
