//! How a run executes. The concrete node kinds live in `nodes` and import
//! this layer, never the other way round: `exec` only sees `dyn Node`.
//!
//! * `node`: the [`Node`](node::Node) trait the scheduler drives, once per
//!   [`Task`](task::Task) (`task`: a node id and a claim slot).
//! * `plan`: what the planner decided about each node, as nodes read it.
//! * `run`: the state one run shares between its threads, and the one place
//!   a panic is caught and turned into the run's failure.
//! * `executor`: one thread's handle on the run, which every node acts
//!   through (schedule, deliver, complete, reserve and release capacity,
//!   record statistics); `handoff` is its direct hand-off of a batch to a
//!   stage run inline, with the crate's one `unsafe` block outside the data
//!   structures and its invariant.
//! * `stats` (per-node counters and clock sampling) and `sizing` (how many
//!   items a source yields per batch).
//! * `trace`: the timeline trace of a run (`Options::trace`), recorded per
//!   thread and written when the run ends; `progress` (the `progress`
//!   feature): the live progress line (`Options::progress`).
//! * `remote`: a `'static` handle on a run for threads outside it (a
//!   stream's consumer, a feed's producers): schedule a source, reserve and
//!   release capacity, cancel.
//! * `worker`: the worker loop (find a task, run it, leave when idle);
//!   `scheduler`: start a run's lanes and worker jobs, keep the run going
//!   until it ends (on the caller, or on a stream's keeper thread through
//!   `Launch`), build the report.
//!
//! May import: `protocol`, `data`, `api`, `sync`.

pub(crate) mod executor;
pub(crate) mod handoff;
pub(crate) mod node;
pub(crate) mod plan;
#[cfg(feature = "progress")]
pub(crate) mod progress;
pub(crate) mod remote;
pub(crate) mod run;
pub(crate) mod scheduler;
pub(crate) mod sizing;
pub(crate) mod stats;
pub(crate) mod task;
pub(crate) mod trace;
pub(crate) mod worker;
