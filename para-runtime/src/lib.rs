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
//! * Every node owns a typed inbox of *batches* (`data::inbox`,
//!   `data::batch`). A task (`exec::task`) is a node id plus the claim slot
//!   of a serial stage; running it takes one batch from that node's inbox.
//!   No closure is boxed and nothing is allocated per item: the scheduler
//!   sees `dyn Node` (`exec::node`) once per batch.
//! * Workers live in a rayon-core pool (`exec::scheduler`) and take tasks
//!   from their own deque, then from the shared injector, then by stealing,
//!   highest priority level first (`exec::worker`, over `data::queue`).
//!   A worker with nothing to do gives its thread back to the pool, and a
//!   new worker job is spawned when work appears (`protocol::crew`), so a
//!   run nests in a stage, a rayon job or another run without hanging; the
//!   caller keeps the run going until it ends (`exec::scheduler`).
//! * Serial and replicated stages run on a bounded number of workers at
//!   once through lock-free claim slots (`protocol::claim`); a worker that
//!   finds every slot busy moves on and the holder drains the batch.
//! * A batch goes to the next stage on the same worker when that stage
//!   ranks at least as high, without a trip through its inbox
//!   (`exec::handoff`, driven by `exec::executor`).
//! * Ordered stages restore source order from per-batch sequence numbers,
//!   even through filters and diamonds (`data::order`).
//! * A source cuts batches worth a *time target* of work by the measured
//!   cost per item of the stages, at most `batch` items (`exec::sizing`).
//!   The target is chosen per source by a bounded hill-climb on its
//!   measured throughput: it starts at a 100 µs ceiling (50 µs for items that own heap
//!   memory) and, now and then,
//!   tries a neighbouring target (halving steps down to about 3 µs) for one
//!   window of about 2 ms of work per thread, moving there when that was more than 5%
//!   faster; a probe that loses doubles the wait before the next. So a
//!   batch of cheap items amortises the per-batch cost, while a batch of
//!   large heap items (4 KiB buffers) shrinks until it stays in cache. With
//!   `threads = 1` sizes double from 1 to `batch` and no timing decides, so
//!   such runs are deterministic.
//! * `capacity` bounds the items inside the graph; sources park at the
//!   bound and are rescheduled when room appears (`protocol::park`). A node
//!   finishes once its input is over and closes once (`protocol::completion`).
//! * A panicking stage cancels the run; items inside are dropped and the
//!   panic resumes on the caller (`exec::run`).
//! * A graph that ends in a stream runs in the background, kept by a thread
//!   of its own or of the user's scope; its [`Stream`] takes the items
//!   through an outflow whose chunks keep their capacity units until taken
//!   (`nodes::stream`, `protocol::outflow`). A [`Feed`] is a source whose
//!   queue producer threads fill while it runs, scheduled only when there
//!   is something to take (`nodes::feed`, `protocol::inlet`). Both reach the
//!   run through `exec::remote`, which borrows nothing.
//!
//! # Layout: folders by layer
//!
//! The modules are grouped in folders, one per layer, lowest first. A
//! module imports only from its own folder or from a lower layer, never
//! upward, and no two modules import each other; only `sync` names
//! `std::sync`, `std::thread`, crossbeam's channels and utilities and loom
//! (and only `data::queue` crossbeam-deque), so that under `cfg(loom)`
//! every primitive the protocols use is loom's. `tests/layers.rs` checks
//! these rules on the source: `cargo test -p para-runtime --test layers`.
//!
//! | layer | owns |
//! | --- | --- |
//! | `sync` | threads, atomics, locks, `Arc`, channels, `CachePadded`; loom's under `cfg(loom)` |
//! | `api` | what users implement and get back: [`Stage`] and its batch views, the [`combinators`], [`Split`] sources, [`NodeId`], the [`Report`] |
//! | `data` | the data structures items travel in: batches and their tags, inboxes, task queues, the reorder buffer |
//! | `protocol` | the protocols, each with its invariants and loom models: completion, claim slots, capacity parking, the crew of worker slots, a feed's queue, a stream's hand-off |
//! | `exec` | scheduling: the `Node` trait, the state of one run and its `'static` remote handle, the executor and the hand-off, statistics, the worker loop, starting and ending a run |
//! | `nodes` | the node kinds: sources, feeds, stages, folds, device stages, the `yield` node and its [`Stream`], and the typed outlets they emit through |
//! | `build` | what users call: [`Graph`], [`Port`], [`StreamPort`], [`Options`], and the planner that turns a built graph into per-node plans |
//! | `support` | what the `para` macros' expansions call (hidden): typed helpers whose bounds carry the compile errors, stage bodies, the `#[para::pipeline]` loop machinery |
//!
//! Each folder's module doc says what it owns and what it may import.

#![warn(missing_docs)]

mod api;
mod build;
mod data;
mod exec;
mod nodes;
mod protocol;
#[doc(hidden)]
pub mod support;
mod sync;

pub use api::combinators;
pub use api::id::NodeId;
pub use api::report::{NodeReport, Report};
pub use api::split::{IntoSplit, Split, VecIter, VecSplit};
pub use api::stage::{Input, Output, Stage, StageMode};
pub use build::graph::Graph;
pub use build::options::{Options, ProgressSwitch, DEFAULT_BATCH, DEFAULT_TIMED_BATCH};
pub use build::port::{Port, StreamPort};
pub use nodes::feed::{feed, Feed, Feeder, SendError, TrySendError};
pub use nodes::stream::Stream;
