//! [`Run`]: the state one run shares between its threads.
//!
//! Two protocols live in their own modules, where loom models check them,
//! and are driven from here and from the executor: node completion (finish
//! once, then close once; see `protocol::completion`) and the capacity
//! bound (sources park when the graph is full; see `protocol::park`).

use crate::api::id::NodeId;
use crate::data::queue::{LocalQueue, SharedQueue, Thief};
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::remote::{cancel, Flags, Remote};
use crate::exec::stats::NodeStats;
use crate::exec::task::Task;
use crate::exec::trace::Recorder;
use crate::protocol::completion::Pending;
use crate::protocol::crew::Crew;
use crate::protocol::park::Capacity;
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, AtomicUsize, CachePadded, Mutex, Ordering};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run-time counters of one node (cache-padded: written by many workers).
pub(crate) struct NodeCore {
    /// The completion tokens (see `protocol::completion`).
    pub(crate) pending: Pending,
    pub(crate) stopped: AtomicBool,
    /// Exponential moving average of the node's cost per source item, in ns
    /// (0 = not measured yet). Feeds the sources' batch-size choice.
    pub(crate) cost_ns: AtomicU64,
}

/// Who failed: a stage (by node) or the runtime itself (a bug).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Culprit {
    Node(NodeId),
    Runtime,
}

/// Shared state of one run.
pub(crate) struct Run<'g> {
    pub(crate) nodes: Vec<Box<dyn Node + 'g>>,
    pub(crate) plans: Vec<NodePlan>,
    pub(crate) cores: Vec<CachePadded<NodeCore>>,
    pub(crate) levels: usize,
    /// Tasks pushed by threads that are not workers (lanes, the caller,
    /// the threads of a [`Remote`]).
    pub(crate) injectors: Arc<Vec<SharedQueue<Task>>>,
    /// `[worker][level]`: the stealing ends of the workers' deques.
    pub(crate) thieves: Vec<Vec<Thief<Task>>>,
    locals: Mutex<Vec<Option<Vec<LocalQueue<Task>>>>>,
    /// The worker slots and their jobs (see `protocol::crew`).
    pub(crate) crew: Arc<Crew>,
    /// Items inside the graph and the sources parked on the bound.
    pub(crate) room: Arc<Capacity>,
    pub(crate) batch: usize,
    pub(crate) threads: usize,
    /// Read by every worker between tasks and written once: a line of its
    /// own, so that no counter written per batch shares it.
    pub(crate) flags: Arc<CachePadded<Flags>>,
    pub(crate) closed: AtomicUsize,
    failure: Mutex<Option<Box<dyn Any + Send>>>,
    stats: Mutex<Vec<NodeStats>>,
    /// The run's trace, if it is traced (see `exec::trace`).
    pub(crate) trace: Option<Recorder>,
    /// The counters the progress line reads, if it is shown (see
    /// `exec::progress`).
    #[cfg(feature = "progress")]
    pub(crate) live: Option<crate::exec::progress::Live>,
}

/// What a run records besides its report (see `exec::trace` and
/// `exec::progress`).
#[derive(Default)]
pub(crate) struct Watching<'a> {
    /// Write a trace to this file.
    pub(crate) trace: Option<&'a std::path::Path>,
    /// Show the progress line.
    pub(crate) progress: bool,
}

impl<'g> Run<'g> {
    /// A run of `nodes` planned as `plans`, on `threads` workers, with at
    /// most `capacity` items inside and batches of at most `batch` items.
    pub(crate) fn new(
        nodes: Vec<Box<dyn Node + 'g>>,
        plans: Vec<NodePlan>,
        threads: usize,
        capacity: usize,
        batch: usize,
        watching: Watching<'_>,
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
        let sources = (0..plans.len())
            .filter(|&i| plans[i].is_source)
            .map(NodeId::new);
        let n = nodes.len();
        let trace = watching
            .trace
            .map(|path| Recorder::create(path, threads, &plans));
        #[cfg(feature = "progress")]
        let live = watching
            .progress
            .then(|| crate::exec::progress::Live::new(&plans, &nodes));
        #[cfg(not(feature = "progress"))]
        let _ = watching.progress;
        Run {
            nodes,
            cores,
            levels,
            injectors: Arc::new((0..levels).map(|_| SharedQueue::new()).collect()),
            thieves,
            locals: Mutex::new(locals.into_iter().map(Some).collect()),
            crew: Arc::new(Crew::new(threads)),
            room: Arc::new(Capacity::new(capacity, sources)),
            batch,
            threads,
            flags: Arc::new(CachePadded::new(Flags {
                cancelled: AtomicBool::new(false),
                done: AtomicBool::new(n == 0),
            })),
            closed: AtomicUsize::new(0),
            failure: Mutex::new(None),
            stats: Mutex::new(vec![NodeStats::default(); n]),
            plans,
            trace,
            #[cfg(feature = "progress")]
            live,
        }
    }

    /// Node `id`.
    pub(crate) fn node(&self, id: NodeId) -> &(dyn Node + 'g) {
        &*self.nodes[id.index()]
    }

    /// The plan of node `id`.
    pub(crate) fn plan(&self, id: NodeId) -> &NodePlan {
        &self.plans[id.index()]
    }

    /// The run-time counters of node `id`.
    pub(crate) fn core(&self, id: NodeId) -> &NodeCore {
        &self.cores[id.index()]
    }

    /// Every node id, in creation (topological) order.
    pub(crate) fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len()).map(NodeId::new)
    }

    /// The deques of worker slot `index`, for the loop that holds the slot.
    pub(crate) fn take_locals(&self, index: usize) -> Vec<LocalQueue<Task>> {
        lock(&self.locals)[index]
            .take()
            .expect("para internal error: two loops in one worker slot")
    }

    /// Puts back the deques of worker slot `index` (empty: a loop leaves
    /// only when it found no task, and only the owner pushes to them).
    pub(crate) fn return_locals(&self, index: usize, locals: Vec<LocalQueue<Task>>) {
        lock(&self.locals)[index] = Some(locals);
    }

    pub(crate) fn is_done(&self) -> bool {
        self.flags.done.load(Ordering::Acquire)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Acquire)
    }

    /// Whether any task is queued anywhere (slow path: a worker leaving).
    pub(crate) fn has_work(&self) -> bool {
        self.injectors.iter().any(|q| !q.is_empty())
            || self.thieves.iter().flatten().any(|t| !t.is_empty())
    }

    /// Runs `f`, turning a panic into the run's failure: the run is
    /// cancelled and the first payload kept for the caller. Returns `None`
    /// when `f` panicked. The one place a panic is caught: user code on a
    /// worker or a lane (attributed to its node) and the worker loop itself
    /// (a runtime bug).
    pub(crate) fn catch<R>(&self, culprit: Culprit, f: impl FnOnce() -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => Some(value),
            Err(payload) => {
                self.fail(culprit, payload);
                None
            }
        }
    }

    /// A handle on this run for threads outside it (see [`Remote`]).
    pub(crate) fn remote(&self) -> Remote {
        Remote::new(
            self.injectors.clone(),
            self.crew.clone(),
            self.room.clone(),
            self.flags.clone(),
            self.plans.iter().map(|p| p.level).collect(),
        )
    }

    /// Records a panic: cancels the run and keeps the first payload.
    fn fail(&self, culprit: Culprit, payload: Box<dyn Any + Send>) {
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            match culprit {
                Culprit::Node(node) => {
                    let plan = self.plan(node);
                    let fused = match self.node(node).fused_with() {
                        Some(other) => {
                            let other_plan = self.plan(other);
                            format!(
                                ", run fused with '{}' ({} {other})",
                                other_plan.label, other_plan.kind
                            )
                        }
                        None => String::new(),
                    };
                    eprintln!(
                        "para: stage '{}' ({} {node}{fused}) panicked; cancelling the run",
                        plan.label, plan.kind
                    );
                }
                Culprit::Runtime => {
                    eprintln!("para: internal error in a worker; cancelling the run")
                }
            }
            *failure = Some(payload);
        }
        drop(failure);
        cancel(&self.flags, &self.crew);
    }

    pub(crate) fn take_failure(&self) -> Option<Box<dyn Any + Send>> {
        lock(&self.failure).take()
    }

    /// Adds one thread's statistics rows to the run's.
    pub(crate) fn merge_stats(&self, rows: &[NodeStats]) {
        let mut total = lock(&self.stats);
        for (t, r) in total.iter_mut().zip(rows) {
            t.merge(r);
        }
    }

    pub(crate) fn stats(&self) -> Vec<NodeStats> {
        lock(&self.stats).clone()
    }

    /// Whether the run is traced or shows progress: its threads then time
    /// every batch and record it (see `exec::trace`).
    pub(crate) fn is_watched(&self) -> bool {
        #[cfg(feature = "progress")]
        if self.live.is_some() {
            return true;
        }
        self.trace.is_some()
    }

    pub(crate) fn peak_alive(&self) -> usize {
        self.room.peak()
    }

    /// Takes a token of node `id` if it is not drained yet (for a stall
    /// flush, which must not race with the node's finish).
    pub(crate) fn try_hold(&self, id: NodeId) -> bool {
        self.core(id).pending.try_hold()
    }
}
