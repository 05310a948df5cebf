//! The shared state of one run and the per-thread handle nodes act through.
//!
//! Two protocols live in their own modules, where loom models check them,
//! and are driven from here: node completion (finish once, then close once;
//! see `completion`) and the capacity bound (sources park when the graph is
//! full; see `park`).

use crate::batch::Batch;
use crate::completion::{Completion, Pending};
use crate::inbox::Inbox;
use crate::node::Node;
use crate::park::Capacity;
use crate::queue::{LocalQueue, SharedQueue, Thief};
use crate::sleep::Sleep;
use crate::sync::{lock, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// "No claim slot": the task of an unlimited parallel stage or a source.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// What a worker runs: a node and the claim slot it runs under. The batch is
/// taken from the node's inbox when the task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Task {
    pub(crate) node: u32,
    pub(crate) slot: u32,
}

impl Task {
    pub(crate) fn new(node: usize, slot: usize) -> Self {
        Task {
            node: node as u32,
            slot: slot as u32,
        }
    }
}

/// What the analysis of the graph decided about one node.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodePlan {
    pub(crate) label: String,
    pub(crate) kind: &'static str,
    /// Index of the node's priority level (higher runs first).
    pub(crate) level: usize,
    pub(crate) downstream: Vec<usize>,
    /// Initial `pending`: upstream edges, or 1 for a source.
    pub(crate) initial_pending: usize,
    pub(crate) is_source: bool,
    pub(crate) replicate: Option<usize>,
    /// Forward empty batches (an ordered stage downstream counts them).
    pub(crate) forward_empty: bool,
    /// Keep per-item origins (an ordered stage downstream merges paths).
    pub(crate) track_origin: bool,
    /// The node restores source order on its input.
    pub(crate) ordered_input: bool,
    /// Distinct paths from the node's origin (for `ordered_input`).
    pub(crate) paths: usize,
    /// Sources upstream of this node (those a `take` stops).
    pub(crate) sources_above: Vec<usize>,
    /// The node may hold items between batches (regroup, device).
    pub(crate) has_partial: bool,
    /// Dedicated device lanes (device nodes only).
    pub(crate) lanes: usize,
}

/// Counters of one node, one row per worker or lane, merged at the end.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeStats {
    pub(crate) items_in: u64,
    pub(crate) items_out: u64,
    pub(crate) batches: u64,
    /// Time measured in the batches that were timed (see [`Cx::timer`]).
    pub(crate) busy: Duration,
    pub(crate) timed_batches: u64,
    /// The last timed batch was long: time every batch (the clock is then
    /// cheap next to the work, and coarse batches vary the most).
    slow: bool,
}

impl NodeStats {
    /// Busy time over all batches, extrapolated from the timed ones.
    pub(crate) fn busy_estimate(&self) -> Duration {
        if self.timed_batches == 0 || self.timed_batches == self.batches {
            return self.busy;
        }
        let scale = self.batches as f64 / self.timed_batches as f64;
        self.busy.mul_f64(scale)
    }
}

/// A batch's start time, when the batch is one of those timed.
pub(crate) struct Timer(Option<Instant>);

impl Timer {
    /// Times this batch whatever the sampling (device jobs: few and long).
    pub(crate) fn always() -> Self {
        Timer(Some(Instant::now()))
    }
}

/// Fine batches are timed one in `TIME_EVERY` (after the first
/// `TIME_EVERY`): reading the clock costs about 25 ns here, twice per batch
/// per stage, which was a tenth of a 3-stage chain's per-batch cost.
const TIME_EVERY: u64 = 8;
const _: () = assert!(TIME_EVERY.is_power_of_two());

/// A timed batch at least this long makes the next one timed too.
const SLOW_BATCH: Duration = Duration::from_micros(20);

/// Run-time counters of one node (cache-padded: written by many workers).
struct NodeCore {
    /// The completion tokens (see `completion`).
    pending: Pending,
    stopped: AtomicBool,
    /// Exponential moving average of the node's cost per item, in ns
    /// (0 = not measured yet). Feeds the sources' batch-size choice.
    cost_ns: AtomicU64,
}

/// A batch's target duration in one stage: long enough that scheduling (a few
/// hundred ns per batch) is a small fraction, short enough to spread work.
const TARGET_BATCH_NS: u64 = 50_000;

/// The end-of-run flags.
struct Flags {
    cancelled: AtomicBool,
    done: AtomicBool,
}

/// Shared state of one run.
pub(crate) struct Run<'g> {
    pub(crate) nodes: Vec<Box<dyn Node + 'g>>,
    pub(crate) plans: Vec<NodePlan>,
    cores: Vec<CachePadded<NodeCore>>,
    pub(crate) levels: usize,
    /// Tasks pushed by threads that are not workers (lanes, the caller).
    pub(crate) injectors: Vec<SharedQueue<Task>>,
    /// `[worker][level]`: the stealing ends of the workers' deques.
    pub(crate) thieves: Vec<Vec<Thief<Task>>>,
    locals: Mutex<Vec<Option<Vec<LocalQueue<Task>>>>>,
    pub(crate) sleep: Sleep,
    /// Items inside the graph and the sources parked on the bound.
    room: Capacity,
    pub(crate) batch: usize,
    pub(crate) threads: usize,
    /// Read by every worker between tasks and written once: a line of its
    /// own, so that no counter written per batch shares it.
    flags: CachePadded<Flags>,
    closed: AtomicUsize,
    failure: Mutex<Option<Box<dyn Any + Send>>>,
    stats: Mutex<Vec<NodeStats>>,
}

impl<'g> Run<'g> {
    pub(crate) fn new(
        nodes: Vec<Box<dyn Node + 'g>>,
        plans: Vec<NodePlan>,
        threads: usize,
        capacity: Option<usize>,
        batch: usize,
    ) -> Self {
        let levels = plans.iter().map(|p| p.level + 1).max().unwrap_or(1);
        let locals: Vec<Vec<LocalQueue<Task>>> = (0..threads)
            .map(|_| (0..levels).map(|_| LocalQueue::new()).collect())
            .collect();
        let thieves = locals
            .iter()
            .map(|levels| levels.iter().map(LocalQueue::thief).collect())
            .collect();
        let cores = plans
            .iter()
            .map(|p| {
                CachePadded::new(NodeCore {
                    pending: Pending::new(p.initial_pending),
                    stopped: AtomicBool::new(false),
                    cost_ns: AtomicU64::new(0),
                })
            })
            .collect();
        let sources = (0..plans.len()).filter(|&i| plans[i].is_source);
        let n = nodes.len();
        Run {
            nodes,
            cores,
            levels,
            injectors: (0..levels).map(|_| SharedQueue::new()).collect(),
            thieves,
            locals: Mutex::new(locals.into_iter().map(Some).collect()),
            sleep: Sleep::new(),
            room: Capacity::new(capacity, sources),
            batch,
            threads,
            flags: CachePadded::new(Flags {
                cancelled: AtomicBool::new(false),
                done: AtomicBool::new(n == 0),
            }),
            closed: AtomicUsize::new(0),
            failure: Mutex::new(None),
            stats: Mutex::new(vec![NodeStats::default(); n]),
            plans,
        }
    }

    /// The deques of worker `index` (each worker takes its own once).
    pub(crate) fn take_locals(&self, index: usize) -> Vec<LocalQueue<Task>> {
        lock(&self.locals)[index]
            .take()
            .expect("para internal error: a worker started twice")
    }

    pub(crate) fn is_done(&self) -> bool {
        self.flags.done.load(Ordering::Acquire)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Acquire)
    }

    /// Whether any task is queued anywhere (slow path: the sleep check).
    pub(crate) fn has_work(&self) -> bool {
        self.injectors.iter().any(|q| !q.is_empty())
            || self.thieves.iter().flatten().any(|t| !t.is_empty())
    }

    /// Records a user panic: cancels the run and keeps the first payload.
    pub(crate) fn fail(&self, node: usize, payload: Box<dyn Any + Send>) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            let plan = &self.plans[node];
            eprintln!(
                "para: stage '{}' ({} #{}) panicked; cancelling the run",
                plan.label, plan.kind, node
            );
            *failure = Some(payload);
        }
        drop(failure);
        self.flags.cancelled.store(true, Ordering::Release);
        self.sleep.wake_all();
    }

    /// Records a panic of the runtime itself (a bug): cancels the run.
    pub(crate) fn fail_internal(&self, payload: Box<dyn Any + Send>) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            eprintln!("para: internal error in a worker; cancelling the run");
            *failure = Some(payload);
        }
        drop(failure);
        self.flags.cancelled.store(true, Ordering::Release);
        self.sleep.wake_all();
    }

    pub(crate) fn take_failure(&self) -> Option<Box<dyn Any + Send>> {
        lock(&self.failure).take()
    }

    pub(crate) fn merge_stats(&self, rows: &[NodeStats]) {
        let mut total = lock(&self.stats);
        for (t, r) in total.iter_mut().zip(rows) {
            t.items_in += r.items_in;
            t.items_out += r.items_out;
            t.batches += r.batches;
            t.busy += r.busy_estimate();
        }
    }

    pub(crate) fn stats(&self) -> Vec<NodeStats> {
        lock(&self.stats).clone()
    }

    pub(crate) fn peak_alive(&self) -> usize {
        self.room.peak()
    }

    /// Takes a token of node `id` if it is not drained yet (for a stall
    /// flush, which must not race with the node's finish).
    pub(crate) fn try_hold(&self, id: usize) -> bool {
        self.cores[id].pending.try_hold()
    }
}

/// A thread's handle on the run: a worker (with its own deques) or a device
/// lane / the caller (pushing to the shared injectors).
pub(crate) struct Cx<'r, 'g> {
    pub(crate) run: &'r Run<'g>,
    local: Option<Vec<LocalQueue<Task>>>,
    pub(crate) stats: Vec<NodeStats>,
    /// Priority level of the task this worker is running (see
    /// [`Cx::run_or_schedule`]).
    level: usize,
    /// How many tasks this worker is running inline inside one another.
    inline_depth: usize,
    /// The task this worker is running holds a claim slot (a serial or
    /// replicate-limited stage): see [`Cx::run_or_schedule`].
    holding_slot: bool,
    /// A batch handed straight to a stage run inline (see [`Cx::deliver`]).
    handoff: Handoff,
    /// This thread's worker index (`None`: a device lane or the caller).
    worker: Option<usize>,
}

/// A batch on its way from an emitter to the stage it runs inline, without
/// a trip through that stage's inbox: the address of the inbox the batch
/// was meant for (which identifies the receiving stage and, through the
/// inbox's type, the item type) and a pointer to the emitter's
/// `Option<Batch<T>>`, which lives on the emitter's stack frame below the
/// receiver's.
struct Handoff {
    inbox: *const (),
    batch: *mut (),
}

impl Handoff {
    const EMPTY: Handoff = Handoff {
        inbox: std::ptr::null(),
        batch: std::ptr::null_mut(),
    };
}

/// How deep a worker nests downstream tasks run inline before it queues them
/// instead (bounds the stack; a chain is rarely deeper).
const MAX_INLINE_DEPTH: usize = 16;

impl<'r, 'g> Cx<'r, 'g> {
    /// The handle of worker `index` of `run`, with its deques.
    pub(crate) fn worker(run: &'r Run<'g>, index: usize) -> Self {
        Cx {
            worker: Some(index),
            ..Cx::new(run, Some(run.take_locals(index)))
        }
    }

    /// The handle of a thread that is not a worker (a device lane, the
    /// caller): it pushes to the shared injectors.
    pub(crate) fn outsider(run: &'r Run<'g>) -> Self {
        Cx::new(run, None)
    }

    fn new(run: &'r Run<'g>, local: Option<Vec<LocalQueue<Task>>>) -> Self {
        Cx {
            run,
            local,
            stats: vec![NodeStats::default(); run.nodes.len()],
            level: 0,
            inline_depth: 0,
            holding_slot: false,
            handoff: Handoff::EMPTY,
            worker: None,
        }
    }

    /// This thread's worker index (`None`: a device lane or the caller),
    /// which picks its shelf of spare buffers (see `inbox`).
    pub(crate) fn worker_index(&self) -> Option<usize> {
        self.worker
    }

    /// Runs `task` on this worker, catching a panic in user code as the
    /// run's failure (attributed to the task's node).
    pub(crate) fn execute(&mut self, task: Task) {
        let node = task.node as usize;
        let saved = std::mem::replace(&mut self.level, self.run.plans[node].level);
        let saved_hold = std::mem::replace(&mut self.holding_slot, task.slot != NO_SLOT);
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.run.nodes[node].run(self, task.slot);
        }));
        self.level = saved;
        self.holding_slot = saved_hold;
        if let Err(payload) = result {
            self.run.fail(node, payload);
        }
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
        if self.may_inline(task.node as usize) {
            self.run_inline(task);
        } else {
            self.schedule(task);
        }
    }

    fn may_inline(&self, node: usize) -> bool {
        self.local.is_some()
            && !self.holding_slot
            && self.run.plans[node].level >= self.level
            && self.inline_depth < MAX_INLINE_DEPTH
            && !self.cancelled()
    }

    fn run_inline(&mut self, task: Task) {
        self.inline_depth += 1;
        self.execute(task);
        self.inline_depth -= 1;
    }

    /// Takes the batch handed to the stage whose inbox is `inbox`, if one
    /// was (see [`Cx::deliver`]). A stage that takes handoffs calls this
    /// first thing in `run`.
    pub(crate) fn take_handoff<T>(&mut self, inbox: &Inbox<T>) -> Option<Batch<T>> {
        if !std::ptr::eq(self.handoff.inbox, (inbox as *const Inbox<T>).cast()) {
            return None;
        }
        let batch = self.handoff.batch.cast::<Option<Batch<T>>>();
        self.handoff = Handoff::EMPTY;
        // SAFETY: `deliver::<U>` set the handoff to the address of the inbox
        // it was given, an `Inbox<U>`, and to a pointer to its
        // own `Option<Batch<U>>`. That inbox is `inbox`: one object has one
        // type, so `U = T` and the cast above is to the right type. The
        // `Option` lives in `deliver`'s frame, which is suspended below this
        // call (deliver -> run_inline -> the stage's `run` -> here) and is
        // not otherwise touched until that call returns; the handoff is
        // cleared here, so the pointer is read at most once.
        unsafe { (*batch).take() }
    }

    pub(crate) fn local(&self) -> Option<&[LocalQueue<Task>]> {
        self.local.as_deref()
    }

    pub(crate) fn plan(&self, id: usize) -> &'r NodePlan {
        &self.run.plans[id]
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.run.is_cancelled()
    }

    /// Queues a task and wakes a sleeping worker if there is one.
    pub(crate) fn schedule(&mut self, task: Task) {
        let level = self.run.plans[task.node as usize].level;
        match &self.local {
            Some(local) => local[level].push(task),
            None => self.run.injectors[level].push(task),
        }
        self.run.sleep.notify_work();
    }

    /// Hands `batch` to node `target` through its inbox.
    pub(crate) fn deliver<T>(&mut self, target: usize, inbox: &Inbox<T>, batch: Batch<T>) {
        // Count the batch before it can be seen, so the target cannot drain
        // to zero while it is on its way.
        self.run.cores[target].pending.add();
        if self.run.nodes[target].takes_handoff() && self.may_inline(target) {
            // Run the target here on this very batch: no inbox round trip.
            debug_assert!(self.handoff.inbox.is_null(), "nested handoff");
            let mut slot = Some(batch);
            self.handoff = Handoff {
                inbox: (inbox as *const Inbox<T>).cast(),
                batch: (&mut slot as *mut Option<Batch<T>>).cast(),
            };
            self.run_inline(Task::new(target, NO_SLOT as usize));
            self.handoff = Handoff::EMPTY;
            let Some(batch) = slot else {
                return;
            };
            // Not taken (the run was cancelled first): queue it as usual.
            inbox.push(batch);
            self.schedule(Task::new(target, NO_SLOT as usize));
            return;
        }
        inbox.push(batch);
        self.run.nodes[target].on_delivered(self);
    }

    /// Takes one more token of node `id` (a device job in flight, a part of
    /// a split source being produced).
    pub(crate) fn hold(&mut self, id: usize) {
        self.run.cores[id].pending.add();
    }

    /// Gives back one token of node `id`; finishes and closes it at zero.
    pub(crate) fn complete(&mut self, id: usize) {
        match self.run.cores[id].pending.complete() {
            Completion::Continue => {}
            Completion::Finish => self.finish(id),
            Completion::Close => self.close(id),
        }
    }

    /// Input of node `id` is over: let it emit what it holds, counted by the
    /// token `complete` took for us, then give that token back.
    #[cold]
    fn finish(&mut self, id: usize) {
        self.run.nodes[id].finish(self);
        self.complete(id);
    }

    /// Node `id` finished and drained: give back a token of every downstream
    /// node, and end the run after the last close.
    #[cold]
    fn close(&mut self, id: usize) {
        for &down in &self.run.plans[id].downstream {
            self.complete(down);
        }
        let closed = self.run.closed.fetch_add(1, Ordering::AcqRel) + 1;
        if closed == self.run.nodes.len() {
            self.run.flags.done.store(true, Ordering::Release);
            self.run.sleep.wake_all();
        }
    }

    /// Starts timing a batch of node `id` if it is one of those sampled.
    pub(crate) fn timer(&self, id: usize) -> Timer {
        let row = &self.stats[id];
        // `TIME_EVERY` is a power of two: the mask is `% TIME_EVERY`.
        let timed = row.slow || row.batches < TIME_EVERY || row.batches & (TIME_EVERY - 1) == 0;
        Timer(timed.then(Instant::now))
    }

    /// Records that node `id` processed a batch.
    pub(crate) fn record(&mut self, id: usize, items_in: usize, items_out: usize, timer: Timer) {
        let row = &mut self.stats[id];
        row.items_in += items_in as u64;
        row.items_out += items_out as u64;
        row.batches += 1;
        let Timer(Some(started)) = timer else {
            return;
        };
        let busy = started.elapsed();
        row.busy += busy;
        row.timed_batches += 1;
        row.slow = busy >= SLOW_BATCH;
        if items_in > 0 {
            let per_item = (busy.as_nanos() as u64 / items_in as u64).max(1);
            let cost = &self.run.cores[id].cost_ns;
            let old = cost.load(Ordering::Relaxed);
            let new = if old == 0 {
                per_item
            } else {
                (old * 3 + per_item) / 4
            };
            cost.store(new, Ordering::Relaxed);
        }
    }

    /// How many items a source should yield next.
    pub(crate) fn source_batch_size(&self, next_doubling: &mut usize) -> usize {
        let doubling = *next_doubling;
        *next_doubling = (doubling * 2).min(self.run.batch);
        if self.run.threads == 1 {
            // Deterministic: no timing may influence a single-thread run.
            return doubling;
        }
        let cost: u64 = self
            .run
            .cores
            .iter()
            .map(|c| c.cost_ns.load(Ordering::Relaxed))
            .sum();
        if cost == 0 {
            // Nothing measured yet: one item at a time. Doubling here let
            // idle workers take ever larger batches of coarse items before
            // the first one finished (64 zlib chunks at 8 threads: batches
            // of 1, 2, 4, .., 32, and a 1.6x speed-up instead of 2x).
            return 1;
        }
        ((TARGET_BATCH_NS / cost) as usize).clamp(1, self.run.batch)
    }

    /// Whether source `id` must stop producing.
    pub(crate) fn source_stopped(&self, id: usize) -> bool {
        self.run.cores[id].stopped.load(Ordering::Acquire) || self.cancelled()
    }

    /// Reserves room for up to `want` items for source `id`. Returns 0 if the
    /// graph is full; the source is then parked and will be rescheduled.
    pub(crate) fn reserve(&mut self, id: usize, want: usize) -> usize {
        let run = self.run;
        run.room
            .reserve(id, want, |source| self.schedule(source_task(source)))
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
            .release(n, |source| self.schedule(source_task(source)));
    }

    /// Stops the sources upstream of node `from` (`take`, `take_while`).
    pub(crate) fn stop_sources(&mut self, from: usize) {
        for &source in &self.run.plans[from].sources_above {
            // Release: the source's task reads the flag with Acquire
            // (`source_stopped`); the unpark's RMW comes after this store.
            self.run.cores[source]
                .stopped
                .store(true, Ordering::Release);
            // A parked source must run once more to see the flag and close.
            if self.run.room.unpark(source) {
                self.schedule(source_task(source));
            }
        }
    }
}

/// The task of source node `id`.
fn source_task(id: usize) -> Task {
    Task::new(id, NO_SLOT as usize)
}
