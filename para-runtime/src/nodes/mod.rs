//! The node kinds, each implementing `exec::node::Node`:
//!
//! * `stage`: runs a `Stage` (maps, serial and ordered stages, sinks,
//!   combinators);
//! * `source`: one source node over a supply, a serial iterator or a
//!   splittable (`#[split]`) source;
//! * `device`: `#[gpu]` stages, batches run on dedicated lanes;
//! * `feed`: a source fed by producer threads while the run goes on
//!   ([`feed`](crate::feed), `Feeder`, `Feed`), never blocking a worker;
//! * `fold`: `fold(init, op)`, a parallel stage with one accumulator per
//!   worker slot, and a per-item stage fused with the fold after it (one
//!   loop, no batch in between);
//! * `fused_map`: the second map of a pair of maps run as one loop by
//!   the first's node (a `StageNode`), so no batch is written in between;
//! * `stream`: the `yield` node and the [`Stream`](crate::Stream) its
//!   consumer iterates, with the soundness argument of background runs;
//! * `outlets`: the typed edges every node emits through, and the
//!   claim-slot helpers limited nodes drain their inbox with.
//!
//! Owns: what each kind of node does with a task. May import: `exec`,
//! `protocol`, `data`, `api`, `sync`.

pub(crate) mod device;
pub(crate) mod feed;
pub(crate) mod fold;
pub(crate) mod fused_map;
pub(crate) mod outlets;
pub(crate) mod source;
pub(crate) mod stage;
pub(crate) mod stream;
