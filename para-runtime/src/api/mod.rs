//! What users implement and get back: the [`Stage`](stage::Stage) trait with
//! its batch views, the combinators, splittable sources and the run's
//! [`Report`](report::Report).
//!
//! Owns: the user-facing traits and value types. May import: `sync` only.
//! The layers above (`data`, `protocol`, `exec`, `nodes`, `build`) build on
//! these types; nothing here knows how a run is scheduled.

pub mod combinators;
pub(crate) mod id;
pub(crate) mod report;
pub(crate) mod split;
pub(crate) mod stage;
