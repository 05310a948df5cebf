//! Nodes: the type-erased face of a stage that the scheduler drives, the
//! typed edges between nodes ([`Outlets`]), and the node that runs a
//! [`Stage`].
//!
//! The scheduler only sees `dyn Node` and calls it once per *task* (a node id
//! plus a batch taken from that node's inbox), so dynamic dispatch is paid per
//! batch; inside, every node is monomorphic over its item types and closure.

use crate::batch::{Batch, Tag};
use crate::claim::{Notify, Slots};
use crate::inbox::Inbox;
use crate::order::ReorderBuffer;
use crate::run::{Cx, NodePlan, Task, NO_SLOT};
use crate::stage::{Input, Output, Stage, StageMode};
use crate::sync::{lock, Arc, Mutex};
use std::cell::Cell;

/// How many batches a serial stage's holder drains before it gives its worker
/// back to the scheduler (so a busy sink cannot starve higher priorities).
const DRAIN_BUDGET: usize = 64;

/// What the scheduler can do with a node.
pub(crate) trait Node: Send + Sync {
    /// Sets up run-time state from the analysed graph (slots, reorder buffer).
    fn prepare(&mut self, plan: &NodePlan);
    /// Schedules the first task of a source; other nodes do nothing.
    fn start(&self, cx: &mut Cx<'_, '_>) {
        let _ = cx;
    }
    /// Runs one task: `slot` is the claim slot of a limited stage, or `NO_SLOT`.
    fn run(&self, cx: &mut Cx<'_, '_>, slot: u32);
    /// A batch was delivered to this node's inbox: schedule what must run.
    fn on_delivered(&self, cx: &mut Cx<'_, '_>);
    /// Whether `run(cx, NO_SLOT)` takes a batch handed over directly
    /// ([`Cx::take_handoff`]) before it looks in the inbox: an unlimited
    /// parallel stage, which can always run a batch at once.
    fn takes_handoff(&self) -> bool {
        false
    }
    /// All input has been consumed: emit whatever the stage still holds.
    fn finish(&self, cx: &mut Cx<'_, '_>) {
        let _ = cx;
    }
    /// Every worker is idle: emit partial state (a partial group or device
    /// batch). Returns whether anything was emitted or taken in: either may
    /// leave new partial state that needs another flush once every worker is
    /// idle again, which the sleep protocol only reports if told.
    fn flush_stalled(&self, cx: &mut Cx<'_, '_>) -> bool {
        let _ = cx;
        false
    }
    /// The body of one device lane (device nodes only).
    fn lane(&self, cx: &mut Cx<'_, '_>, shutdown: &crossbeam_channel::Receiver<()>) {
        let _ = (cx, shutdown);
    }
}

/// The outgoing edges of a node while the graph is being built: shared by
/// the node and every [`Port`](crate::Port) naming it, so a port can add
/// edges with their types known. The node moves the edges out when the run
/// starts ([`Node::prepare`]), after which nothing touches the wire.
pub(crate) type Wire<T> = Arc<Mutex<Outlets<T>>>;

/// Moves the finished edges out of a wire.
pub(crate) fn take_outlets<T>(wire: &Wire<T>) -> Outlets<T> {
    std::mem::take(&mut *lock(wire))
}

/// One edge leaving a node: the downstream node and its inbox.
pub(crate) struct Edge<T> {
    pub(crate) target: usize,
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
}

impl<T> Default for Outlets<T> {
    fn default() -> Self {
        Outlets {
            edges: Vec::new(),
            clone: None,
        }
    }
}

impl<T: Send> Outlets<T> {
    /// An empty buffer for this node's next output batch: a spare one from
    /// the inbox the batch itself will go to (the last edge's; see
    /// `inbox`), or a new `Vec` if there is none or no edge.
    pub(crate) fn spare(&self, cx: &Cx<'_, '_>) -> Vec<T> {
        match self.edges.last() {
            Some(edge) => edge.inbox.spare(cx.worker_index()),
            None => Vec::new(),
        }
    }

    /// Sends a node's output batch along every edge. `forward_empty` keeps
    /// empty batches flowing to ordered stages that count them.
    pub(crate) fn emit(
        &self,
        cx: &mut Cx<'_, '_>,
        items: Vec<T>,
        tag: Tag,
        weight: usize,
        forward_empty: bool,
    ) {
        let n = self.edges.len();
        if n == 0 || (items.is_empty() && !forward_empty) {
            cx.release(weight);
            return;
        }
        if n > 1 {
            cx.reserve_extra(weight * (n - 1));
        }
        let depth = path_depth(tag.path);
        let (last, rest) = self.edges.split_last().expect("n > 0");
        for (branch, edge) in rest.iter().enumerate() {
            let clone = self
                .clone
                .expect("para internal error: a fan-out without a clone function");
            let mut copied = edge.inbox.spare(cx.worker_index());
            clone(&mut copied, &items);
            let copy = Batch {
                items: copied,
                tag: Tag {
                    path: Tag::branch_path(tag.path, depth, branch),
                    ..tag.clone()
                },
                weight,
            };
            cx.deliver(edge.target, &edge.inbox, copy);
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
        cx.deliver(last.target, &last.inbox, batch);
    }
}

/// How many fan-out levels a path already encodes.
fn path_depth(path: u64) -> u32 {
    if path == 0 {
        0
    } else {
        (u64::BITS - path.trailing_zeros()).div_ceil(crate::batch::PATH_DIGIT_BITS)
    }
}

/// Drains the inbox of a limited stage while holding claim slot `slot`,
/// handing each batch to `each`. Gives the worker back after
/// [`DRAIN_BUDGET`] batches, rescheduling the slot.
pub(crate) fn hold_slot<T>(
    cx: &mut Cx<'_, '_>,
    id: usize,
    slots: &Slots,
    slot: usize,
    inbox: &Inbox<T>,
    mut each: impl FnMut(&mut Cx<'_, '_>, Batch<T>),
) {
    let mut budget = DRAIN_BUDGET;
    loop {
        while let Some(batch) = inbox.pop() {
            each(cx, batch);
            // Saturating: the budget may run out while the inbox is empty,
            // and more batches arrive before the slot is released.
            budget = budget.saturating_sub(1);
            if budget == 0 && !inbox.is_empty() {
                slots.yield_slot(slot);
                cx.schedule(Task::new(id, slot));
                return;
            }
            if cx.cancelled() {
                return;
            }
        }
        if slots.release(slot) {
            return;
        }
    }
}

/// Schedules the work a delivery to a (possibly limited) node calls for.
pub(crate) fn notify_delivery(cx: &mut Cx<'_, '_>, id: usize, slots: Option<&Slots>) {
    match slots {
        None => cx.run_or_schedule(Task::new(id, NO_SLOT as usize)),
        Some(slots) => {
            if let Notify::Schedule(slot) = slots.notify() {
                cx.run_or_schedule(Task::new(id, slot));
            }
        }
    }
}

/// The state a serial stage keeps between batches, touched only by the
/// holder of its claim slot (so the lock around it is never contended).
struct SerialState<T> {
    reorder: Option<ReorderBuffer<T>>,
    /// Next sequence number a regrouping stage gives its output batches.
    next_seq: u64,
}

/// A node running a [`Stage`]: maps, serial and ordered stages, sinks and all
/// combinators.
pub(crate) struct StageNode<In, S: Stage<In>> {
    id: usize,
    stage: S,
    mode: StageMode,
    inbox: Arc<Inbox<In>>,
    wire: Wire<S::Out>,
    outlets: Outlets<S::Out>,
    slots: Option<Slots>,
    serial: Mutex<SerialState<In>>,
    forward_empty: bool,
    track_origin: bool,
}

impl<In, S: Stage<In>> StageNode<In, S> {
    pub(crate) fn new(id: usize, stage: S, inbox: Arc<Inbox<In>>, wire: Wire<S::Out>) -> Self {
        let mode = stage.mode();
        StageNode {
            id,
            stage,
            mode,
            inbox,
            wire,
            outlets: Outlets::default(),
            slots: None,
            serial: Mutex::new(SerialState {
                reorder: None,
                next_seq: 0,
            }),
            forward_empty: false,
            track_origin: false,
        }
    }
}

impl<In: Send, S: Stage<In>> StageNode<In, S> {
    /// Runs the stage on one batch and emits the result.
    fn process(&self, cx: &mut Cx<'_, '_>, batch: Batch<In>, next_seq: Option<&mut u64>) {
        let started = cx.timer(self.id);
        let Batch {
            mut items,
            tag,
            weight,
        } = batch;
        let in_len = items.len();
        let current = Cell::new(0);
        let mut out_items = self.outlets.spare(cx);
        let mut origins = self.track_origin.then(Vec::new);
        let stop = {
            let mut input = Input::new(&mut items, &current);
            let mut output = Output::new(
                &mut out_items,
                origins.as_mut(),
                tag.origin.as_deref(),
                &current,
            );
            self.stage.process_batch(&mut input, &mut output);
            output.stop_requested()
        };
        self.inbox.recycle(cx.worker_index(), items);
        if stop {
            cx.stop_sources(self.id);
        }
        let out_len = out_items.len();
        // Recorded before emitting: the emit may run downstream stages
        // inline (`Cx::run_or_schedule`), which is not this stage's time.
        cx.record(self.id, in_len, out_len, started);
        match next_seq {
            // A regrouping stage starts new batches of its own: its input
            // leaves the capacity count, its output enters it.
            Some(seq) => {
                cx.release(weight);
                self.emit_regrouped(cx, out_items, seq);
            }
            None => {
                let tag = Tag {
                    origin: origins,
                    ..tag
                };
                self.outlets
                    .emit(cx, out_items, tag, weight, self.forward_empty);
            }
        }
    }

    fn emit_regrouped(&self, cx: &mut Cx<'_, '_>, items: Vec<S::Out>, next_seq: &mut u64) {
        if items.is_empty() {
            return;
        }
        let len = items.len();
        cx.reserve_extra(len);
        let tag = Tag::origin(*next_seq, len);
        *next_seq += 1;
        self.outlets.emit(cx, items, tag, len, self.forward_empty);
    }

    /// Takes one batch from the inbox as the holder of a serial slot.
    /// Returns how many input batches are done; the caller completes them
    /// once it no longer holds the state (completing may finish the node,
    /// which takes the same lock).
    fn serial_batch(
        &self,
        cx: &mut Cx<'_, '_>,
        state: &mut SerialState<In>,
        batch: Batch<In>,
    ) -> usize {
        let regroup = self.mode == StageMode::Regroup;
        let Some(reorder) = state.reorder.as_mut() else {
            self.process(cx, batch, regroup.then_some(&mut state.next_seq));
            return 1;
        };
        reorder.insert(batch);
        let mut done = 0;
        while let Some((merged, consumed)) = state
            .reorder
            .as_mut()
            .expect("ordered")
            .pop_ready(self.track_origin)
        {
            self.process(cx, merged, regroup.then_some(&mut state.next_seq));
            done += consumed;
        }
        done
    }

    /// Holds claim slot `slot` of a serial stage: drains the inbox, then
    /// completes the batches it processed. Returns how many batches it took
    /// from the inbox.
    fn hold_serial(&self, cx: &mut Cx<'_, '_>, slots: &Slots, slot: usize) -> usize {
        let mut done = 0;
        let mut taken = 0;
        {
            let mut state = lock(&self.serial);
            hold_slot(cx, self.id, slots, slot, &self.inbox, |cx, batch| {
                taken += 1;
                done += self.serial_batch(cx, &mut state, batch)
            });
        }
        for _ in 0..done {
            cx.complete(self.id);
        }
        taken
    }

    fn flush_regroup(&self, cx: &mut Cx<'_, '_>) -> bool {
        let current = Cell::new(0);
        let mut out_items = Vec::new();
        {
            let mut output = Output::new(&mut out_items, None, None, &current);
            self.stage.flush(&mut output);
        }
        let emitted = !out_items.is_empty();
        let mut state = lock(&self.serial);
        self.emit_regrouped(cx, out_items, &mut state.next_seq);
        emitted
    }
}

impl<In: Send, S: Stage<In>> Node for StageNode<In, S> {
    fn prepare(&mut self, plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
        self.forward_empty = plan.forward_empty;
        self.track_origin = plan.track_origin;
        let limit = if self.mode.is_serial() {
            1
        } else {
            plan.replicate.unwrap_or(0)
        };
        self.slots = (limit > 0).then(|| Slots::new(limit));
        if plan.ordered_input {
            lock(&self.serial).reorder = Some(ReorderBuffer::new(plan.paths));
        }
    }

    fn run(&self, cx: &mut Cx<'_, '_>, slot: u32) {
        let Some(slots) = self.slots.as_ref() else {
            let batch = match cx.take_handoff(&self.inbox) {
                Some(batch) => batch,
                None => self
                    .inbox
                    .pop()
                    .expect("para internal error: a task without a batch"),
            };
            self.process(cx, batch, None);
            cx.complete(self.id);
            return;
        };
        let slot = slot as usize;
        slots.start(slot);
        if self.mode.is_serial() {
            self.hold_serial(cx, slots, slot);
        } else {
            hold_slot(cx, self.id, slots, slot, &self.inbox, |cx, batch| {
                self.process(cx, batch, None);
                cx.complete(self.id);
            });
        }
    }

    fn on_delivered(&self, cx: &mut Cx<'_, '_>) {
        notify_delivery(cx, self.id, self.slots.as_ref());
    }

    fn takes_handoff(&self) -> bool {
        self.slots.is_none()
    }

    fn finish(&self, cx: &mut Cx<'_, '_>) {
        if self.mode == StageMode::Regroup {
            self.flush_regroup(cx);
        }
    }

    fn flush_stalled(&self, cx: &mut Cx<'_, '_>) -> bool {
        if self.mode != StageMode::Regroup {
            return false;
        }
        let slots = self.slots.as_ref().expect("a regroup stage is serial");
        let Some(slot) = slots.try_take_idle() else {
            return false;
        };
        let emitted = self.flush_regroup(cx);
        // Batches that arrived meanwhile go into a new partial group: report
        // them too, or that group is never flushed (see `Node::flush_stalled`).
        let taken = self.hold_serial(cx, slots, slot);
        emitted || taken > 0
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
