//! The node kinds: stages, sources (serial and splittable) and device
//! stages, and the typed outlets every node emits through.
//!
//! Owns: what each kind of node does with a task. May import: `exec`,
//! `protocol`, `data`, `api`, `sync`.

pub(crate) mod device;
pub(crate) mod outlets;
pub(crate) mod source;
pub(crate) mod stage;
