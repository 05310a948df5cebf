//! [`Task`]: what a worker takes from a deque and runs.

use crate::api::id::NodeId;

/// "No claim slot": the task of an unlimited parallel stage or a source.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// What a worker runs: a node and the claim slot it runs under (one word:
/// tasks are what the deques hold). The batch is taken from the node's
/// inbox when the task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    pub(crate) node: NodeId,
    pub(crate) slot: u32,
}

impl Task {
    /// The task of node `node` under claim slot `slot`.
    pub(crate) fn new(node: NodeId, slot: usize) -> Self {
        Task {
            node,
            slot: slot as u32,
        }
    }

    /// The task of a node that takes no claim slot (a source, an
    /// unlimited parallel stage).
    pub(crate) fn unclaimed(node: NodeId) -> Self {
        Task {
            node,
            slot: NO_SLOT,
        }
    }
}
