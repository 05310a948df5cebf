//! The public builder: [`Graph`], typed [`Port`]s, [`Options`], and the
//! analysis that turns the built graph into per-node plans for a run.

use crate::batch::{MAX_PATH_BRANCHES, MAX_PATH_DEPTH};
use crate::combinators;
use crate::device::{DeviceNode, ExclusiveBody, SharedBody};
use crate::inbox::Inbox;
use crate::node::{Edge, Node, StageNode, Wire};
use crate::report::{NodeReport, Report};
use crate::run::{NodePlan, Run};
use crate::scheduler::{execute, Pool};
use crate::source::{SourceNode, SplitSourceNode};
use crate::split::{IntoSplit, Split};
use crate::stage::{MapFn, SerialFn, Stage, StageMode};
use crate::sync::{lock, Arc};
use crossbeam_utils::CachePadded;
use rayon_core::ThreadPool;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::resume_unwind;
use std::time::Instant;

/// The id of a node in a [`Graph`]: its index, in creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

impl NodeId {
    /// The index of the node (also its index in [`Report::nodes`]).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The output of one or more nodes, carrying items of type `T`.
///
/// A port is consumed by the stage it feeds, so the types of every edge are
/// checked by the compiler: a stage taking `U` cannot be connected to a
/// `Port<T>`. To feed several stages, split it with [`Graph::fan_out`]; to
/// feed one stage from several, join ports with [`Graph::fan_in`].
///
/// ```compile_fail
/// let mut g = para_runtime::Graph::new();
/// let words = g.source(vec!["a", "b"]);
/// g.sink(words, |n: u64| drop(n)); // error: expected `&str`, found `u64`
/// ```
#[must_use = "a port that feeds no stage drops its items"]
pub struct Port<T> {
    ends: Vec<usize>,
    wires: Vec<Wire<T>>,
    /// For each wire, the fan-out branch indices this port took from it,
    /// outermost first (empty when the port is not a fan-out branch). The
    /// edges of a wire are kept sorted by this key, so the branch an ordered
    /// stage puts first is the branch's index in [`Graph::fan_out`], not the
    /// order in which the branches happen to be connected.
    branches: Vec<Vec<u32>>,
}

impl<T> Port<T> {
    fn single(id: usize, wire: Wire<T>) -> Self {
        Port {
            ends: vec![id],
            wires: vec![wire],
            branches: vec![Vec::new()],
        }
    }

    /// The node emitting into this port.
    ///
    /// # Panics
    ///
    /// If the port joins several nodes (made by [`Graph::fan_in`]).
    pub fn node(&self) -> NodeId {
        match self.ends.as_slice() {
            [id] => NodeId(*id),
            _ => panic!(
                "para: this port joins {} nodes; use Port::nodes",
                self.ends.len()
            ),
        }
    }

    /// Every node emitting into this port.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.ends.iter().map(|&id| NodeId(id)).collect()
    }
}

impl<T> fmt::Debug for Port<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port").field("nodes", &self.ends).finish()
    }
}

/// How to run a graph: worker count, pool, capacity and batch size.
///
/// ```
/// use para_runtime::{Graph, Options};
/// let mut g = Graph::new();
/// let src = g.source(0..1000u32);
/// let mut n = 0;
/// g.sink(src, |_| n += 1);
/// g.run_with(Options::new().threads(2).capacity(64).batch(16));
/// assert_eq!(n, 1000);
/// ```
#[derive(Clone, Copy, Default)]
pub struct Options<'p> {
    threads: Option<usize>,
    capacity: Option<usize>,
    batch: Option<usize>,
    pool: Option<&'p ThreadPool>,
}

/// The largest batch a worker takes from one stage when `batch` is not set.
///
/// Batches below it are sized by measured cost (about 50 µs of work per
/// batch), so this cap matters for cheap items only: per batch, each stage
/// pays about 100 ns (queueing, completion counting, its output `Vec`), a
/// tenth of a nanosecond per item at this size, while 2048 8-byte items
/// (16 KiB) still fit in L1 with room for the stage's output. On the
/// 3-stage W1 chain at 2 threads, 1024 gave 0.67 ns/item, 2048 0.52 and
/// 4096 0.45; the W4 diamond (16-byte tuples) got 2.25, 2.0 and 3.5.
pub const DEFAULT_BATCH: usize = 2048;

impl<'p> Options<'p> {
    /// Default options: the current rayon-core pool's size, the default
    /// capacity ([`Options::capacity`]), batches of up to [`DEFAULT_BATCH`]
    /// items.
    pub fn new() -> Self {
        Self::default()
    }

    /// Worker count. Without a `pool`, the run gets a private pool of this
    /// many threads. `0` is rejected when the run starts.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Most items alive inside the graph at once; sources pause at the bound.
    ///
    /// Without it, a run is still bounded: `4 * threads * batch` items (four
    /// full batches per worker, as oneTBB's rule of thumb of
    /// `max_live_tokens = 4 * threads` does with one batch per token), plus
    /// room for two full batches per lane of every device stage. Unbounded,
    /// a fast source in front of a serial bottleneck would queue its whole
    /// input in memory; with the bound, memory stays flat and the batches
    /// stay in cache.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Largest batch a worker takes from one stage (batches adapt below it).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Runs the workers inside this pool (the caller only waits).
    pub fn pool(mut self, pool: &'p ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("batch", &self.batch)
            .field("pool", &self.pool.map(|_| "ThreadPool"))
            .finish()
    }
}

/// What kind of node a spec describes, for the analysis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Source,
    Stage(StageMode),
    Device { lanes: usize, batch: usize },
}

struct Spec {
    label: Option<String>,
    kind: &'static str,
    role: Role,
    upstream: Vec<usize>,
    downstream: Vec<usize>,
    /// The fan-out branch key of each outgoing edge, in edge order (see
    /// `Port::branches`).
    edge_keys: Vec<Vec<u32>>,
    priority: Option<i32>,
    replicate: Option<usize>,
}

/// A graph of typed stages, built at run time and run on all cores.
///
/// Stages may borrow from the caller's stack: [`Graph::run`] returns only
/// after every stage has finished, like `std::thread::scope`.
///
/// ```
/// use para_runtime::Graph;
///
/// let data = vec![0, 1, 2];
/// let mut sum = 0;
/// let mut g = Graph::new();
/// let src = g.source(data);
/// // The seed example: fan-out to two branches, fan-in to one sink.
/// let [a, b] = <[_; 2]>::try_from(g.fan_out(src, 2)).unwrap();
/// let a = g.map(a, |x: i32| (x * 2, x));
/// let a = g.map(a, |(x2, x)| x2 - x);
/// let b = g.map(b, |x: i32| -x);
/// let joined = g.fan_in([a, b]);
/// g.sink(joined, |x| sum += x);
/// let report = g.run();
/// assert_eq!(sum, 0);
/// assert_eq!(report.nodes.len(), 5);
/// ```
pub struct Graph<'a> {
    nodes: Vec<Box<dyn Node + 'a>>,
    specs: Vec<Spec>,
}

impl Default for Graph<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Graph<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl<'a> Graph<'a> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            nodes: Vec::new(),
            specs: Vec::new(),
        }
    }

    /// Number of nodes so far.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push_spec(&mut self, kind: &'static str, role: Role) -> usize {
        self.specs.push(Spec {
            label: None,
            kind,
            role,
            upstream: Vec::new(),
            downstream: Vec::new(),
            edge_keys: Vec::new(),
            priority: None,
            replicate: None,
        });
        self.specs.len() - 1
    }

    /// Connects every node of `from` to node `to` through `inbox`.
    ///
    /// A wire's edge order is its fan-out branch order (the path digit an
    /// ordered stage sorts by, see `Outlets::emit`), so each edge goes in at
    /// the place of its branch key rather than at the end: branches of one
    /// fan-out may be connected in any order.
    fn connect<T>(&mut self, from: Port<T>, to: usize, inbox: &Arc<Inbox<T>>) {
        for ((end, wire), key) in from.ends.into_iter().zip(from.wires).zip(from.branches) {
            let spec = &mut self.specs[end];
            let at = spec.edge_keys.partition_point(|k| *k <= key);
            lock(&wire).edges.insert(
                at,
                Edge {
                    target: to,
                    inbox: inbox.clone(),
                },
            );
            spec.edge_keys.insert(at, key);
            spec.downstream.insert(at, to);
            self.specs[to].upstream.push(end);
        }
    }

    /// A serial source: one worker at a time pulls batches from `iter`.
    pub fn source<I>(&mut self, iter: I) -> Port<I::Item>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'a,
        I::Item: Send + 'a,
    {
        let id = self.push_spec("source", Role::Source);
        let wire = Wire::default();
        self.nodes.push(Box::new(SourceNode::new(
            id,
            iter.into_iter(),
            wire.clone(),
        )));
        Port::single(id, wire)
    }

    /// A splittable source (`#[split]`): several workers produce parts of it
    /// at once. Items are integers for ranges, `&T` for slices, `T` for
    /// `Vec<T>`.
    ///
    /// ```
    /// let mut g = para_runtime::Graph::new();
    /// let src = g.split_source(0..10_000u64);
    /// let squares = g.map(src, |x| x * x);
    /// let mut sum = 0;
    /// g.sink(squares, |x| sum += x);
    /// g.run();
    /// assert_eq!(sum, (0..10_000u64).map(|x| x * x).sum());
    /// ```
    pub fn split_source<S>(&mut self, source: S) -> Port<<S::Split as Split>::Item>
    where
        S: IntoSplit,
        S::Split: 'a,
        <S::Split as Split>::Item: 'a,
    {
        let id = self.push_spec("split", Role::Source);
        let wire = Wire::default();
        self.nodes.push(Box::new(SplitSourceNode::new(
            id,
            source.into_split(),
            wire.clone(),
        )));
        Port::single(id, wire)
    }

    /// Any [`Stage`]: a combinator or a stage type of your own.
    pub fn stage<T, S>(&mut self, from: Port<T>, stage: S) -> Port<S::Out>
    where
        T: Send + 'a,
        S: Stage<T> + 'a,
        S::Out: 'a,
    {
        let kind = stage.name();
        self.add_stage(from, stage, kind)
    }

    fn add_stage<T, S>(&mut self, from: Port<T>, stage: S, kind: &'static str) -> Port<S::Out>
    where
        T: Send + 'a,
        S: Stage<T> + 'a,
        S::Out: 'a,
    {
        let id = self.push_spec(kind, Role::Stage(stage.mode()));
        let inbox = Arc::new(Inbox::new());
        self.connect(from, id, &inbox);
        let wire = Wire::default();
        self.nodes
            .push(Box::new(StageNode::new(id, stage, inbox, wire.clone())));
        Port::single(id, wire)
    }

    /// A parallel map: many workers call `f` at once.
    pub fn map<T, U, F>(&mut self, from: Port<T>, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: Fn(T) -> U + Send + Sync + 'a,
    {
        self.add_stage(from, MapFn(f), "map")
    }

    /// A stateful map (`#[serial]`): one worker at a time, any order.
    pub fn serial_map<T, U, F>(&mut self, from: Port<T>, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(T) -> U + Send + 'a,
    {
        self.add_stage(
            from,
            SerialFn::new(f, StageMode::Serial, "serial"),
            "serial",
        )
    }

    /// An ordered map (`#[ordered]`): one worker at a time, items in source
    /// order, even after filters, flat-maps, fan-outs and fan-ins upstream.
    ///
    /// # Panics
    ///
    /// When the run starts, if items can reach it from several sources.
    pub fn ordered_map<T, U, F>(&mut self, from: Port<T>, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(T) -> U + Send + 'a,
    {
        self.add_stage(
            from,
            SerialFn::new(f, StageMode::Ordered, "ordered"),
            "ordered",
        )
    }

    /// A serial sink: one worker at a time, so `f` may mutate captured state.
    pub fn sink<T, R, F>(&mut self, from: Port<T>, f: F) -> NodeId
    where
        T: Send + 'a,
        R: Send + 'a,
        F: FnMut(T) -> R + Send + 'a,
    {
        self.add_stage(from, SerialFn::new(f, StageMode::Serial, "sink"), "sink")
            .node()
    }

    /// A parallel sink (`#[parallel]`): many workers call `f` at once.
    pub fn parallel_sink<T, R, F>(&mut self, from: Port<T>, f: F) -> NodeId
    where
        T: Send + 'a,
        R: Send + 'a,
        F: Fn(T) -> R + Send + Sync + 'a,
    {
        self.add_stage(from, MapFn(f), "sink").node()
    }

    /// An ordered sink: items in source order (see [`Graph::ordered_map`]).
    pub fn ordered_sink<T, R, F>(&mut self, from: Port<T>, f: F) -> NodeId
    where
        T: Send + 'a,
        R: Send + 'a,
        F: FnMut(T) -> R + Send + 'a,
    {
        self.add_stage(
            from,
            SerialFn::new(f, StageMode::Ordered, "ordered"),
            "ordered sink",
        )
        .node()
    }

    /// Keeps the items for which `predicate` holds (parallel).
    pub fn filter<T, F>(&mut self, from: Port<T>, predicate: F) -> Port<T>
    where
        T: Send + 'a,
        F: Fn(&T) -> bool + Send + Sync + 'a,
    {
        self.stage(from, combinators::filter(predicate))
    }

    /// Maps to `Option` and keeps the `Some` values (parallel).
    pub fn filter_map<T, U, F>(&mut self, from: Port<T>, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: Fn(T) -> Option<U> + Send + Sync + 'a,
    {
        self.stage(from, combinators::filter_map(f))
    }

    /// Maps each item to an iterable and emits its items (parallel).
    pub fn flat_map<T, I, F>(&mut self, from: Port<T>, f: F) -> Port<I::Item>
    where
        T: Send + 'a,
        I: IntoIterator,
        I::Item: Send + 'a,
        F: Fn(T) -> I + Send + Sync + 'a,
    {
        self.stage(from, combinators::flat_map(f))
    }

    /// Calls `f` on each item and passes it on (parallel).
    pub fn inspect<T, F>(&mut self, from: Port<T>, f: F) -> Port<T>
    where
        T: Send + 'a,
        F: Fn(&T) + Send + Sync + 'a,
    {
        self.stage(from, combinators::inspect(f))
    }

    /// Groups items into `Vec`s of up to `size` (see [`combinators::batch`]).
    pub fn batch<T: Send + 'a>(&mut self, from: Port<T>, size: usize) -> Port<Vec<T>> {
        self.stage(from, combinators::batch(size))
    }

    /// Splits `Vec`s (or any iterables) back into items.
    pub fn unbatch<I>(&mut self, from: Port<I>) -> Port<I::Item>
    where
        I: IntoIterator + Send + 'a,
        I::Item: Send + 'a,
    {
        self.stage(from, combinators::unbatch())
    }

    /// Passes the first `n` items in source order, then stops the sources.
    pub fn take<T: Send + 'a>(&mut self, from: Port<T>, n: usize) -> Port<T> {
        self.stage(from, combinators::take(n))
    }

    /// Passes items in source order while `predicate` holds, then stops the
    /// sources.
    pub fn take_while<T, F>(&mut self, from: Port<T>, predicate: F) -> Port<T>
    where
        T: Send + 'a,
        F: Fn(&T) -> bool + Send + Sync + 'a,
    {
        self.stage(from, combinators::take_while(predicate))
    }

    /// A device stage (`#[gpu(batch = N, lanes = L)]`): `f` takes batches of
    /// up to `batch` items and must return one output per input, in order.
    /// It runs on `lanes` dedicated threads that do not count against
    /// `threads`; workers never wait for it.
    ///
    /// # Panics
    ///
    /// If `batch` or `lanes` is 0. During the run, if `f` returns a
    /// different number of items than it was given.
    pub fn device<T, U, F>(&mut self, from: Port<T>, batch: usize, lanes: usize, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: Fn(Vec<T>) -> Vec<U> + Send + Sync + 'a,
    {
        assert!(lanes > 0, "para: a #[gpu] stage needs at least one lane");
        self.add_device(from, batch, lanes, SharedBody(f))
    }

    /// A device stage with one lane whose body may be `FnMut` (it can own a
    /// device handle). See [`Graph::device`].
    pub fn device_mut<T, U, F>(&mut self, from: Port<T>, batch: usize, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(Vec<T>) -> Vec<U> + Send + 'a,
    {
        self.add_device(from, batch, 1, ExclusiveBody(crate::sync::Mutex::new(f)))
    }

    fn add_device<T, U, B>(&mut self, from: Port<T>, batch: usize, lanes: usize, body: B) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        B: crate::device::DeviceBody<T, U> + 'a,
    {
        let id = self.push_spec("device", Role::Device { lanes, batch });
        let inbox = Arc::new(Inbox::new());
        self.connect(from, id, &inbox);
        let wire = Wire::default();
        self.nodes.push(Box::new(DeviceNode::new(
            id,
            batch,
            inbox,
            wire.clone(),
            body,
        )));
        Port::single(id, wire)
    }

    /// Splits a port into `n` branches: every branch gets every item (the
    /// last branch the original, the others clones). An ordered stage where
    /// branches meet again sees, for each item, the outputs of branch 0
    /// first, then branch 1, and so on, whatever order the branches are
    /// connected to their stages in.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    pub fn fan_out<T: Clone + Send + 'a>(&mut self, from: Port<T>, n: usize) -> Vec<Port<T>> {
        assert!(n > 0, "para: a fan-out needs at least one branch");
        for wire in &from.wires {
            lock(wire).clone = Some(Vec::<T>::extend_from_slice);
        }
        (0..n)
            .map(|branch| Port {
                ends: from.ends.clone(),
                wires: from.wires.clone(),
                branches: from
                    .branches
                    .iter()
                    .map(|key| {
                        let mut key = key.clone();
                        key.push(branch as u32);
                        key
                    })
                    .collect(),
            })
            .collect()
    }

    /// Joins ports into one: the stage it feeds gets the items of all.
    ///
    /// # Panics
    ///
    /// If `ports` is empty.
    pub fn fan_in<T>(&mut self, ports: impl IntoIterator<Item = Port<T>>) -> Port<T> {
        let mut joined = Port {
            ends: Vec::new(),
            wires: Vec::new(),
            branches: Vec::new(),
        };
        for port in ports {
            joined.ends.extend(port.ends);
            joined.wires.extend(port.wires);
            joined.branches.extend(port.branches);
        }
        assert!(
            !joined.ends.is_empty(),
            "para: fan_in needs at least one port"
        );
        joined
    }

    /// Names a node (reports, panic messages).
    pub fn label(&mut self, node: NodeId, label: impl Into<String>) -> &mut Self {
        self.specs[node.0].label = Some(label.into());
        self
    }

    /// Sets a node's priority (`#[priority(N)]`): among ready stages,
    /// higher runs first. Nodes without one rank below any positive priority
    /// and, among themselves, downstream and stateful stages first.
    pub fn priority(&mut self, node: NodeId, priority: i32) -> &mut Self {
        self.specs[node.0].priority = Some(priority);
        self
    }

    /// At most `n` workers run this parallel stage at once (`#[replicate(N)]`).
    /// Serial stages already run on one worker at a time.
    ///
    /// # Panics
    ///
    /// If `n` is 0.
    pub fn replicate(&mut self, node: NodeId, n: usize) -> &mut Self {
        assert!(
            n > 0,
            "para: replicate(0): a stage needs at least one worker"
        );
        self.specs[node.0].replicate = Some(n);
        self
    }

    /// Runs the graph with default [`Options`] and returns its [`Report`].
    pub fn run(self) -> Report {
        self.run_with(Options::new())
    }

    /// The capacity of a run without one: see [`Options::capacity`].
    fn default_capacity(&self, threads: usize, batch: usize) -> usize {
        let devices: usize = self
            .specs
            .iter()
            .map(|spec| match spec.role {
                Role::Device { lanes, batch } => 2 * lanes.max(1) * batch,
                _ => 0,
            })
            .fold(0, usize::saturating_add);
        threads
            .saturating_mul(batch)
            .saturating_mul(4)
            .saturating_add(devices)
    }

    /// Runs the graph. Blocks until every stage has finished. If a stage
    /// panics, the run is cancelled, every item still inside is dropped, and
    /// the panic resumes here.
    ///
    /// # Panics
    ///
    /// If `threads`, `capacity` or `batch` is 0, if an ordered stage can be
    /// reached from several sources, or if a stage panics.
    pub fn run_with(mut self, options: Options<'_>) -> Report {
        let threads = match (options.threads, options.pool) {
            (Some(threads), _) => threads,
            (None, Some(pool)) => pool.current_num_threads(),
            (None, None) => rayon_core::current_num_threads(),
        };
        assert!(
            threads > 0,
            "para: threads = 0: a run needs at least one worker thread"
        );
        assert!(
            options.capacity != Some(0),
            "para: capacity = 0: no item could ever enter the graph; use at least 1"
        );
        let batch = options.batch.unwrap_or(DEFAULT_BATCH);
        assert!(batch > 0, "para: batch = 0: batches need at least one item");
        let pool = match (options.pool, options.threads) {
            (Some(pool), _) => Pool::Given(pool),
            (None, Some(threads)) => Pool::Private(threads),
            (None, None) => Pool::Current,
        };
        let plans = self.plan(threads);
        for (node, plan) in self.nodes.iter_mut().zip(&plans) {
            node.prepare(plan);
        }
        let edges = self
            .specs
            .iter()
            .enumerate()
            .flat_map(|(id, s)| s.downstream.iter().map(move |&d| (id, d)))
            .collect();
        let capacity = options
            .capacity
            .unwrap_or_else(|| self.default_capacity(threads, batch));
        // On the heap and padded: workers read the run's fields all the
        // time, and on the caller's stack they could share a cache line
        // with the variables a sink writes per item.
        let run = Box::new(CachePadded::new(Run::new(
            self.nodes,
            plans,
            threads,
            Some(capacity),
            batch,
        )));
        let started = Instant::now();
        execute(&run, pool);
        let elapsed = started.elapsed();
        if let Some(payload) = run.take_failure() {
            drop(run); // drops every item still inside, before unwinding
            resume_unwind(payload);
        }
        let stats = run.stats();
        let nodes = run
            .plans
            .iter()
            .zip(stats)
            .enumerate()
            .map(|(id, (plan, s))| NodeReport {
                id,
                label: plan.label.clone(),
                kind: plan.kind,
                items_in: s.items_in,
                items_out: s.items_out,
                batches: s.batches,
                busy: s.busy,
            })
            .collect();
        Report {
            nodes,
            edges,
            threads,
            elapsed,
            peak_alive: run.peak_alive(),
        }
    }

    /// Analyses the graph: priority levels, ordering regions, sources above
    /// each node.
    fn plan(&self, threads: usize) -> Vec<NodePlan> {
        let n = self.specs.len();
        let labels: Vec<String> = self
            .specs
            .iter()
            .enumerate()
            .map(|(id, s)| {
                s.label
                    .clone()
                    .unwrap_or_else(|| format!("{}#{id}", s.kind))
            })
            .collect();
        // Node ids are a topological order: an edge always leads to a node
        // created after its upstream.
        let mut depth = vec![0usize; n];
        let mut sources_above: Vec<Vec<usize>> = vec![Vec::new(); n];
        for id in 0..n {
            let spec = &self.specs[id];
            if spec.role == Role::Source {
                sources_above[id] = vec![id];
            }
            for &up in &spec.upstream {
                debug_assert!(up < id);
                depth[id] = depth[id].max(depth[up] + 1);
                let above = sources_above[up].clone();
                sources_above[id].extend(above);
            }
            sources_above[id].sort_unstable();
            sources_above[id].dedup();
        }
        // Priority: an explicit priority first, then downstream and stateful
        // stages before upstream ones, so queues drain and memory stays low.
        let keys: Vec<(i32, usize)> = (0..n)
            .map(|id| {
                let spec = &self.specs[id];
                let stateful = match spec.role {
                    Role::Stage(mode) => mode.is_serial(),
                    Role::Device { .. } => true,
                    Role::Source => false,
                };
                (
                    spec.priority.unwrap_or(0),
                    depth[id] * 2 + stateful as usize,
                )
            })
            .collect();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let mut plans: Vec<NodePlan> = (0..n)
            .map(|id| {
                let spec = &self.specs[id];
                NodePlan {
                    label: labels[id].clone(),
                    kind: spec.kind,
                    level: distinct.binary_search(&keys[id]).expect("present"),
                    downstream: spec.downstream.clone(),
                    initial_pending: if spec.role == Role::Source {
                        1
                    } else {
                        spec.upstream.len()
                    },
                    is_source: spec.role == Role::Source,
                    replicate: spec.replicate,
                    sources_above: sources_above[id].clone(),
                    has_partial: matches!(
                        spec.role,
                        Role::Stage(StageMode::Regroup) | Role::Device { .. }
                    ),
                    lanes: match spec.role {
                        Role::Device { lanes, .. } if threads > 1 => lanes,
                        _ => 0,
                    },
                    ..NodePlan::default()
                }
            })
            .collect();
        self.plan_ordering(&labels, &mut plans);
        plans
    }

    /// Which nodes restore order, how many paths reach them from their
    /// origin, and which nodes must forward empty batches and origins.
    fn plan_ordering(&self, labels: &[String], plans: &mut [NodePlan]) {
        let n = self.specs.len();
        // For each node, the origins its *output* descends from and the
        // number of distinct paths from each.
        let mut out_origins: Vec<BTreeMap<usize, usize>> = vec![BTreeMap::new(); n];
        let mut boundary = vec![false; n];
        for id in 0..n {
            let spec = &self.specs[id];
            let mut input: BTreeMap<usize, usize> = BTreeMap::new();
            for &up in &spec.upstream {
                for (&origin, &paths) in &out_origins[up] {
                    *input.entry(origin).or_default() += paths;
                }
            }
            out_origins[id] = match spec.role {
                Role::Source => {
                    boundary[id] = true;
                    BTreeMap::from([(id, 1)])
                }
                Role::Stage(StageMode::Ordered) => {
                    if input.len() != 1 {
                        let names: Vec<&str> = input.keys().map(|&o| labels[o].as_str()).collect();
                        panic!(
                            "para: ordered stage '{}' can be reached from several sources ({}); \
                             source order is only defined for one source",
                            labels[id],
                            names.join(", ")
                        );
                    }
                    let (&origin, &paths) = input.iter().next().expect("one origin");
                    plans[id].ordered_input = true;
                    plans[id].paths = paths;
                    boundary[id] = true;
                    BTreeMap::from([(origin, 1)])
                }
                Role::Stage(StageMode::Regroup) => {
                    if let [(_, &paths)] = input.iter().collect::<Vec<_>>().as_slice() {
                        plans[id].ordered_input = true;
                        plans[id].paths = paths;
                    }
                    boundary[id] = true;
                    BTreeMap::from([(id, 1)])
                }
                _ => input,
            };
        }
        // Mark each ordered node's region: the nodes between it and the
        // nearest boundary upstream (an origin or another ordered stage).
        // Downstream nodes first: an ordered stage whose output must carry
        // per-item origins (a merging ordered stage further down marked it
        // `track_origin`) needs them on its own input too, or it passes on
        // an identity mapping that a flat-map or unbatch in its region has
        // made wrong, and the merge further down drops items. A regrouping
        // stage starts new origin items, so it needs nothing of the kind.
        for id in (0..n).rev() {
            if !plans[id].ordered_input {
                continue;
            }
            let regroup = self.specs[id].role == Role::Stage(StageMode::Regroup);
            let merge = plans[id].paths > 1 || (plans[id].track_origin && !regroup);
            let mut stack = self.specs[id].upstream.clone();
            let mut seen = vec![false; n];
            while let Some(up) = stack.pop() {
                if std::mem::replace(&mut seen[up], true) {
                    continue;
                }
                plans[up].forward_empty = true;
                plans[up].track_origin |= merge;
                if !boundary[up] {
                    stack.extend(self.specs[up].upstream.iter().copied());
                }
            }
            if plans[id].paths > 1 {
                self.check_path_digits(id, labels);
            }
        }
    }

    /// Paths to an ordered stage that merges several are told apart by one
    /// byte per fan-out: check they fit. Paths count from the origin (a
    /// source or a regrouping stage): they run on through ordered stages
    /// (see `order::merge`), so the walk does too.
    fn check_path_digits(&self, ordered: usize, labels: &[String]) {
        fn walk(g: &Graph<'_>, node: usize, fanouts: u32, worst: &mut (u32, usize)) {
            for &up in &g.specs[node].upstream {
                let branches = g.specs[up].downstream.len();
                let fanouts = fanouts + u32::from(branches > 1);
                worst.0 = worst.0.max(fanouts);
                worst.1 = worst.1.max(branches);
                let origin = matches!(
                    g.specs[up].role,
                    Role::Source | Role::Stage(StageMode::Regroup)
                );
                if !origin {
                    walk(g, up, fanouts, worst);
                }
            }
        }
        let mut worst = (0, 0);
        walk(self, ordered, 0, &mut worst);
        assert!(
            worst.0 <= MAX_PATH_DEPTH && worst.1 <= MAX_PATH_BRANCHES,
            "para: ordered stage '{}' merges paths through {} nested fan-outs of up to {} \
             branches; ordering through a diamond supports at most {} nested fan-outs of at \
             most {} branches",
            labels[ordered],
            worst.0,
            worst.1,
            MAX_PATH_DEPTH,
            MAX_PATH_BRANCHES
        );
    }
}
