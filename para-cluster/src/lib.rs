//! # para-cluster: Para's pipelines on a timely-dataflow cluster
//!
//! The same `pipeline!` that runs on the cores of one machine runs on
//! [timely-dataflow](https://github.com/TimelyDataflow/timely-dataflow)
//! workers across processes and machines: write
//! `pipeline!(cluster = cx, ...)` inside the closure given to
//! [`execute_from_args`] (re-exported as `para::cluster` behind `para`'s
//! `cluster` feature). Every process runs the same program; timely's flags
//! choose the shape: `-w` workers per process, `-n` processes, `-p` this
//! process's index, `-h` a hostfile of `host:port` lines.
//!
//! * `#[split]` sources are divided among all workers of all processes (in
//!   chunks of `batch` items, dealt in turn); any other source runs on
//!   worker 0 of process 0 and its items are spread round-robin.
//! * Maps, filters, flat-maps, inspect, `fold` (one accumulator per
//!   worker, emitted when the input ends) and `#[parallel]` sinks run where
//!   their input is; sinks, `#[serial]`, `#[ordered]`, `take`,
//!   `take_while` and `batch` on worker 0 of process 0, so a sink's captured
//!   state lives there, and only process 0's result is `Some`.
//! * `#[ordered]` keeps source order, also through fan-out and fan-in: each
//!   source batch is one timely timestamp, and an ordered stage releases a
//!   timestamp when timely's frontier has passed it (see [`graph`]).
//! * `capacity`: a source runs at most `capacity / batch` batches ahead of
//!   what the sinks have completed, as timely's probe reports it.
//! * Items that cross workers implement `serde::Serialize +
//!   DeserializeOwned` and `Clone` ([`Item`]); a missing impl is a compile
//!   error naming the type.
//! * A stage that panics on any process ends the run on every process:
//!   `execute` returns `Err` naming the stage everywhere. A peer that dies
//!   makes the others fail as soon as timely notices the closed
//!   connection; a peer that never connects is an error after
//!   [`Config::connect_timeout`].
//!
//! Stages may borrow the closure's locals, as on one machine: the run
//! steps the worker until the dataflow is complete, and drops every stage
//! body before `pipeline!` returns, also when it panics (timely's operators
//! need `'static` closures; the bodies are kept in slots that the run
//! empties: see `ClusterGraph::keep_kernel`).
//!
//! ```
//! use para::prelude::*;
//! let result = para::cluster::execute(para::cluster::Config::process(2), |cx| {
//!     let mut out = Vec::new();
//!     pipeline!(cluster = cx, batch = 8,
//!         0..100u64 => (|x| x * 2, filter(|x| x % 3 == 0)) => #[ordered] |x| out.push(x));
//!     out
//! });
//! let out = result.unwrap().unwrap();
//! assert_eq!(out.len(), 100 + 34);
//! assert_eq!(out[..4], [0, 0, 2, 4]); // 0 through both branches, then 1 * 2, then 2 * 2
//! ```

mod bodies;
pub mod exec;
pub mod graph;
pub mod run;
mod shared;

pub use exec::{execute, execute_from_args, Cluster, Config, Error};
pub use graph::{ClusterGraph, ClusterNode, ClusterPort, Item, Key, Options, Time};
pub use run::run;
pub use timely;

/// What `pipeline!(cluster = cx, ...)` expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bodies::{
        map_body, ordered_body, serial_body, FilterCall, FilterMapCall, FlatMapCall, FnBody,
        FoldCall, InspectCall, ParallelBody, SerialBody, StageBody, TakeWhileCall,
    };
    pub use crate::graph::{ClusterGraph, ClusterPort, Options};
    pub use crate::run::run as run_graph;
}
