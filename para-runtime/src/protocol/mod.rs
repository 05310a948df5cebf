//! The protocols a run is made of, each a small state machine with its
//! invariants in its module doc and its loom models beside it: node
//! completion (`completion`), claim slots of serial stages (`claim`), the
//! capacity bound and parked sources (`park`), the crew of worker slots
//! that come and go on the pool (`crew`), a feed's queue and its wake-ups
//! (`inlet`), and the hand-off of a stream's items to its consumer
//! (`outflow`).
//!
//! Owns: atomics-level correctness. May import: `data`, `api`, `sync`.

pub(crate) mod claim;
pub(crate) mod completion;
pub(crate) mod crew;
pub(crate) mod inlet;
pub(crate) mod outflow;
pub(crate) mod park;
