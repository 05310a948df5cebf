//! How a run executes: the [`Node`](node::Node) trait the scheduler drives,
//! the shared state of one run, the executor each thread acts through (with
//! the direct hand-off and its `unsafe`), per-node statistics, the worker
//! loop and the start and end of a run.
//!
//! Owns: scheduling. May import: `protocol`, `data`, `api`, `sync`. The
//! concrete node kinds live in `nodes` and import this layer, never the
//! other way round: `exec` only sees `dyn Node`.

pub(crate) mod executor;
pub(crate) mod handoff;
pub(crate) mod node;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod scheduler;
pub(crate) mod stats;
pub(crate) mod task;
pub(crate) mod worker;
