//! [`StageNode`]: the node that runs a [`Stage`]: maps, serial and ordered
//! stages, sinks and every combinator.

use crate::api::id::NodeId;
use crate::api::stage::{Input, Output, Stage, StageMode};
use crate::data::batch::{Batch, Tag};
use crate::data::inbox::Inbox;
use crate::data::order::ReorderBuffer;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::nodes::outlets::{hold_slot, notify_delivery, take_outlets, Outlets, Wire};
use crate::protocol::claim::Slots;
use crate::sync::{lock, Arc, Mutex};
use std::cell::Cell;

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
    id: NodeId,
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
    pub(crate) fn new(id: NodeId, stage: S, inbox: Arc<Inbox<In>>, wire: Wire<S::Out>) -> Self {
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
    fn process(&self, ex: &mut Executor<'_, '_>, batch: Batch<In>, next_seq: Option<&mut u64>) {
        let started = ex.timer(self.id);
        let Batch {
            mut items,
            tag,
            weight,
        } = batch;
        let in_len = items.len();
        let current = Cell::new(0);
        let mut out_items = self.outlets.spare(ex);
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
        self.inbox.recycle(ex.worker_index(), items);
        if stop {
            ex.stop_sources(self.id);
        }
        let out_len = out_items.len();
        // Recorded before emitting: the emit may run downstream stages
        // inline (`Cx::run_or_schedule`), which is not this stage's time.
        ex.record(self.id, in_len, out_len, started);
        match next_seq {
            // A regrouping stage starts new batches of its own: its input
            // leaves the capacity count, its output enters it.
            Some(seq) => {
                ex.release(weight);
                self.emit_regrouped(ex, out_items, seq);
            }
            None => {
                let tag = Tag {
                    origin: origins,
                    ..tag
                };
                self.outlets
                    .emit(ex, out_items, tag, weight, self.forward_empty);
            }
        }
    }

    fn emit_regrouped(&self, ex: &mut Executor<'_, '_>, items: Vec<S::Out>, next_seq: &mut u64) {
        if items.is_empty() {
            return;
        }
        let len = items.len();
        ex.reserve_extra(len);
        let tag = Tag::origin(*next_seq, len);
        *next_seq += 1;
        self.outlets.emit(ex, items, tag, len, self.forward_empty);
    }

    /// Takes one batch from the inbox as the holder of a serial slot.
    /// Returns how many input batches are done; the caller completes them
    /// once it no longer holds the state (completing may finish the node,
    /// which takes the same lock).
    fn serial_batch(
        &self,
        ex: &mut Executor<'_, '_>,
        state: &mut SerialState<In>,
        batch: Batch<In>,
    ) -> usize {
        let regroup = self.mode == StageMode::Regroup;
        let Some(reorder) = state.reorder.as_mut() else {
            self.process(ex, batch, regroup.then_some(&mut state.next_seq));
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
            self.process(ex, merged, regroup.then_some(&mut state.next_seq));
            done += consumed;
        }
        done
    }

    /// Holds claim slot `slot` of a serial stage: drains the inbox, then
    /// completes the batches it processed. Returns how many batches it took
    /// from the inbox.
    fn hold_serial(&self, ex: &mut Executor<'_, '_>, slots: &Slots, slot: usize) -> usize {
        let mut done = 0;
        let mut taken = 0;
        {
            let mut state = lock(&self.serial);
            hold_slot(ex, self.id, slots, slot, &self.inbox, |ex, batch| {
                taken += 1;
                done += self.serial_batch(ex, &mut state, batch)
            });
        }
        for _ in 0..done {
            ex.complete(self.id);
        }
        taken
    }

    fn flush_regroup(&self, ex: &mut Executor<'_, '_>) -> bool {
        let current = Cell::new(0);
        let mut out_items = Vec::new();
        {
            let mut output = Output::new(&mut out_items, None, None, &current);
            self.stage.flush(&mut output);
        }
        let emitted = !out_items.is_empty();
        let mut state = lock(&self.serial);
        self.emit_regrouped(ex, out_items, &mut state.next_seq);
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

    fn run(&self, ex: &mut Executor<'_, '_>, slot: u32) {
        let Some(slots) = self.slots.as_ref() else {
            let batch = match ex.take_handoff(&self.inbox) {
                Some(batch) => batch,
                None => self
                    .inbox
                    .pop()
                    .expect("para internal error: a task without a batch"),
            };
            self.process(ex, batch, None);
            ex.complete(self.id);
            return;
        };
        let slot = slot as usize;
        slots.start(slot);
        if self.mode.is_serial() {
            self.hold_serial(ex, slots, slot);
        } else {
            hold_slot(ex, self.id, slots, slot, &self.inbox, |ex, batch| {
                self.process(ex, batch, None);
                ex.complete(self.id);
            });
        }
    }

    fn on_delivered(&self, ex: &mut Executor<'_, '_>) {
        notify_delivery(ex, self.id, self.slots.as_ref());
    }

    fn takes_handoff(&self) -> bool {
        self.slots.is_none()
    }

    fn finish(&self, ex: &mut Executor<'_, '_>) {
        if self.mode == StageMode::Regroup {
            self.flush_regroup(ex);
        }
    }

    fn flush_stalled(&self, ex: &mut Executor<'_, '_>) -> bool {
        if self.mode != StageMode::Regroup {
            return false;
        }
        let slots = self.slots.as_ref().expect("a regroup stage is serial");
        let Some(slot) = slots.try_take_idle() else {
            return false;
        };
        let emitted = self.flush_regroup(ex);
        // Batches that arrived meanwhile go into a new partial group: report
        // them too, or that group is never flushed (see `Node::flush_stalled`).
        let taken = self.hold_serial(ex, slots, slot);
        emitted || taken > 0
    }
}
