//! [`Graph`]: the builder users call. It builds; the planner
//! (`build::plan`) analyses; the executor (`exec`) runs.

use crate::api::combinators;
use crate::api::id::NodeId;
use crate::api::report::Report;
use crate::api::split::{IntoSplit, Split};
use crate::api::stage::{MapFn, SerialFn, Stage, StageMode};
use crate::build::options::Options;
use crate::build::plan::{plan, Role, Spec};
use crate::build::port::{Port, StreamPort};
use crate::data::inbox::Inbox;
use crate::exec::node::Node;
use crate::exec::scheduler::{run_to_end, Launch};
use crate::nodes::device::{DeviceNode, ExclusiveBody, SharedBody};
use crate::nodes::feed::{Feed, FeedNode};
use crate::nodes::fold::{Accumulators, FoldNode, FusedFoldNode};
use crate::nodes::fused_map::FusedMapTail;
use crate::nodes::outlets::{Edge, Wire};
use crate::nodes::source::{IterSupply, SourceNode, SplitSupply};
use crate::nodes::stage::StageNode;
use crate::nodes::stream::{Flow, Pass, Stream};
use crate::sync::{lock, thread, Arc, Mutex};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A graph of typed stages, built at run time and run on all cores.
///
/// Stages may borrow from the caller's stack: [`Graph::run`] returns only
/// after every stage has finished, like `std::thread::scope`.
///
/// ```
/// use para::Graph;
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
/// assert_eq!(report.nodes().len(), 5);
/// ```
///
/// # Declare what the stages borrow before the graph
///
/// A `Graph<'a>` holds borrows for `'a`, so everything its stages borrow
/// must outlive it. Variables are dropped in the reverse order of their
/// declaration, and rustc must assume the graph may still be dropped at the
/// end of the scope (a call before `run` may panic, and the unwinding then
/// drops the graph), so state that has a destructor (a `Vec`, a `String`, a
/// `HashMap`) declared *after* `Graph::new()` is rejected:
///
/// ```compile_fail,E0597
/// use para::Graph;
///
/// let mut g = Graph::new();
/// let mut seen = Vec::new(); // declared after the graph: dropped before it
/// let src = g.source(0..10);
/// g.sink(src, |x: i32| seen.push(x));
/// g.run();
/// ```
///
/// ```text
/// error[E0597]: `seen` does not live long enough
///   |
///   |     let mut seen = Vec::new();
///   |         -------- binding `seen` declared here
///   |     let src = g.source(0..10);
///   |     g.sink(src, |x: i32| seen.push(x));
///   |                 -------- ^^^^ borrowed value does not live long enough
///   |                 |
///   |                 value captured here
/// ...
///   | }
///   | -
///   | |
///   | `seen` dropped here while still borrowed
///   | borrow might be used here, when `g` is dropped and runs the destructor for type `Graph<'_>`
///   |
///   = note: values in a scope are dropped in the opposite order they are defined
/// ```
///
/// The fix is the order: declare the state first, then the graph.
///
/// ```
/// use para::Graph;
///
/// let mut seen = Vec::new(); // declared before the graph: outlives it
/// let mut g = Graph::new();
/// let src = g.source(0..10);
/// g.sink(src, |x: i32| seen.push(x));
/// g.run();
/// assert_eq!(seen.len(), 10);
/// ```
pub struct Graph<'a> {
    nodes: Vec<Box<dyn Node + 'a>>,
    specs: Vec<Spec>,
    /// The `yield` node, if [`Graph::stream`] made one.
    stream: Option<NodeId>,
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
            stream: None,
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

    fn push_spec(&mut self, kind: &'static str, role: Role) -> NodeId {
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
        NodeId::new(self.specs.len() - 1)
    }

    fn spec_mut(&mut self, id: NodeId) -> &mut Spec {
        &mut self.specs[id.index()]
    }

    /// Connects every node of `from` to node `to` through `inbox`.
    ///
    /// A wire's edge order is its fan-out branch order (the path digit an
    /// ordered stage sorts by, see `Outlets::emit`), so each edge goes in at
    /// the place of its branch key rather than at the end: branches of one
    /// fan-out may be connected in any order.
    fn connect<T>(&mut self, from: Port<T>, to: NodeId, inbox: &Arc<Inbox<T>>) {
        for ((end, wire), key) in from.ends.into_iter().zip(from.wires).zip(from.branches) {
            let spec = self.spec_mut(end);
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
            self.spec_mut(to).upstream.push(end);
        }
    }

    /// A serial source: one worker at a time pulls batches from `iter`.
    ///
    /// The items the iterator promises (`size_hint().0`: a range, a `Vec`,
    /// a `map` over them) are read a whole batch at a time. Past them, an
    /// item may have to be waited for (a channel, a socket, a file being
    /// written): with more than one thread, a batch is then emitted as soon
    /// as reading it has taken longer than a batch's time target (about
    /// 50 µs), so a slow iterator's item waits for about one item's
    /// arrival, not for a batch, and a panic downstream reaches the caller
    /// about one item later, not when the iterator ends. With `threads = 1`
    /// batches never depend on timing (runs are deterministic), so a slow
    /// iterator's items wait for whole batches.
    ///
    /// Reading a blocking iterator blocks the worker that reads it, and the
    /// items it has read wait with it. A source whose next item depends on
    /// the pipeline's own output (a client that sends request `i + 1` only
    /// after the sink answered request `i`) can therefore stall: it needs a
    /// source that does not block a worker, not an iterator.
    ///
    /// ```
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..100u32 {
    ///         tx.send(i).unwrap(); // dropping `tx` ends the input
    ///     }
    /// });
    /// let mut total = 0;
    /// let mut g = para::Graph::new();
    /// let lines = g.source(rx);
    /// g.sink(lines, |x| total += x);
    /// g.run();
    /// producer.join().unwrap();
    /// assert_eq!(total, 4950);
    /// ```
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
            IterSupply(iter.into_iter()),
            wire.clone(),
        )));
        Port::single(id, wire)
    }

    /// A splittable source (`#[split]`): several workers produce parts of it
    /// at once. Items are integers for ranges, `&T` for slices, `T` for
    /// `Vec<T>`.
    ///
    /// ```
    /// let mut g = para::Graph::new();
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
        self.nodes.push(Box::new(SourceNode::new(
            id,
            SplitSupply(Some(source.into_split())),
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

    /// Two parallel maps, `f` then `g`, run as one loop: each item goes
    /// through `g(f(x))` with no batch written out in between (what
    /// `pipeline!` builds for two closure stages in a row, `|x| .. => |y|
    /// ..`; see the runtime's `nodes::fused_map`). Both stay nodes of the
    /// graph, with their own labels and counters; the time of the loop is
    /// reported as the first's. Returns the first map's node and the second
    /// map's port.
    ///
    /// ```
    /// let mut total = 0u64;
    /// let mut g = para::Graph::new();
    /// let numbers = g.source(1..=4u64);
    /// let (double, squares) = g.map_then(numbers, |x: u64| x * 2, |y: u64| y * y);
    /// g.sink(squares, |s| total += s);
    /// let report = g.run();
    /// assert_eq!(total, 4 + 16 + 36 + 64);
    /// assert_eq!(report.nodes()[double.index()].items_out(), 4);
    /// assert_eq!(report.nodes()[double.index() + 1].items_in(), 4);
    /// ```
    pub fn map_then<T, U, V, F, G>(&mut self, from: Port<T>, f: F, g: G) -> (NodeId, Port<V>)
    where
        T: Send + 'a,
        U: Send + 'a,
        V: Send + 'a,
        F: Fn(T) -> U + Send + Sync + 'a,
        G: Fn(U) -> V + Send + Sync + 'a,
    {
        let first = self.push_spec("map", Role::Stage(StageMode::Parallel));
        let inbox = Arc::new(Inbox::new());
        self.connect(from, first, &inbox);
        // The second map's node: the edge into it keeps the graph's shape
        // (and its completion order), though no batch ever travels along it.
        let second = self.push_spec("map", Role::Stage(StageMode::Parallel));
        let unused: Arc<Inbox<U>> = Arc::new(Inbox::new());
        self.connect(Port::single(first, Wire::default()), second, &unused);
        let wire = Wire::default();
        let both = MapFn(move |x| g(f(x)));
        self.nodes.push(Box::new(
            StageNode::new(first, both, inbox, wire.clone()).fused_with_map(second),
        ));
        self.nodes.push(Box::new(FusedMapTail::new(second)));
        (first, Port::single(second, wire))
    }

    /// A closure stage run by one worker at a time (`mode` serial or
    /// ordered), reported as `kind`.
    fn add_serial<T, U, F>(
        &mut self,
        from: Port<T>,
        f: F,
        mode: StageMode,
        kind: &'static str,
    ) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(T) -> U + Send + 'a,
    {
        self.add_stage(from, SerialFn::new(f, mode, kind), kind)
    }

    /// A stateful map (`#[serial]`): one worker at a time, any order.
    pub fn serial_map<T, U, F>(&mut self, from: Port<T>, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(T) -> U + Send + 'a,
    {
        self.add_serial(from, f, StageMode::Serial, "serial")
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
        self.add_serial(from, f, StageMode::Ordered, "ordered")
    }

    /// A serial sink: one worker at a time, so `f` may mutate captured state.
    pub fn sink<T, R, F>(&mut self, from: Port<T>, f: F) -> NodeId
    where
        T: Send + 'a,
        R: Send + 'a,
        F: FnMut(T) -> R + Send + 'a,
    {
        self.add_serial(from, f, StageMode::Serial, "sink").node()
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
        self.add_serial(from, f, StageMode::Ordered, "ordered sink")
            .node()
    }

    /// A fold with one accumulator per worker (see
    /// [`fold`](crate::combinators::fold)): each worker folds the items it
    /// receives into its own accumulator (`init()`, then `op(acc, item)`),
    /// and when the input ends every accumulator is emitted downstream,
    /// where a serial sink merges them.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(1..=1000u64);
    /// let sums = g.fold(src, || 0u64, |acc, x| acc + x);
    /// let mut total = 0;
    /// let mut accumulators = 0;
    /// g.sink(sums, |s| {
    ///     total += s;
    ///     accumulators += 1;
    /// });
    /// g.run_with(para::Options::new().threads(4));
    /// assert_eq!(total, 500_500);
    /// assert!((1..=5).contains(&accumulators)); // one per worker that got items
    /// ```
    pub fn fold<T, A, I, F>(&mut self, from: Port<T>, init: I, op: F) -> Port<A>
    where
        T: Send + 'a,
        A: Send + 'a,
        I: Fn() -> A + Send + Sync + 'a,
        F: Fn(A, T) -> A + Send + Sync + 'a,
    {
        let id = self.push_spec("fold", Role::Fold);
        let inbox = Arc::new(Inbox::new());
        self.connect(from, id, &inbox);
        let wire = Wire::default();
        let accumulators = Accumulators::new();
        self.nodes.push(Box::new(FoldNode::new(
            id,
            Some((init, op)),
            accumulators,
            inbox,
            wire.clone(),
        )));
        Port::single(id, wire)
    }

    /// [`flat_map(f)`](Graph::flat_map) then [`fold(init, op)`](Graph::fold),
    /// run as one loop: every value `f` yields goes straight into the
    /// worker's accumulator, with no batch written out in between (what
    /// `pipeline!` builds for `flat_map(..) => fold(..)`). Both stay nodes
    /// of the graph, with their own labels and counters; the time of the
    /// fused loop is reported as the `flat_map`'s. Returns the `flat_map`'s
    /// node and the fold's port.
    ///
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let text = "a b\nb c\nc c";
    /// let mut counts: HashMap<&str, usize> = HashMap::new();
    /// let mut g = para::Graph::new();
    /// let lines = g.source(text.lines());
    /// let (words, maps) = g.flat_map_fold(
    ///     lines,
    ///     |line: &str| line.split(' '),
    ///     HashMap::new,
    ///     |mut m: HashMap<&str, usize>, w| {
    ///         *m.entry(w).or_default() += 1;
    ///         m
    ///     },
    /// );
    /// g.sink(maps, |m| {
    ///     for (w, n) in m {
    ///         *counts.entry(w).or_default() += n;
    ///     }
    /// });
    /// let report = g.run();
    /// assert_eq!((counts["a"], counts["b"], counts["c"]), (1, 2, 3));
    /// assert_eq!(report.nodes()[words.index()].items_out(), 6);
    /// ```
    pub fn flat_map_fold<T, J, A, P, I, F>(
        &mut self,
        from: Port<T>,
        f: P,
        init: I,
        op: F,
    ) -> (NodeId, Port<A>)
    where
        T: Send + 'a,
        P: Fn(T) -> J + Send + Sync + 'a,
        J: IntoIterator,
        J::Item: Send + 'a,
        A: Send + 'a,
        I: Fn() -> A + Send + Sync + 'a,
        F: Fn(A, J::Item) -> A + Send + Sync + 'a,
    {
        self.fused_fold(from, "flat_map", f, init, op)
    }

    /// A per-item stage of kind `kind` (its function `pre` yields what the
    /// stage would emit for an item) fused with the fold after it (see
    /// `nodes::fold`). Returns the stage's node and the fold's port.
    pub(crate) fn fused_fold<T, J, A, P, I, F>(
        &mut self,
        from: Port<T>,
        kind: &'static str,
        pre: P,
        init: I,
        op: F,
    ) -> (NodeId, Port<A>)
    where
        T: Send + 'a,
        P: Fn(T) -> J + Send + Sync + 'a,
        J: IntoIterator,
        J::Item: Send + 'a,
        A: Send + 'a,
        I: Fn() -> A + Send + Sync + 'a,
        F: Fn(A, J::Item) -> A + Send + Sync + 'a,
    {
        let id = self.push_spec(kind, Role::Stage(StageMode::Parallel));
        let inbox = Arc::new(Inbox::new());
        self.connect(from, id, &inbox);
        // The fold's node: the edge into it keeps the graph's shape (and its
        // completion order), though no batch ever travels along it.
        let fold = self.push_spec("fold", Role::Fold);
        let fold_inbox: Arc<Inbox<J::Item>> = Arc::new(Inbox::new());
        self.connect(Port::single(id, Wire::default()), fold, &fold_inbox);
        let accumulators = Accumulators::new();
        self.nodes.push(Box::new(FusedFoldNode::new(
            (id, fold),
            pre,
            (init, op),
            accumulators.clone(),
            inbox,
        )));
        let wire = Wire::default();
        self.nodes.push(Box::new(FoldNode::<_, _, I, F>::new(
            fold,
            None,
            accumulators,
            fold_inbox,
            wire.clone(),
        )));
        (id, Port::single(fold, wire))
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
    /// With `threads = 1` there are no lanes: each batch runs inline on the
    /// one worker, when it is cut, so the run stays deterministic (the same
    /// order of every stage call, device bodies included, on every run).
    ///
    /// ```
    /// use para::{Graph, Options};
    ///
    /// let mut out = Vec::new();
    /// let mut g = Graph::new();
    /// let src = g.source(0..10u32);
    /// let doubled = g.device(src, 4, 2, |batch: Vec<u32>| {
    ///     assert!(batch.len() <= 4);
    ///     batch.into_iter().map(|x| x * 2).collect()
    /// });
    /// g.ordered_sink(doubled, |x| out.push(x));
    /// g.run_with(Options::new().threads(2));
    /// assert_eq!(out, (0..10).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
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
    ///
    /// ```
    /// use para::{Graph, Options};
    ///
    /// let mut sizes = Vec::new();
    /// let mut g = Graph::new();
    /// let src = g.source(0..10u32);
    /// let same = g.device_mut(src, 4, |batch: Vec<u32>| {
    ///     sizes.push(batch.len());
    ///     batch
    /// });
    /// g.sink(same, |_x| ());
    /// g.run_with(Options::new().threads(1)); // inline on the worker
    /// assert_eq!(sizes, [4, 4, 2]); // full batches, then the rest at the end
    /// ```
    pub fn device_mut<T, U, F>(&mut self, from: Port<T>, batch: usize, f: F) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        F: FnMut(Vec<T>) -> Vec<U> + Send + 'a,
    {
        self.add_device(from, batch, 1, ExclusiveBody(Mutex::new(f)))
    }

    fn add_device<T, U, B>(&mut self, from: Port<T>, batch: usize, lanes: usize, body: B) -> Port<U>
    where
        T: Send + 'a,
        U: Send + 'a,
        B: crate::nodes::device::DeviceBody<T, U> + 'a,
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
        self.spec_mut(node).label = Some(label.into());
        self
    }

    /// Sets a node's priority (`#[priority(N)]`): among ready stages,
    /// higher runs first. Nodes without one rank below any positive priority
    /// and, among themselves, downstream and stateful stages first.
    pub fn priority(&mut self, node: NodeId, priority: i32) -> &mut Self {
        self.spec_mut(node).priority = Some(priority);
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
        self.spec_mut(node).replicate = Some(n);
        self
    }

    /// A source fed while the pipeline runs (see [`feed`](crate::feed)):
    /// items sent through the feed's [`Feeder`](crate::Feeder)s, in the
    /// order they were sent. Workers take what has been sent and never wait
    /// for more; the source ends when every feeder is dropped.
    ///
    /// ```
    /// let (feeder, input) = para::feed::<u32>();
    /// let mut g = para::Graph::new();
    /// let items = g.feed_source(input);
    /// let mut total = 0;
    /// g.sink(items, |x| total += x);
    /// let producer = std::thread::spawn(move || {
    ///     for i in 1..=10 {
    ///         feeder.send(i).unwrap();
    ///     }
    /// });
    /// g.run();
    /// producer.join().unwrap();
    /// assert_eq!(total, 55);
    /// ```
    pub fn feed_source<T: Send + 'a>(&mut self, feed: Feed<T>) -> Port<T> {
        let id = self.push_spec("feed", Role::Source);
        let wire = Wire::default();
        self.nodes
            .push(Box::new(FeedNode::new(id, feed, wire.clone())));
        Port::single(id, wire)
    }

    /// Ends a flow in `yield`: the items that reach it come out of the
    /// [`Stream`] that [`Graph::spawn`] returns, in the order they are done
    /// (see [`Graph::ordered_stream`] for source order). A graph has at
    /// most one stream; its other flows may end in sinks.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..100u32);
    /// let doubled = g.map(src, |x| x * 2);
    /// let out = g.stream(doubled);
    /// let mut all: Vec<u32> = g.spawn(out).collect();
    /// all.sort_unstable();
    /// assert_eq!(all, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    /// ```
    ///
    /// # Panics
    ///
    /// If the graph has a stream already.
    pub fn stream<T: Send + 'a>(&mut self, from: Port<T>) -> StreamPort<T> {
        self.yield_node(from, StageMode::Parallel, |x| x)
    }

    /// Ends a flow in `#[ordered] yield`: like [`Graph::stream`], with the
    /// items in source order (as an ordered sink would see them).
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..1000u64);
    /// let squares = g.map(src, |x| x * x);
    /// let out = g.ordered_stream(squares);
    /// let first: Vec<u64> = g.spawn(out).take(4).collect();
    /// assert_eq!(first, [0, 1, 4, 9]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the graph has a stream already; when the run starts, if items can
    /// reach it from several sources.
    pub fn ordered_stream<T: Send + 'a>(&mut self, from: Port<T>) -> StreamPort<T> {
        self.yield_node(from, StageMode::Ordered, |x| x)
    }

    /// The `yield` node: passes items through `convert` into a stream.
    pub(crate) fn yield_node<T: Send + 'a, U: Send + 'a>(
        &mut self,
        from: Port<T>,
        mode: StageMode,
        convert: fn(T) -> U,
    ) -> StreamPort<U> {
        assert!(
            self.stream.is_none(),
            "para: a graph has at most one stream (one `yield`)"
        );
        let port = self.stage(from, Pass { convert, mode });
        let flow = Arc::new(Flow::new());
        lock(&port.wires[0]).stream = Some(flow.clone());
        let node = port.node();
        self.stream = Some(node);
        StreamPort { node, flow }
    }

    /// Settings and a launched run for a spawn: the graph's stream must be
    /// `out`, and its workers go where a thread of their own can reach.
    fn launch<'p, T>(
        mut self,
        out: &StreamPort<T>,
        options: Options<'p>,
    ) -> (Launch<'a, 'p>, Stream<T>) {
        assert!(
            self.stream == Some(out.node),
            "para: Graph::spawn takes the stream port of the graph it is called on"
        );
        let mut settings = options.resolve(&self.specs);
        settings.pool = settings.pool.for_background(settings.threads);
        let plans = plan(&self.specs, settings.threads);
        for (node, plan) in self.nodes.iter_mut().zip(&plans) {
            node.prepare(plan);
        }
        let launch = Launch::new(self.nodes, plans, settings);
        let stream = Stream::new(out.flow.clone(), launch.remote());
        (launch, stream)
    }

    /// Runs the graph in the background with default [`Options`]: see
    /// [`Graph::spawn_with`].
    pub fn spawn<T: Send + 'static>(self, out: StreamPort<T>) -> Stream<T>
    where
        'a: 'static,
    {
        self.spawn_with(out, Options::new())
    }

    /// Runs the graph in the background and returns the [`Stream`] of what
    /// reaches `out`. The stages must borrow nothing (`'static`, as with
    /// `std::thread::spawn`: `move` closures, `Arc` for sharing); to borrow,
    /// use [`Graph::spawn_scoped_with`]. Dropping the stream before its end
    /// cancels the run.
    ///
    /// # Panics
    ///
    /// If `out` is not this graph's stream, and as [`Graph::run_with`].
    pub fn spawn_with<T: Send + 'static>(
        self,
        out: StreamPort<T>,
        options: Options<'static>,
    ) -> Stream<T>
    where
        'a: 'static,
    {
        let (launch, stream) = self.launch(&out, options);
        let flow = out.flow;
        thread::Builder::new()
            .name("para-stream-keeper".into())
            .spawn(move || keep(launch, &flow))
            .expect("para: could not start the thread that keeps a stream's run");
        stream
    }

    /// [`Graph::spawn_scoped_with`] with default [`Options`].
    pub fn spawn_scoped<'scope, 'env, T: Send + 'scope>(
        self,
        scope: &'scope thread::Scope<'scope, 'env>,
        out: StreamPort<T>,
    ) -> Stream<T>
    where
        'a: 'scope,
    {
        self.spawn_scoped_with(scope, out, Options::new())
    }

    /// Runs the graph in the background, kept by a thread of `scope`, and
    /// returns the [`Stream`] of what reaches `out`. The stages may borrow
    /// what outlives the scope, as scoped threads may: the scope's end waits
    /// for the run, so no stage outlives a borrow, even if the stream is
    /// leaked (the scope then waits for a run that may never end).
    ///
    /// ```
    /// let words = vec!["a", "bb", "ccc"];
    /// std::thread::scope(|s| {
    ///     let mut g = para::Graph::new();
    ///     let src = g.source(words.iter());
    ///     let lens = g.map(src, |w| w.len());
    ///     let out = g.ordered_stream(lens);
    ///     let lens: Vec<usize> = g.spawn_scoped(s, out).collect();
    ///     assert_eq!(lens, [1, 2, 3]);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Graph::spawn_with`].
    pub fn spawn_scoped_with<'scope, 'env, T: Send + 'scope>(
        self,
        scope: &'scope thread::Scope<'scope, 'env>,
        out: StreamPort<T>,
        options: Options<'a>,
    ) -> Stream<T>
    where
        'a: 'scope,
    {
        let (launch, stream) = self.launch(&out, options);
        let flow = out.flow;
        thread::Builder::new()
            .name("para-stream-keeper".into())
            .spawn_scoped(scope, move || keep(launch, &flow))
            .expect("para: could not start the thread that keeps a stream's run");
        stream
    }

    /// Runs the graph with default [`Options`] and returns its [`Report`].
    pub fn run(self) -> Report {
        self.run_with(Options::new())
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
        assert!(
            self.stream.is_none(),
            "para: this graph ends in a stream (`yield`): start it with Graph::spawn"
        );
        let settings = options.resolve(&self.specs);
        let plans = plan(&self.specs, settings.threads);
        for (node, plan) in self.nodes.iter_mut().zip(&plans) {
            node.prepare(plan);
        }
        run_to_end(self.nodes, plans, settings)
    }
}

/// The body of a stream's keeper thread: runs the graph to its end (the
/// nodes are dropped by then), then hands the end to the stream.
fn keep<T>(launch: Launch<'_, '_>, flow: &Flow<T>) {
    let ending = match catch_unwind(AssertUnwindSafe(|| launch.complete())) {
        Ok(ending) => ending,
        Err(payload) => Err(payload), // a runtime bug: the consumer sees it
    };
    flow.end(ending);
}
