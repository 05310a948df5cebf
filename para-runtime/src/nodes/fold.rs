//! The nodes of [`fold`](crate::combinators::fold), a parallel stage with
//! one accumulator per worker slot: [`FoldNode`], and [`FusedFoldNode`], a
//! per-item stage (`map`, `filter`, `filter_map`, `flat_map`, `inspect`)
//! run in one loop with the fold after it.
//!
//! A worker slot is held by at most one worker loop at a time (see
//! `protocol::crew`), so the accumulator of a slot is only ever touched by
//! one thread at a time: its lock is never contended (it is there to make
//! the sharing safe, as `SerialFn`'s is). Threads that are not workers (a
//! device lane running a downstream job inline, the caller) share one more
//! accumulator. When the fold's input is over (`Node::finish`, called once
//! by the thread that saw the last token), every accumulator that received
//! items is emitted in one batch, a new origin for ordered stages further
//! down (sequence 0).
//!
//! Capacity: the items a fold takes in leave the graph there (their units
//! are released per batch); the accumulators enter it when they are
//! emitted, one unit each.
//!
//! # Fusion
//!
//! Between a per-item stage and a fold, a batch would be written out in
//! full by the first and read back by the second: for a `flat_map` into
//! words and a counting fold, that hand-off cost about a quarter of the
//! whole loop's time (the words written to a buffer, then hashed, instead
//! of each hashed as it is split off). So `pipeline!` builds such a pair as
//! a [`FusedFoldNode`] in the first stage's place, which runs
//! `acc = op(acc, x)` for every `x` the stage's function yields, into the
//! fold's accumulators, with no batch in between; the fold's own node
//! ([`FoldNode`] without a body of its own) only emits the accumulators
//! when the input ends. Both stay nodes of the graph, with their labels,
//! kinds and counters (items in and out, batches); the time of the fused
//! loop is the first stage's, and the fold's own is next to none. A panic
//! in the loop may come from either closure: the failure message names
//! both stages (`Node::fused_with`). Telling them apart would take a mark
//! around every `op` call, which cost a trivial fold a third of its time.

use crate::api::id::NodeId;
use crate::data::batch::{Batch, Tag};
use crate::data::inbox::Inbox;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::nodes::outlets::{notify_delivery, take_outlets, Outlets, Wire};
use crate::sync::{lock, Arc, CachePadded, Mutex, OnceLock};

/// One accumulator's place: `None` until its thread folds an item.
type Slot<A> = CachePadded<Mutex<Option<A>>>;

/// The accumulators of one fold: one per worker slot, then one for threads
/// that are not workers. Shared by the fold's node and, when fused, the
/// node that folds into them.
pub(crate) struct Accumulators<A> {
    /// Sized when the run is planned (by whichever of the sharing nodes is
    /// prepared first).
    slots: OnceLock<Box<[Slot<A>]>>,
}

impl<A> Accumulators<A> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Accumulators {
            slots: OnceLock::new(),
        })
    }

    fn prepare(&self, workers: usize) {
        self.slots.get_or_init(|| {
            (0..=workers)
                .map(|_| CachePadded::new(Mutex::new(None)))
                .collect()
        });
    }

    fn slots(&self) -> &[Slot<A>] {
        self.slots
            .get()
            .expect("para internal error: a fold ran before it was prepared")
    }

    /// Runs `f` on the accumulator of the thread running `ex` (`init()` if
    /// it has none yet) and keeps what `f` returns as the new one.
    fn fold_into(&self, ex: &Executor<'_, '_>, init: impl FnOnce() -> A, f: impl FnOnce(A) -> A) {
        let slots = self.slots();
        let outsiders = slots.len() - 1;
        let index = ex.worker_index().unwrap_or(outsiders).min(outsiders);
        let mut slot = lock(&slots[index]);
        let acc = slot.take().unwrap_or_else(init);
        *slot = Some(f(acc));
    }

    /// Takes every accumulator that received items.
    fn take_all(&self) -> Vec<A> {
        self.slots()
            .iter()
            .filter_map(|slot| lock(slot).take())
            .collect()
    }
}

/// The node of a fold from `In` into accumulators `A`. `body` is its
/// initialiser and operation, or `None` when a [`FusedFoldNode`] folds
/// into its accumulators (its inbox then never receives a batch).
pub(crate) struct FoldNode<In, A, I, F> {
    id: NodeId,
    body: Option<(I, F)>,
    inbox: Arc<Inbox<In>>,
    accumulators: Arc<Accumulators<A>>,
    wire: Wire<A>,
    outlets: Outlets<A>,
    forward_empty: bool,
}

impl<In, A, I, F> FoldNode<In, A, I, F> {
    pub(crate) fn new(
        id: NodeId,
        body: Option<(I, F)>,
        accumulators: Arc<Accumulators<A>>,
        inbox: Arc<Inbox<In>>,
        wire: Wire<A>,
    ) -> Self {
        FoldNode {
            id,
            body,
            inbox,
            accumulators,
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
        self.accumulators.prepare(plan.workers);
    }

    fn run(&self, ex: &mut Executor<'_, '_>, _slot: u32) {
        let (init, op) = self
            .body
            .as_ref()
            .expect("para internal error: a batch reached a fused fold");
        let batch = ex.take_batch(&self.inbox);
        let started = ex.timer(self.id);
        let Batch {
            mut items, weight, ..
        } = batch;
        let n = items.len();
        self.accumulators
            .fold_into(ex, init, |acc| fold_batch(op, acc, &mut items));
        self.inbox.recycle(ex.worker_index(), items);
        ex.release(weight);
        ex.record(self.id, (n, 0), weight, started);
        ex.complete(self.id);
    }

    fn on_delivered(&self, ex: &mut Executor<'_, '_>) {
        notify_delivery(ex, self.id, None);
    }

    fn takes_handoff(&self) -> bool {
        true
    }

    fn finish(&self, ex: &mut Executor<'_, '_>) {
        let accumulators = self.accumulators.take_all();
        let k = accumulators.len();
        if k == 0 && !self.forward_empty {
            return;
        }
        ex.reserve_extra(k);
        ex.record(self.id, (0, k), 0, ex.timer(self.id));
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

/// A per-item stage fused with the fold after it (see the module docs):
/// the node of the stage, `id`, which folds everything `pre` yields for its
/// items straight into the accumulators of the fold node `fold`.
pub(crate) struct FusedFoldNode<In, P, A, I, F> {
    id: NodeId,
    fold: NodeId,
    pre: P,
    init: I,
    op: F,
    inbox: Arc<Inbox<In>>,
    accumulators: Arc<Accumulators<A>>,
}

impl<In, P, A, I, F> FusedFoldNode<In, P, A, I, F> {
    pub(crate) fn new(
        (id, fold): (NodeId, NodeId),
        pre: P,
        (init, op): (I, F),
        accumulators: Arc<Accumulators<A>>,
        inbox: Arc<Inbox<In>>,
    ) -> Self {
        FusedFoldNode {
            id,
            fold,
            pre,
            init,
            op,
            inbox,
            accumulators,
        }
    }
}

impl<In, P, J, A, I, F> Node for FusedFoldNode<In, P, A, I, F>
where
    In: Send,
    P: Fn(In) -> J + Send + Sync,
    J: IntoIterator,
    A: Send,
    I: Fn() -> A + Send + Sync,
    F: Fn(A, J::Item) -> A + Send + Sync,
{
    fn prepare(&mut self, plan: &NodePlan) {
        self.accumulators.prepare(plan.workers);
    }

    fn run(&self, ex: &mut Executor<'_, '_>, _slot: u32) {
        let batch = ex.take_batch(&self.inbox);
        let started = ex.timer(self.id);
        let Batch {
            mut items, weight, ..
        } = batch;
        let n = items.len();
        let mut out = 0;
        self.accumulators.fold_into(ex, &self.init, |acc| {
            fused_batch(&self.pre, &self.op, acc, &mut items, &mut out)
        });
        self.inbox.recycle(ex.worker_index(), items);
        ex.release(weight);
        ex.record(self.id, (n, out), weight, started);
        ex.record(self.fold, (out, 0), weight, ex.timer(self.fold));
        ex.complete(self.id);
    }

    fn on_delivered(&self, ex: &mut Executor<'_, '_>) {
        notify_delivery(ex, self.id, None);
    }

    fn takes_handoff(&self) -> bool {
        true
    }

    fn fused_with(&self) -> Option<NodeId> {
        Some(self.fold)
    }
}

/// Folds everything `pre` yields for the items of a batch into `acc`,
/// counting the values in `out`. Out of line for the reason [`fold_batch`]
/// is.
#[inline(never)]
fn fused_batch<In, J: IntoIterator, A>(
    pre: &impl Fn(In) -> J,
    op: &impl Fn(A, J::Item) -> A,
    mut acc: A,
    items: &mut Vec<In>,
    out: &mut usize,
) -> A {
    let mut count = 0;
    for item in items.drain(..) {
        for value in pre(item) {
            count += 1;
            acc = op(acc, value);
        }
    }
    *out = count;
    acc
}
