//! [`Executor`]: one thread's handle on a run. Every node acts through it:
//! to schedule tasks, deliver batches downstream, give back completion
//! tokens, reserve and release capacity, and record its statistics.
//!
//! A worker's executor owns its deques and runs downstream work inline
//! when it may (see [`Executor::run_or_schedule`]); the executor of a
//! device lane or of the caller (an *outsider*) pushes to the shared
//! injectors instead.

use crate::api::id::NodeId;
use crate::data::batch::Batch;
use crate::data::inbox::Inbox;
use crate::data::queue::LocalQueue;
use crate::exec::handoff::Handoff;
use crate::exec::plan::NodePlan;
use crate::exec::run::{Culprit, Run};
use crate::exec::sizing;
use crate::exec::stats::{NodeStats, Sample, Timer};
use crate::exec::task::{Task, NO_SLOT};
use crate::exec::trace::{Mark, Track};
use crate::protocol::completion::Completion;
use crate::sync::Ordering;

/// How deep a worker nests downstream tasks run inline before it queues them
/// instead (bounds the stack; a chain is rarely deeper).
const MAX_INLINE_DEPTH: usize = 16;

/// A thread's handle on the run: a worker (with its own deques) or a device
/// lane / the caller (pushing to the shared injectors).
pub(crate) struct Executor<'r, 'g> {
    pub(crate) run: &'r Run<'g>,
    local: Option<Vec<LocalQueue<Task>>>,
    pub(crate) stats: Vec<NodeStats>,
    /// Priority level of the task this worker is running (see
    /// [`Executor::run_or_schedule`]).
    level: usize,
    /// How many tasks this worker is running inline inside one another.
    inline_depth: usize,
    /// The task this worker is running holds a claim slot (a serial or
    /// replicate-limited stage): see [`Executor::run_or_schedule`].
    holding_slot: bool,
    /// A batch handed straight to a stage run inline (see `handoff`).
    handoff: Handoff,
    /// The node running inline on a handed batch that was not counted in
    /// its `pending` (see [`Executor::deliver`]): the first
    /// [`Executor::complete`] of that node on this thread gives back
    /// nothing.
    uncounted: Option<NodeId>,
    /// This thread's worker index (`None`: a device lane or the caller).
    worker: Option<usize>,
    /// Starts a worker job for a reserved slot (workers only: a job of the
    /// run's pool scope; see `protocol::crew`).
    spawn: Option<&'r dyn Fn(usize)>,
    /// What this thread records for the trace and the progress line;
    /// `None` when neither is on (the one check per timed batch: see
    /// `exec::trace`).
    watch: Option<Box<Watch>>,
}

/// A thread's part of watching a run: its track of the trace, if the run
/// is traced (the progress line's counters are the run's own).
struct Watch {
    track: Option<Track>,
}

impl<'r, 'g> Executor<'r, 'g> {
    /// The executor of the loop holding worker slot `index` of `run`, with
    /// the slot's deques; `spawn` starts more worker jobs.
    pub(crate) fn worker(run: &'r Run<'g>, index: usize, spawn: &'r dyn Fn(usize)) -> Self {
        Executor {
            worker: Some(index),
            spawn: Some(spawn),
            watch: Watch::new(run, |r| r.worker(index)),
            ..Executor::new(run, Some(run.take_locals(index)))
        }
    }

    /// The executor of lane `lane` of device node `node`.
    pub(crate) fn lane(run: &'r Run<'g>, node: NodeId, lane: usize) -> Self {
        Executor {
            watch: Watch::new(run, |r| r.lane(node, lane)),
            ..Executor::new(run, None)
        }
    }

    /// Gives the slot's deques back (the loop leaves its slot).
    pub(crate) fn return_locals(&mut self) {
        if let (Some(index), Some(local)) = (self.worker, self.local.take()) {
            self.run.return_locals(index, local);
        }
    }

    /// Takes the slot's deques again (the loop kept its slot after all).
    pub(crate) fn retake_locals(&mut self) {
        if let (Some(index), None) = (self.worker, &self.local) {
            self.local = Some(self.run.take_locals(index));
        }
    }

    /// The executor of a thread that is not a worker (a device lane, the
    /// caller): it pushes to the shared injectors.
    pub(crate) fn outsider(run: &'r Run<'g>) -> Self {
        Executor {
            watch: Watch::new(run, |r| r.outside()),
            ..Executor::new(run, None)
        }
    }

    /// Hands what this thread recorded to the run: its statistics and its
    /// track of the trace. Called once, when the thread's loop ends.
    pub(crate) fn retire(&mut self) {
        self.run.merge_stats(&self.stats);
        if let (Some(watch), Some(recorder)) = (self.watch.take(), &self.run.trace) {
            if let Some(track) = watch.track {
                recorder.hand_in(track);
            }
        }
    }

    /// Whether this thread records batches (the run is traced or shows
    /// progress).
    #[inline]
    pub(crate) fn is_watched(&self) -> bool {
        self.watch.is_some()
    }

    /// Records an instant event about node `id` in the trace (off the hot
    /// path: parks, steals, stall flushes).
    #[cold]
    pub(crate) fn mark(&mut self, id: NodeId, mark: Mark) {
        let run = self.run;
        if let Some(track) = self.watch.as_mut().and_then(|w| w.track.as_mut()) {
            track.mark(id, mark, || run.room.sample_alive());
        }
    }

    fn new(run: &'r Run<'g>, local: Option<Vec<LocalQueue<Task>>>) -> Self {
        Executor {
            run,
            local,
            stats: vec![NodeStats::default(); run.nodes.len()],
            level: 0,
            inline_depth: 0,
            holding_slot: false,
            handoff: Handoff::EMPTY,
            uncounted: None,
            worker: None,
            spawn: None,
            watch: None,
        }
    }

    /// This thread's worker index (`None`: a device lane or the caller),
    /// which picks its shelf of spare buffers (see `data::inbox`).
    pub(crate) fn worker_index(&self) -> Option<usize> {
        self.worker
    }

    /// Runs `task` on this thread, catching a panic in user code as the
    /// run's failure (attributed to the task's node).
    pub(crate) fn execute(&mut self, task: Task) {
        let node = task.node;
        let saved = std::mem::replace(&mut self.level, self.run.plan(node).level);
        let saved_hold = std::mem::replace(&mut self.holding_slot, task.slot != NO_SLOT);
        let run = self.run;
        run.catch(Culprit::Node(node), || run.node(node).run(self, task.slot));
        self.level = saved;
        self.holding_slot = saved_hold;
    }

    /// Runs the task a delivery calls for right here, inside the emitting
    /// task, or queues it. Running it here hands the batch on while it is
    /// hot in this core's cache and skips a queue round trip and a wake-up,
    /// which is what makes fine-grained chains cheap (oneTBB's pipeline
    /// likewise carries a token through consecutive stages on one thread).
    /// Only a worker does this, only for a stage of at least the emitter's
    /// priority (so a higher-priority task cannot be passed over: by default
    /// downstream stages rank higher), and only to a bounded depth. The
    /// emitter's source keeps producing meanwhile: a source reschedules
    /// itself before it emits, so an idle worker steals the next batch. A
    /// serial stage does not reschedule itself (its holder drains its
    /// inbox), so while a task holds a claim slot, downstream work is
    /// queued: run inline, a heavy parallel stage behind a serial one would
    /// keep the serial stage held, and run no faster than the two in series.
    pub(crate) fn run_or_schedule(&mut self, task: Task) {
        if self.may_inline(task.node) {
            self.run_inline(task);
        } else {
            self.schedule(task);
        }
    }

    fn may_inline(&self, node: NodeId) -> bool {
        self.local.is_some()
            && !self.holding_slot
            && self.run.plan(node).level >= self.level
            && self.inline_depth < MAX_INLINE_DEPTH
            && !self.cancelled()
    }

    fn run_inline(&mut self, task: Task) {
        self.inline_depth += 1;
        self.execute(task);
        self.inline_depth -= 1;
    }

    /// The batch a task of the node whose inbox is `inbox` runs on: the one
    /// handed to it (see [`Executor::deliver`]), or the next in its inbox.
    /// A node that takes handoffs calls this first thing in `run`.
    ///
    /// # Panics
    ///
    /// If there is neither (a task without a batch: a runtime bug).
    pub(crate) fn take_batch<T>(&mut self, inbox: &Inbox<T>) -> Batch<T> {
        match self.handoff.take(inbox) {
            Some(batch) => batch,
            None => inbox
                .pop()
                .expect("para internal error: a task without a batch"),
        }
    }

    /// This worker's deques (`None` for an outsider).
    pub(crate) fn local(&self) -> Option<&[LocalQueue<Task>]> {
        self.local.as_deref()
    }

    pub(crate) fn plan(&self, id: NodeId) -> &'r NodePlan {
        self.run.plan(id)
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.run.is_cancelled()
    }

    /// Queues a task and, if a worker slot is free, starts a worker job
    /// for it (see `protocol::crew`).
    pub(crate) fn schedule(&mut self, task: Task) {
        let level = self.run.plan(task.node).level;
        match &self.local {
            Some(local) => local[level].push(task),
            None => self.run.injectors[level].push(task),
        }
        self.run.crew.notify_work(self.spawn);
    }

    /// Hands `batch` to node `target` through its inbox, or straight to an
    /// inline run of it: an unlimited parallel stage always, a limited
    /// (serial or replicated) stage when one of its claim slots is idle, so
    /// that a sink or a stateful stage behind a parallel one takes the batch
    /// with no inbox round trip (a queue push and pop, and now and then the
    /// queue's allocation of a block, per batch).
    ///
    /// A batch handed over is not counted in the target's `pending` when
    /// the target is done with it before its inline run returns (every
    /// stage but an ordered one, which may keep it in its reorder buffer):
    /// the emitter holds a token of its own node meanwhile, whose edge into
    /// the target keeps the target from finishing, just as the batch's
    /// token would. That saves two writes of a counter the other workers
    /// write too (a cache line moved between cores twice per batch per
    /// stage). The target's one `complete` for the batch then gives back
    /// nothing ([`Executor::complete`], `uncounted`).
    pub(crate) fn deliver<T>(&mut self, target: NodeId, inbox: &Inbox<T>, batch: Batch<T>) {
        let node = self.run.node(target);
        let task = if !self.may_inline(target) {
            None
        } else if node.takes_handoff() {
            Some(Task::unclaimed(target))
        } else {
            node.claim_idle_slot().map(|slot| Task::new(target, slot))
        };
        let Some(task) = task else {
            // Count the batch before it can be seen, so the target cannot
            // drain to zero while it is on its way.
            self.run.core(target).pending.add();
            inbox.push(batch);
            node.on_delivered(self);
            return;
        };
        let counted = self.run.plan(target).ordered_input;
        if counted {
            self.run.core(target).pending.add();
        }
        // Run the target here on this very batch. `slot` stays untouched in
        // this frame until the inline run has returned and the handoff is
        // cleared (the `handoff` invariant).
        debug_assert!(self.handoff.is_empty(), "nested handoff");
        let mut slot = Some(batch);
        self.handoff = Handoff::to(inbox, &mut slot);
        let outer = std::mem::replace(&mut self.uncounted, (!counted).then_some(target));
        self.run_inline(task);
        let unused = std::mem::replace(&mut self.uncounted, outer) == Some(target);
        self.handoff = Handoff::EMPTY;
        let Some(batch) = slot else {
            return;
        };
        // Not taken (the run was cancelled first, or the stage panicked
        // before it looked): queue it as usual, counted now.
        if unused {
            self.run.core(target).pending.add();
        }
        inbox.push(batch);
        if task.slot == NO_SLOT {
            self.schedule(task);
        } else {
            node.on_delivered(self);
        }
    }

    /// The batch handed to the holder of a claim slot of the node whose
    /// inbox is `inbox` (see [`Executor::deliver`]), if one was: the holder
    /// takes it before it drains the inbox.
    pub(crate) fn handed_batch<T>(&mut self, inbox: &Inbox<T>) -> Option<Batch<T>> {
        self.handoff.take(inbox)
    }

    /// Takes one more token of node `id` (a device job in flight, a part of
    /// a split source being produced).
    pub(crate) fn hold(&mut self, id: NodeId) {
        self.run.core(id).pending.add();
    }

    /// Gives back one token of node `id`; finishes and closes it at zero.
    pub(crate) fn complete(&mut self, id: NodeId) {
        if self.uncounted == Some(id) {
            // The batch handed to this inline run was not counted (see
            // `deliver`): nothing to give back.
            self.uncounted = None;
            return;
        }
        match self.run.core(id).pending.complete() {
            Completion::Continue => {}
            Completion::Finish => self.finish(id),
            Completion::Close => self.close(id),
        }
    }

    /// Input of node `id` is over: let it emit what it holds, counted by the
    /// token `complete` took for us, then give that token back.
    #[cold]
    fn finish(&mut self, id: NodeId) {
        self.run.node(id).finish(self);
        self.complete(id);
    }

    /// Node `id` finished and drained: give back a token of every downstream
    /// node, and end the run after the last close.
    #[cold]
    fn close(&mut self, id: NodeId) {
        for &down in &self.run.plan(id).downstream {
            self.complete(down);
        }
        let closed = self.run.closed.fetch_add(1, Ordering::AcqRel) + 1;
        if closed == self.run.nodes.len() {
            self.run.flags.done.store(true, Ordering::Release);
            self.run.crew.wake_keeper();
        }
    }

    /// Starts timing a batch of node `id` if it is one of those sampled.
    pub(crate) fn timer(&self, id: NodeId) -> Timer {
        self.stats[id.index()].timer()
    }

    /// Records that node `id` processed a batch, and feeds a measured cost
    /// into the node's moving average (the sources' batch sizing): its time
    /// per *source item*, `units` being how many source items the batch
    /// descends from (its capacity weight; 0 notes no cost). So a stage
    /// behind a `flat_map` or a filter is costed per item the source cuts,
    /// which is what a source sums the costs over.
    ///
    /// Every call is one batch of the report and, in a traced run, one
    /// slice of the trace.
    pub(crate) fn record(
        &mut self,
        id: NodeId,
        (items_in, items_out): (usize, usize),
        units: usize,
        timer: Timer,
    ) {
        let stats = &mut self.stats[id.index()];
        let Some(sample) = stats.record(items_in, items_out, timer) else {
            return;
        };
        if let Some(watch) = &mut self.watch {
            // Watched, every batch is timed, so each reaches this point.
            stats.time_every_batch();
            watch.batch(self.run, id, sample, items_in, items_out);
        }
        if units > 0 {
            let per_unit = (sample.busy.as_nanos() as u64 / units as u64).max(1);
            sizing::note_cost(&self.run.core(id).cost_ns, per_unit);
        }
    }

    /// How many items a source with batch-size state `sizing` should yield
    /// next (see `exec::sizing`).
    pub(crate) fn source_batch_size(&self, sizing: &mut sizing::SourceSizing) -> usize {
        sizing.next_size(self.run)
    }

    /// How long a serial source may read one batch (see `exec::sizing`).
    pub(crate) fn source_read_budget(&self) -> Option<std::time::Duration> {
        sizing::read_budget(self.run)
    }

    /// Whether source `id` must stop producing.
    pub(crate) fn source_stopped(&self, id: NodeId) -> bool {
        self.run.core(id).stopped.load(Ordering::Acquire) || self.cancelled()
    }

    /// Reserves room for up to `want` items for source `id`. Returns 0 if the
    /// graph is full; the source is then parked and will be rescheduled.
    pub(crate) fn reserve(&mut self, id: NodeId, want: usize) -> usize {
        let run = self.run;
        run.room
            .reserve(id, want, |source| self.schedule(Task::unclaimed(source)))
    }

    /// Adds items that entered the graph without a source's reservation
    /// (fan-out copies, regrouped items).
    pub(crate) fn reserve_extra(&mut self, n: usize) {
        self.run.room.add(n);
    }

    /// Items left the graph: make room and unpark sources that wait for it.
    pub(crate) fn release(&mut self, n: usize) {
        let run = self.run;
        run.room
            .release(n, |source| self.schedule(Task::unclaimed(source)));
    }

    /// Stops the sources upstream of node `from` (`take`, `take_while`).
    pub(crate) fn stop_sources(&mut self, from: NodeId) {
        for &source in &self.run.plan(from).sources_above {
            // Release: the source's task reads the flag with Acquire
            // (`source_stopped`); the unpark's RMW comes after this store.
            self.run.core(source).stopped.store(true, Ordering::Release);
            // A parked source must run once more to see the flag and close;
            // an idle one (a feed) must be woken to.
            if self.run.room.unpark(source) {
                self.schedule(Task::unclaimed(source));
            } else {
                self.run.node(source).wake(self);
            }
        }
    }
}

impl Watch {
    /// A thread's watch of `run`, with the track `track` makes, if the run
    /// is watched at all.
    fn new(
        run: &Run<'_>,
        track: impl FnOnce(&crate::exec::trace::Recorder) -> Track,
    ) -> Option<Box<Watch>> {
        run.is_watched().then(|| {
            Box::new(Watch {
                track: run.trace.as_ref().map(track),
            })
        })
    }

    /// A batch of node `id` was recorded.
    #[inline(never)]
    fn batch(
        &mut self,
        run: &Run<'_>,
        id: NodeId,
        sample: Sample,
        items_in: usize,
        items_out: usize,
    ) {
        if let Some(track) = &mut self.track {
            track.slice(id, sample.started, sample.busy, items_in, items_out, || {
                run.room.sample_alive()
            });
        }
        #[cfg(feature = "progress")]
        if let Some(live) = &run.live {
            live.count(id, items_in, items_out);
        }
    }
}
