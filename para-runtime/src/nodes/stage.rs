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
    regroup: RegroupState,
}

/// What a regrouping stage (`StageMode::Regroup`) keeps between batches.
///
/// Capacity: the items a regrouping stage takes in count one unit each from
/// then on (its input batch's weight is exchanged for its length: a filter
/// before it gave units back, a flat-map's extra items take one each), and
/// keep their units while they wait in a partial group; a group leaves with
/// the units of the items in it. The stage cannot say which items a group
/// holds, so an output is taken to hold every item taken in, up to the input
/// item being processed when it was emitted, that no earlier output held:
/// exact for `batch`, which emits its whole pending group each time.
#[derive(Default)]
struct RegroupState {
    /// Next sequence number of an output batch (the stage is an origin).
    next_seq: u64,
    /// Units of the items taken in and not emitted yet.
    held: usize,
    /// For each output of the batch being processed, the index of the input
    /// item being processed when it was emitted (reused buffer).
    emitted_at: Vec<u32>,
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
    /// The second map of a fused pair (see `nodes::fused_map`), whose
    /// counters this node keeps too: it emits through that map's wire.
    tail: Option<NodeId>,
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
                regroup: RegroupState::default(),
            }),
            forward_empty: false,
            track_origin: false,
            tail: None,
        }
    }

    /// This node runs a fused pair of maps (`nodes::fused_map`): `stage`
    /// is both maps in one, and `tail` the second map's node, whose wire
    /// this node was given.
    pub(crate) fn fused_with_map(mut self, tail: NodeId) -> Self {
        self.tail = Some(tail);
        self
    }
}

impl<In: Send, S: Stage<In>> StageNode<In, S> {
    /// Runs the stage on one batch and emits the result. `regroup` is the
    /// state of a regrouping stage (`None` for every other kind).
    fn process(
        &self,
        ex: &mut Executor<'_, '_>,
        batch: Batch<In>,
        mut regroup: Option<&mut RegroupState>,
    ) {
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
            // A regrouping stage records where each output was emitted (its
            // input's origins do not matter: its output is a new origin).
            let (origins, in_origin) = match regroup {
                Some(ref mut state) => {
                    state.emitted_at.clear();
                    (Some(&mut state.emitted_at), None)
                }
                None => (origins.as_mut(), tag.origin.as_deref()),
            };
            let mut output = Output::new(&mut out_items, origins, in_origin, &current);
            self.stage.process_batch(&mut input, &mut output);
            output.stop_requested()
        };
        self.inbox.recycle(ex.worker_index(), items);
        if stop {
            ex.stop_sources(self.id);
        }
        let out_len = out_items.len();
        // Recorded before emitting: the emit may run downstream stages
        // inline (`Executor::run_or_schedule`), which is not this stage's time.
        ex.record(self.id, (in_len, out_len), weight, started);
        if let Some(tail) = self.tail {
            // A fused map's items passed through both maps (1:1), in the
            // time recorded above.
            ex.record(tail, (out_len, out_len), weight, ex.timer(tail));
        }
        match regroup {
            Some(state) => self.regrouped(ex, state, out_items, in_len, weight),
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

    /// The capacity side of a regrouping stage's batch (see
    /// [`RegroupState`]): exchanges the input's `weight` for one unit per
    /// item taken in, emits the outputs with the units of the items they
    /// hold, and emits the partial group too when the units waiting in
    /// partial state have reached the bound (nothing could fill it then).
    fn regrouped(
        &self,
        ex: &mut Executor<'_, '_>,
        state: &mut RegroupState,
        out_items: Vec<S::Out>,
        in_len: usize,
        weight: usize,
    ) {
        match in_len.cmp(&weight) {
            std::cmp::Ordering::Less => ex.release(weight - in_len),
            std::cmp::Ordering::Greater => ex.reserve_extra(in_len - weight),
            std::cmp::Ordering::Equal => {}
        }
        let taken = state.held + in_len;
        let out_units = match state.emitted_at.last() {
            Some(&at) => (state.held + at as usize + 1).min(taken),
            None => 0,
        };
        state.held = taken - out_units;
        // Net change of the units held (one update: the items of this batch
        // are both added and, if a group went out, partly removed).
        let room = &ex.run.room;
        let full = if in_len >= out_units {
            room.hold_partial(in_len - out_units)
        } else {
            room.drop_partial(out_units - in_len);
            false // it shrank: whatever it emitted makes room
        };
        self.emit_regrouped(ex, out_items, out_units, &mut state.next_seq);
        if full && state.held > 0 {
            self.flush_held(ex, state);
        }
    }

    fn emit_regrouped(
        &self,
        ex: &mut Executor<'_, '_>,
        items: Vec<S::Out>,
        units: usize,
        next_seq: &mut u64,
    ) {
        if items.is_empty() {
            ex.release(units);
            return;
        }
        let len = items.len();
        let tag = Tag::origin(*next_seq, len);
        *next_seq += 1;
        self.outlets.emit(ex, items, tag, units, self.forward_empty);
    }

    /// Emits what a regrouping stage holds (`Stage::flush`), with all the
    /// units it holds. Returns whether it emitted anything.
    fn flush_held(&self, ex: &mut Executor<'_, '_>, state: &mut RegroupState) -> bool {
        let current = Cell::new(0);
        let mut out_items = Vec::new();
        {
            let mut output = Output::new(&mut out_items, None, None, &current);
            self.stage.flush(&mut output);
        }
        let emitted = !out_items.is_empty();
        let units = std::mem::take(&mut state.held);
        ex.run.room.drop_partial(units);
        self.emit_regrouped(ex, out_items, units, &mut state.next_seq);
        emitted
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
            self.process(ex, batch, regroup.then_some(&mut state.regroup));
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
            self.process(ex, merged, regroup.then_some(&mut state.regroup));
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
        let mut state = lock(&self.serial);
        self.flush_held(ex, &mut state.regroup)
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
            let batch = ex.take_batch(&self.inbox);
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

    fn claim_idle_slot(&self) -> Option<usize> {
        self.slots.as_ref()?.try_schedule_idle()
    }

    fn fused_with(&self) -> Option<NodeId> {
        self.tail
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
