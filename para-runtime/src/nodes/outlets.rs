//! The typed edges between nodes: [`Outlets`] (where a node's output
//! batches go, with fan-out copies), the [`Wire`] a builder port adds edges
//! through, and the claim-slot helpers every limited node drains its inbox
//! with.

use crate::api::id::NodeId;
use crate::data::batch::{Batch, Tag, PATH_DIGIT_BITS};
use crate::data::inbox::Inbox;
use crate::exec::executor::Executor;
use crate::exec::task::Task;
use crate::nodes::stream::Flow;
use crate::protocol::claim::{Notify, Slots};
use crate::sync::{lock, Arc, Mutex};

/// How many batches a serial stage's holder drains before it gives its worker
/// back to the scheduler (so a busy sink cannot starve higher priorities).
const DRAIN_BUDGET: usize = 64;

/// The outgoing edges of a node while the graph is being built: shared by
/// the node and every [`Port`](crate::Port) naming it, so a port can add
/// edges with their types known. The node moves the edges out when the run
/// starts (`Node::prepare`), after which nothing touches the wire.
pub(crate) type Wire<T> = Arc<Mutex<Outlets<T>>>;

/// Moves the finished edges out of a wire.
pub(crate) fn take_outlets<T>(wire: &Wire<T>) -> Outlets<T> {
    std::mem::take(&mut *lock(wire))
}

/// One edge leaving a node: the downstream node and its inbox.
pub(crate) struct Edge<T> {
    pub(crate) target: NodeId,
    pub(crate) inbox: Arc<Inbox<T>>,
}

/// Copies a batch for one more fan-out branch (into a spare buffer).
pub(crate) type CloneBatch<T> = fn(&mut Vec<T>, &[T]);

/// The outgoing edges of a node emitting `T`.
pub(crate) struct Outlets<T> {
    pub(crate) edges: Vec<Edge<T>>,
    /// Set by a fan-out (which requires `T: Clone`); used when there are
    /// several edges, to give every edge but the last a copy. It copies a
    /// whole batch (`Vec::extend_from_slice`): one indirect call per batch,
    /// and a `memcpy` for `Copy` items, instead of an indirect call per item.
    pub(crate) clone: Option<CloneBatch<T>>,
    /// Set on the `yield` node, which has no edges: its batches go to the
    /// stream's consumer, keeping their capacity units until it takes them.
    pub(crate) stream: Option<Arc<Flow<T>>>,
}

impl<T> Default for Outlets<T> {
    fn default() -> Self {
        Outlets {
            edges: Vec::new(),
            clone: None,
            stream: None,
        }
    }
}

impl<T: Send> Outlets<T> {
    /// An empty buffer for this node's next output batch: a spare one from
    /// the inbox the batch itself will go to (the last edge's; see
    /// `inbox`) or from the stream it goes to, or a new `Vec` if there is
    /// none or no edge.
    pub(crate) fn spare(&self, ex: &Executor<'_, '_>) -> Vec<T> {
        match (self.edges.last(), &self.stream) {
            (Some(edge), _) => edge.inbox.spare(ex.worker_index()),
            (None, Some(stream)) => stream.spare(),
            (None, None) => Vec::new(),
        }
    }

    /// Sends a node's output batch along every edge. `forward_empty` keeps
    /// empty batches flowing to ordered stages that count them.
    pub(crate) fn emit(
        &self,
        ex: &mut Executor<'_, '_>,
        items: Vec<T>,
        tag: Tag,
        weight: usize,
        forward_empty: bool,
    ) {
        if let Some(stream) = &self.stream {
            if items.is_empty() {
                ex.release(weight);
            } else {
                stream.push(items, weight);
            }
            return;
        }
        let n = self.edges.len();
        if n == 0 || (items.is_empty() && !forward_empty) {
            ex.release(weight);
            return;
        }
        if n > 1 {
            ex.reserve_extra(weight * (n - 1));
        }
        let depth = path_depth(tag.path);
        let (last, rest) = self.edges.split_last().expect("n > 0");
        for (branch, edge) in rest.iter().enumerate() {
            let clone = self
                .clone
                .expect("para internal error: a fan-out without a clone function");
            let mut copied = edge.inbox.spare(ex.worker_index());
            clone(&mut copied, &items);
            let copy = Batch {
                items: copied,
                tag: Tag {
                    path: Tag::branch_path(tag.path, depth, branch),
                    ..tag.clone()
                },
                weight,
            };
            ex.deliver(edge.target, &edge.inbox, copy);
        }
        let path = if n > 1 {
            Tag::branch_path(tag.path, depth, n - 1)
        } else {
            tag.path
        };
        let batch = Batch {
            items,
            tag: Tag { path, ..tag },
            weight,
        };
        ex.deliver(last.target, &last.inbox, batch);
    }
}

/// How many fan-out levels a path already encodes.
fn path_depth(path: u64) -> u32 {
    if path == 0 {
        0
    } else {
        (u64::BITS - path.trailing_zeros()).div_ceil(PATH_DIGIT_BITS)
    }
}

/// Drains the inbox of a limited stage while holding claim slot `slot`,
/// handing each batch to `each` (first the batch handed over with the
/// slot, if any: see `Executor::deliver`). Gives the worker back after
/// [`DRAIN_BUDGET`] batches, rescheduling the slot.
pub(crate) fn hold_slot<T>(
    ex: &mut Executor<'_, '_>,
    id: NodeId,
    slots: &Slots,
    slot: usize,
    inbox: &Inbox<T>,
    mut each: impl FnMut(&mut Executor<'_, '_>, Batch<T>),
) {
    let mut budget = DRAIN_BUDGET;
    // A batch handed over by `Executor::deliver`, which claimed this slot
    // for it, comes first.
    let mut handed = ex.handed_batch(inbox);
    loop {
        while let Some(batch) = handed.take().or_else(|| inbox.pop()) {
            each(ex, batch);
            // Saturating: the budget may run out while the inbox is empty,
            // and more batches arrive before the slot is released.
            budget = budget.saturating_sub(1);
            if budget == 0 && !inbox.is_empty() {
                slots.yield_slot(slot);
                ex.schedule(Task::new(id, slot));
                return;
            }
            if ex.cancelled() {
                return;
            }
        }
        if slots.release(slot) {
            return;
        }
    }
}

/// Schedules the work a delivery to a (possibly limited) node calls for.
pub(crate) fn notify_delivery(ex: &mut Executor<'_, '_>, id: NodeId, slots: Option<&Slots>) {
    match slots {
        None => ex.run_or_schedule(Task::unclaimed(id)),
        Some(slots) => {
            if let Notify::Schedule(slot) = slots.notify() {
                ex.run_or_schedule(Task::new(id, slot));
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn path_depth_counts_digits() {
        assert_eq!(path_depth(0), 0);
        let p = Tag::branch_path(0, 0, 0);
        assert_eq!(path_depth(p), 1);
        let p = Tag::branch_path(p, 1, 254);
        assert_eq!(path_depth(p), 2);
    }
}
