//! The runtime of [Para](https://docs.rs/para): a static graph of typed
//! stages, run in per-stage batches by work-stealing workers.
//!
//! Most users reach it through the `para` crate's macros; this crate's public
//! face is the [`Graph`] builder, which builds the same graphs at run time.
//!
//! ```
//! use para::{Graph, Options};
//!
//! let text = vec!["a b", "c", "d e f"];
//! let mut words = 0;
//! let mut g = Graph::new();
//! let lines = g.source(text);
//! let counts = g.map(lines, |line: &str| line.split_whitespace().count());
//! g.sink(counts, |n| words += n);
//! let report = g.run_with(Options::new().threads(2));
//! assert_eq!(words, 6);
//! println!("{report}");
//! ```
//!
//! # How it runs
//!
//! * Every node owns a typed inbox of *batches*. A task is a node id (plus
//!   the claim slot of a serial stage); running it takes one batch from that
//!   node's inbox. No closure is boxed and nothing is allocated per item.
//! * Workers live in a rayon-core pool and take tasks from their own deque,
//!   then from the shared injector, then by stealing, highest priority level
//!   first. Idle workers sleep on a condition variable (see `sleep`).
//! * Serial stages run on one worker at a time through a lock-free claim
//!   (see `claim`); a worker that finds one busy moves on.
//! * Ordered stages restore source order from per-batch sequence numbers,
//!   even through filters and diamonds (see `order`).
//! * `capacity` bounds the items inside the graph; sources park at the bound.
//! * A panicking stage cancels the run; items inside are dropped and the
//!   panic resumes on the caller.

#![warn(missing_docs)]

mod api;
mod build;
mod data;
mod exec;
mod nodes;
mod protocol;
mod sync;

pub use api::combinators;
pub use api::id::NodeId;
pub use api::report::{NodeReport, Report};
pub use api::split::{IntoSplit, Split, VecIter, VecSplit};
pub use api::stage::{Input, Output, Stage, StageMode};
pub use build::graph::Graph;
pub use build::options::{Options, DEFAULT_BATCH};
pub use build::port::Port;
