//! Para: pipeline parallelism on all cores.
//!
//! (Facade crate; filled in below.)
pub use para_runtime::*;
