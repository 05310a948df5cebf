//! [`FoldNode`]: the node of [`fold`](crate::combinators::fold), a parallel
//! stage with one accumulator per worker slot.
//!
//! A worker slot is held by at most one worker loop at a time (see
//! `protocol::crew`), so the accumulator of a slot is only ever touched by
//! one thread at a time: its lock is never contended (it is there to make
//! the sharing safe, as `SerialFn`'s is). Threads that are not workers (a
//! device lane running a downstream job inline, the caller) share one more
//! accumulator. When the node's input is over (`Node::finish`, called once
//! by the thread that saw the last token), every accumulator that received
//! items is emitted in one batch, a new origin for ordered stages further
//! down (sequence 0).
//!
//! Capacity: the items a fold takes in leave the graph there (their units
//! are released per batch); the accumulators enter it when they are
//! emitted, one unit each.

use crate::api::id::NodeId;
use crate::data::batch::{Batch, Tag};
use crate::data::inbox::Inbox;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::nodes::outlets::{notify_delivery, take_outlets, Outlets, Wire};
use crate::sync::{lock, Arc, CachePadded, Mutex};

/// The node of a fold from `In` into accumulators `A`.
pub(crate) struct FoldNode<In, A, I, F> {
    id: NodeId,
    init: I,
    op: F,
    inbox: Arc<Inbox<In>>,
    /// One per worker slot, then one for threads that are not workers
    /// (sized when the run is planned).
    accumulators: Box<[CachePadded<Mutex<Option<A>>>]>,
    wire: Wire<A>,
    outlets: Outlets<A>,
    forward_empty: bool,
}

impl<In, A, I, F> FoldNode<In, A, I, F> {
    pub(crate) fn new(id: NodeId, init: I, op: F, inbox: Arc<Inbox<In>>, wire: Wire<A>) -> Self {
        FoldNode {
            id,
            init,
            op,
            inbox,
            accumulators: Box::new([]),
            wire,
            outlets: Outlets::default(),
            forward_empty: false,
        }
    }
}

impl<In, A, I, F> Node for FoldNode<In, A, I, F>
where
    In: Send,
    A: Send,
    I: Fn() -> A + Send + Sync,
    F: Fn(A, In) -> A + Send + Sync,
{
    fn prepare(&mut self, plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
        self.forward_empty = plan.forward_empty;
        self.accumulators = (0..=plan.workers)
            .map(|_| CachePadded::new(Mutex::new(None)))
            .collect();
    }

    fn run(&self, ex: &mut Executor<'_, '_>, _slot: u32) {
        let batch = ex.take_batch(&self.inbox);
        let started = ex.timer(self.id);
        let Batch {
            mut items, weight, ..
        } = batch;
        let n = items.len();
        let outsiders = self.accumulators.len() - 1;
        let index = ex.worker_index().unwrap_or(outsiders).min(outsiders);
        {
            let mut slot = lock(&self.accumulators[index]);
            let acc = slot.take().unwrap_or_else(&self.init);
            *slot = Some(fold_batch(&self.op, acc, &mut items));
        }
        self.inbox.recycle(ex.worker_index(), items);
        ex.release(weight);
        ex.record(self.id, n, 0, started);
        ex.complete(self.id);
    }

    fn on_delivered(&self, ex: &mut Executor<'_, '_>) {
        notify_delivery(ex, self.id, None);
    }

    fn takes_handoff(&self) -> bool {
        true
    }

    fn finish(&self, ex: &mut Executor<'_, '_>) {
        let accumulators: Vec<A> = self
            .accumulators
            .iter()
            .filter_map(|slot| lock(slot).take())
            .collect();
        let k = accumulators.len();
        if k == 0 && !self.forward_empty {
            return;
        }
        ex.reserve_extra(k);
        ex.record(self.id, 0, k, ex.timer(self.id));
        self.outlets
            .emit(ex, accumulators, Tag::origin(0, k), k, self.forward_empty);
    }
}

/// Folds a batch into `acc`. Out of line on purpose: in its own frame the
/// accumulator stays in place across the loop, where inlined into `run`
/// (with the lock guard and the batch bookkeeping around it) it was moved
/// in and out for every item, which costs a large accumulator (a
/// `HashMap`) several nanoseconds per item.
#[inline(never)]
fn fold_batch<In, A>(op: &impl Fn(A, In) -> A, acc: A, items: &mut Vec<In>) -> A {
    items.drain(..).fold(acc, op)
}
