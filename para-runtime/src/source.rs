//! Source nodes: a serial iterator, and a splittable source several workers
//! produce from at once.
//!
//! A source has exactly one task queued or running at any time (its
//! "production" task reschedules itself after each batch), so its state is
//! never contended. A capacity-bounded source that finds the graph full parks
//! instead of rescheduling; see `run` for the unpark protocol.

use crate::batch::Tag;
use crate::node::{take_outlets, Node, Outlets, Wire};
use crate::run::{Cx, NodePlan, Task, NO_SLOT};
use crate::split::Split;
use crate::sync::{lock, Mutex};

struct SourceState<I> {
    iter: Option<I>,
    seq: u64,
    next_size: usize,
}

/// A source pulling from an iterator, one batch per task.
pub(crate) struct SourceNode<I: Iterator> {
    id: usize,
    state: Mutex<SourceState<I>>,
    wire: Wire<I::Item>,
    outlets: Outlets<I::Item>,
}

impl<I: Iterator> SourceNode<I> {
    pub(crate) fn new(id: usize, iter: I, wire: Wire<I::Item>) -> Self {
        SourceNode {
            wire,
            id,
            state: Mutex::new(SourceState {
                iter: Some(iter),
                seq: 0,
                next_size: 1,
            }),
            outlets: Outlets::default(),
        }
    }
}

impl<I> Node for SourceNode<I>
where
    I: Iterator + Send,
    I::Item: Send,
{
    fn prepare(&mut self, _plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
    }

    fn start(&self, cx: &mut Cx<'_, '_>) {
        cx.schedule(Task::new(self.id, NO_SLOT as usize));
    }

    fn run(&self, cx: &mut Cx<'_, '_>, _slot: u32) {
        let mut state = lock(&self.state);
        if state.iter.is_none() {
            return;
        }
        if cx.source_stopped(self.id) {
            state.iter = None;
            drop(state);
            cx.complete(self.id);
            return;
        }
        let want = cx.source_batch_size(&mut state.next_size);
        let room = cx.reserve(self.id, want);
        if room == 0 {
            return; // parked: a release reschedules us
        }
        let started = cx.timer(self.id);
        let iter = state.iter.as_mut().expect("checked above");
        let mut items = self.outlets.spare(cx);
        items.reserve(room);
        items.extend(iter.by_ref().take(room));
        let got = items.len();
        let exhausted = got < room;
        cx.release(room - got);
        let seq = state.seq;
        if got > 0 {
            state.seq += 1;
        }
        if exhausted {
            state.iter = None;
        }
        drop(state);
        if !exhausted {
            // The batch being emitted keeps the node open (as a split
            // source's part does): the task scheduled here may run on
            // another worker before this emit, find the iterator exhausted
            // and close the source, which would let the downstream node
            // finish (a `batch` stage flushing its last group, say) before
            // this batch reaches it.
            cx.hold(self.id);
            cx.schedule(Task::new(self.id, NO_SLOT as usize));
        }
        // Recorded before emitting: the emit may run downstream stages
        // inline (`Cx::run_or_schedule`), which is not this node's time.
        cx.record(self.id, 0, got, started);
        if got > 0 {
            self.outlets
                .emit(cx, items, Tag::origin(seq, got), got, false);
        }
        // Gives back the production token (exhausted) or the hold above.
        cx.complete(self.id);
    }

    fn on_delivered(&self, _cx: &mut Cx<'_, '_>) {
        unreachable!("para internal error: a source has no input");
    }
}

struct SplitState<S> {
    rest: Option<S>,
    seq: u64,
    next_size: usize,
}

/// A splittable source: each task cuts a part off the front, reschedules the
/// rest (so another worker can cut the next part), then produces its part.
pub(crate) struct SplitSourceNode<S: Split> {
    id: usize,
    state: Mutex<SplitState<S>>,
    wire: Wire<S::Item>,
    outlets: Outlets<S::Item>,
}

impl<S: Split> SplitSourceNode<S> {
    pub(crate) fn new(id: usize, split: S, wire: Wire<S::Item>) -> Self {
        SplitSourceNode {
            wire,
            id,
            state: Mutex::new(SplitState {
                rest: Some(split),
                seq: 0,
                next_size: 1,
            }),
            outlets: Outlets::default(),
        }
    }
}

impl<S: Split> Node for SplitSourceNode<S> {
    fn prepare(&mut self, _plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
    }

    fn start(&self, cx: &mut Cx<'_, '_>) {
        cx.schedule(Task::new(self.id, NO_SLOT as usize));
    }

    fn run(&self, cx: &mut Cx<'_, '_>, _slot: u32) {
        let mut state = lock(&self.state);
        let Some(rest) = state.rest.take() else {
            return;
        };
        let len = rest.split_len();
        if len == 0 || cx.source_stopped(self.id) {
            drop(state);
            drop(rest);
            cx.complete(self.id);
            return;
        }
        let want = cx.source_batch_size(&mut state.next_size).min(len);
        let room = cx.reserve(self.id, want);
        if room == 0 {
            state.rest = Some(rest);
            return; // parked
        }
        let started = cx.timer(self.id);
        let (part, rest) = rest.split_at(room);
        let (part_len, rest_len) = (part.split_len(), rest.split_len());
        if part_len != room || rest_len != len - room {
            state.rest = None;
            drop(state);
            drop((part, rest));
            panic!(
                "para: Split::split_at({room}) on a part of length {len} returned parts of \
                 lengths {part_len} and {rest_len}; they must be {room} and {}",
                len - room
            );
        }
        let seq = state.seq;
        state.seq += 1;
        // The part being produced keeps the node open.
        cx.hold(self.id);
        let more = rest_len > 0;
        if more {
            state.rest = Some(rest);
        }
        drop(state);
        if more {
            cx.schedule(Task::new(self.id, NO_SLOT as usize));
        } else {
            cx.complete(self.id); // the production token: nothing left to cut
        }
        let mut items = self.outlets.spare(cx);
        items.reserve(room);
        items.extend(part.into_items());
        if items.len() != room {
            let got = items.len();
            cx.release(room);
            panic!(
                "para: a Split part of length {room} yielded {got} items; \
                 Split::split_len and Split::into_items must agree"
            );
        }
        cx.record(self.id, 0, room, started); // before emitting, as above
        self.outlets
            .emit(cx, items, Tag::origin(seq, room), room, false);
        cx.complete(self.id);
    }

    fn on_delivered(&self, _cx: &mut Cx<'_, '_>) {
        unreachable!("para internal error: a source has no input");
    }
}
