//! The data structures items travel in: batches and their ordering tags,
//! per-node inboxes, the task queues and the reorder buffer of ordered
//! stages.
//!
//! Owns: memory layout and queueing, no scheduling decisions. May import:
//! `api`, `sync`.

pub(crate) mod batch;
pub(crate) mod inbox;
pub(crate) mod order;
pub(crate) mod queue;
