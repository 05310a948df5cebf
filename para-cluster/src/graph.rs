//! The cluster graph builder: Para's stages lowered onto one timely
//! dataflow per worker.
//!
//! # Placement
//!
//! * A `#[split]` source is cut into chunks of `batch` items; chunk `c` is
//!   produced by worker `c % peers`, at timestamp `c`.
//! * Any other source runs on worker 0; its `k`-th batch gets timestamp
//!   `k`, and its items are spread round-robin over all workers.
//! * Parallel stages (maps, filters, flat-maps, inspect, `#[parallel]`
//!   sinks) run where their input is.
//! * Serial stages (sinks, `#[serial]`) run on worker 0; ordered stages
//!   (`#[ordered]`, `take`, `take_while`, `batch`) too, and they see each
//!   timestamp's items only once the input frontier has passed it, sorted
//!   by their key.
//!
//! # Order
//!
//! Every item travels with a [`Key`], the order single-machine Para
//! restores: its origin item (its position in its source batch), the
//! fan-out branches it took since then, and the order it was made in (an
//! output index where one input gave several outputs). An ordered stage
//! sorts a timestamp's items by key, then merges their paths into the
//! smallest, as on one machine; a regrouping stage (`batch`) starts a new
//! origin. The timestamp and the frontier are timely's: an ordered stage
//! releases a timestamp when timely says no item of it can still arrive.
//! The random graphs of `tests/cluster.rs` check the order against
//! single-machine Para.
//!
//! # Capacity
//!
//! Each worker probes the outputs of the sinks. A source emits timestamp
//! `t` only when the probe's frontier has reached `t - ahead`, so at most
//! `ahead` batches per source are in flight across the cluster.

use crate::shared::{Clear, Shared};
use para_runtime::{Output, Stage, StageMode};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};
use timely::dataflow::operators::core::{Concatenate, Exchange as _, Map as _};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::{ProbeHandle, Scope, Stream};

/// The timestamp of a batch: its index in its source.
pub type Time = u64;

/// An item's place in the order an ordered stage restores, as on one
/// machine: its origin item (its position in its source batch, the batch
/// being the timestamp), then the fan-out branches it took since its
/// origin (outermost first), then the order it was made in (an output
/// index for each stage that gave several outputs for one input). Keys
/// compare field by field, lexicographically.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    origin: u32,
    branches: Vec<u32>,
    made: Vec<u32>,
}

impl Key {
    fn root(position: usize) -> Key {
        Key {
            origin: position as u32,
            branches: Vec::new(),
            made: Vec::new(),
        }
    }

    /// The key of output `index` of several made from this item.
    fn output(&self, index: usize) -> Key {
        let mut made = Vec::with_capacity(self.made.len() + 1);
        made.extend_from_slice(&self.made);
        made.push(index as u32);
        Key {
            origin: self.origin,
            branches: self.branches.clone(),
            made,
        }
    }

    /// The key of this item's copy on fan-out branch `branch`.
    fn branch(mut self, branch: usize) -> Key {
        self.branches.push(branch as u32);
        self
    }
}

/// An item that can cross a process boundary: `Serialize +
/// DeserializeOwned` (serde), `Clone`, `Send` and `'static`, as timely's
/// exchange channels need.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross between cluster workers: it must implement \
               `serde::Serialize`, `serde::de::DeserializeOwned` and `Clone`",
    label = "the items reaching this stage travel between processes",
    note = "derive `Serialize, Deserialize, Clone` for `{Self}`, or map it to a type \
            that has them before this stage"
)]
pub trait Item: timely::ExchangeData + Clone {}

impl<T: timely::ExchangeData + Clone> Item for T {}

/// An item of a timely stream: its key and itself.
pub(crate) type Tagged<T> = (Key, T);
pub(crate) type Batch<T> = Vec<Tagged<T>>;

/// A node of a cluster graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterNode(pub(crate) usize);

/// The output of a node of a [`ClusterGraph`], carrying items of type `T`.
pub struct ClusterPort<'s, T> {
    stream: Stream<'s, Time, Batch<T>>,
    /// Every item of this port is on worker 0.
    at_zero: bool,
    node: ClusterNode,
    /// The fan-out branch paths that reach this port from its origin.
    paths: Vec<Vec<u32>>,
    /// Downstream of a `fold`: its items count as completed at the fold
    /// (which holds its output until the input ends), so the sinks here
    /// stay out of the capacity probe.
    settled: bool,
}

impl<T> ClusterPort<'_, T> {
    /// The node whose output this is.
    pub fn node(&self) -> ClusterNode {
        self.node
    }
}

/// Run settings of a cluster pipeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    batch: Option<usize>,
    capacity: Option<usize>,
}

/// Items per source batch (one timestamp) unless set.
pub const DEFAULT_BATCH: usize = 256;

impl Options {
    /// The defaults: batches of [`DEFAULT_BATCH`] items, `capacity` four
    /// batches per worker.
    pub fn new() -> Self {
        Options::default()
    }

    /// Items per source batch: each batch is one timely timestamp.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Most items in flight per source across the cluster: a source runs
    /// at most `capacity / batch` batches (at least one; for a `#[split]`
    /// source at least one per worker) ahead of what the sinks completed.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    pub(crate) fn batch_size(&self) -> usize {
        let b = self.batch.unwrap_or(DEFAULT_BATCH);
        assert!(b > 0, "para cluster: `batch` must be at least 1");
        b
    }

    /// Batches a source may run ahead of the sinks.
    pub(crate) fn ahead(&self, peers: usize) -> u64 {
        let batch = self.batch_size();
        let capacity = self.capacity.unwrap_or(4 * peers.max(1) * batch);
        assert!(capacity > 0, "para cluster: `capacity` must be at least 1");
        capacity.div_ceil(batch).max(1) as u64
    }
}

/// What a kernel is called with.
pub(crate) enum Call<'b, T> {
    /// A batch of input items (to drain).
    Items(&'b mut Batch<T>),
    /// No more input will come: emit what is held.
    Flush,
}

/// The erased body of a stage: its typed loop over one batch.
type Kernel<'a, T, U> = dyn FnMut(Call<'_, T>, &mut Batch<U>, &mut bool) + 'a;
type SourceKernel<'a, T> = dyn FnMut(&mut Batch<T>) -> Option<Time> + 'a;
type Slot<B> = Rc<RefCell<Option<Box<B>>>>;

/// Where a stage runs and how it sees its input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Where the input is, as it arrives.
    Here,
    /// On worker 0, as it arrives.
    Zero,
    /// On worker 0, per timestamp once the frontier passed it, by key.
    Ordered,
    /// As `Ordered`, and flushed when the input ends.
    Regroup,
}

/// A graph of Para stages on one timely worker; `pipeline!(cluster = cx,
/// ...)` builds one. `'a` is the lifetime of what the stages borrow.
pub struct ClusterGraph<'s, 'a> {
    scope: Scope<'s, Time>,
    shared: Rc<Shared>,
    options: Options,
    probe: ProbeHandle<Time>,
    ends: Vec<Stream<'s, Time, Batch<()>>>,
    _borrows: PhantomData<&'a mut &'a ()>,
}

impl<'s, 'a> ClusterGraph<'s, 'a> {
    pub(crate) fn new(
        scope: Scope<'s, Time>,
        shared: Rc<Shared>,
        options: Options,
        probe: ProbeHandle<Time>,
    ) -> Self {
        ClusterGraph {
            scope,
            shared,
            options,
            probe,
            ends: Vec::new(),
            _borrows: PhantomData,
        }
    }

    /// Probes the sinks' outputs (the capacity bound waits on this).
    pub(crate) fn finish(self) {
        use timely::dataflow::operators::Probe;
        let ends = self.ends;
        if !ends.is_empty() {
            let all: Stream<'s, Time, Batch<()>> = self.scope.concatenate(ends);
            let _ = all.probe_with(&self.probe);
        }
    }

    /// Keeps a stage body for the run, as a `'static` slot the timely
    /// operator can own; the body is dropped when the run ends.
    fn keep_kernel<T: 'static, U: 'static>(
        &self,
        body: Box<Kernel<'a, T, U>>,
    ) -> Slot<Kernel<'static, T, U>> {
        // SAFETY: only the trait object's lifetime bound changes, from `'a`
        // to `'static`; the layout is the same. The slot is registered in
        // the run's `Shared` right here, and `run::run_graph` empties every
        // registered slot (dropping the body) before it returns or
        // unwinds, so within `'a`, which outlives that call (the graph,
        // with its `'a`, is built inside it). Operators that outlive the run
        // (only after a network failure) find their slot empty and never
        // call it.
        let body = unsafe {
            std::mem::transmute::<Box<Kernel<'a, T, U>>, Box<Kernel<'static, T, U>>>(body)
        };
        let slot: Slot<Kernel<'static, T, U>> = Rc::new(RefCell::new(Some(body)));
        let clear: Rc<dyn Clear> = slot.clone();
        self.shared.keep(clear);
        slot
    }

    /// As [`ClusterGraph::keep_kernel`], for a source.
    fn keep_source<T: 'static>(
        &self,
        body: Box<SourceKernel<'a, T>>,
    ) -> Slot<SourceKernel<'static, T>> {
        // SAFETY: as in `keep_kernel`: registered here, emptied by
        // `run::run_graph` before it returns or unwinds, within `'a`.
        let body = unsafe {
            std::mem::transmute::<Box<SourceKernel<'a, T>>, Box<SourceKernel<'static, T>>>(body)
        };
        let slot: Slot<SourceKernel<'static, T>> = Rc::new(RefCell::new(Some(body)));
        let clear: Rc<dyn Clear> = slot.clone();
        self.shared.keep(clear);
        slot
    }

    /// Gives the node a label (used in error messages).
    pub fn label(&mut self, node: ClusterNode, label: &str) -> &mut Self {
        self.shared.label(node.0, label);
        self
    }

    /// A source: on worker 0, its items spread round-robin over all
    /// workers. Every worker evaluates the expression; only worker 0
    /// iterates it.
    pub fn source<I>(&mut self, iter: I) -> ClusterPort<'s, I::Item>
    where
        I: IntoIterator + 'a,
        I::Item: Item,
    {
        let node = ClusterNode(self.shared.node("source"));
        let batch = self.options.batch_size();
        let mut iter = (self.shared.index == 0).then(|| iter.into_iter());
        let mut time: Time = 0;
        let kernel = move |out: &mut Batch<I::Item>| -> Option<Time> {
            let items = iter.as_mut()?;
            out.extend(
                items
                    .take(batch)
                    .enumerate()
                    .map(|(i, x)| (Key::root(i), x)),
            );
            if out.is_empty() {
                iter = None;
                return None;
            }
            time += 1;
            Some(time - 1)
        };
        let boxed: Box<SourceKernel<'a, I::Item>> = Box::new(kernel);
        let stream = self.install_source(node, boxed, 1);
        let peers = self.shared.peers as u64;
        let mut next = 0u64;
        let stream = stream.exchange(move |_| {
            next = next.wrapping_add(1);
            next % peers
        });
        ClusterPort {
            stream,
            at_zero: self.shared.peers == 1,
            node,
            paths: vec![Vec::new()],
            settled: false,
        }
    }

    /// A splittable source (`#[split]`): its chunks of `batch` items are
    /// dealt to all workers in turn, and each worker produces its own.
    pub fn split_source<S>(
        &mut self,
        source: S,
    ) -> ClusterPort<'s, <S::Split as para_runtime::Split>::Item>
    where
        S: para_runtime::IntoSplit,
        S::Split: 'a,
        <S::Split as para_runtime::Split>::Item: 'static,
    {
        use para_runtime::Split;
        let node = ClusterNode(self.shared.node("split source"));
        let batch = self.options.batch_size();
        let (me, peers) = (self.shared.index as u64, self.shared.peers as u64);
        let mut rest = Some(source.into_split());
        let mut chunk: Time = 0;
        let kernel = move |out: &mut Batch<<S::Split as Split>::Item>| -> Option<Time> {
            loop {
                let part = rest.take()?;
                let len = part.split_len();
                if len == 0 {
                    return None;
                }
                let (head, tail) = part.split_at(len.min(batch));
                rest = Some(tail);
                chunk += 1;
                if (chunk - 1) % peers == me {
                    out.extend(
                        head.into_items()
                            .enumerate()
                            .map(|(i, x)| (Key::root(i), x)),
                    );
                    return Some(chunk - 1);
                }
            }
        };
        let boxed: Box<SourceKernel<'a, <S::Split as Split>::Item>> = Box::new(kernel);
        let stream = self.install_source(node, boxed, self.shared.peers as u64);
        ClusterPort {
            stream,
            at_zero: self.shared.peers == 1,
            node,
            paths: vec![Vec::new()],
            settled: false,
        }
    }

    fn install_source<T: 'static>(
        &mut self,
        node: ClusterNode,
        kernel: Box<SourceKernel<'a, T>>,
        stride: u64,
    ) -> Stream<'s, Time, Batch<T>> {
        let slot = self.keep_source(kernel);
        let shared = Rc::clone(&self.shared);
        let probe = self.probe.clone();
        // In timestamps; a split source deals them to `stride` workers, each
        // of which needs one in flight to work at all.
        let ahead = self.options.ahead(self.shared.peers).max(stride);
        let scope = self.scope;
        source(self.scope, "para source", move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap = Some(cap);
            let mut pending: Option<(Time, Batch<T>)> = None;
            move |output| {
                if shared.stopping() {
                    cap = None;
                    pending = None;
                    return;
                }
                let Some(c) = cap.as_mut() else { return };
                if pending.is_none() {
                    let mut body = slot.borrow_mut();
                    let Some(body) = body.as_mut() else {
                        cap = None;
                        return;
                    };
                    let mut batch = Vec::new();
                    match catch_unwind(AssertUnwindSafe(|| body(&mut batch))) {
                        Ok(Some(t)) => pending = Some((t, batch)),
                        Ok(None) => {
                            cap = None;
                            return;
                        }
                        Err(payload) => {
                            shared.stage_panicked(node.0, payload);
                            cap = None;
                            return;
                        }
                    }
                }
                let t = pending.as_ref().map_or(0, |p| p.0);
                if t >= ahead && probe.less_than(&(t - ahead + 1)) {
                    // Too far ahead of the sinks: wait for the probe.
                    shared.park(activator.clone());
                    return;
                }
                if let Some((t, mut batch)) = pending.take() {
                    c.downgrade(&t);
                    output.session(&*c).give_container(&mut batch);
                }
                activator.activate();
            }
        })
    }

    /// Adds an operator running `kernel` at `place`.
    fn operator<T, U: 'static>(
        &mut self,
        from: ClusterPort<'s, T>,
        node: ClusterNode,
        place: Place,
        kernel: Box<Kernel<'a, T, U>>,
    ) -> ClusterPort<'s, U>
    where
        T: Item,
    {
        let at_zero = from.at_zero || place != Place::Here;
        // An ordered stage merges its paths into the smallest (as on one
        // machine); a regrouping stage is a new origin.
        let min = from.paths.iter().min().cloned().unwrap_or_default();
        let paths = match place {
            Place::Here | Place::Zero => from.paths,
            Place::Ordered => vec![min.clone()],
            Place::Regroup => vec![Vec::new()],
        };
        let stream = if place == Place::Here || from.at_zero {
            self.install(from.stream, Pipeline, node, place, min, kernel)
        } else {
            let exchange = Exchange::new(|_: &Tagged<T>| 0u64);
            self.install(from.stream, exchange, node, place, min, kernel)
        };
        ClusterPort {
            stream,
            at_zero,
            node,
            paths,
            settled: from.settled,
        }
    }

    /// As [`ClusterGraph::operator`], for items that never leave their
    /// worker (parallel stages).
    fn local_operator<T: 'static, U: 'static>(
        &mut self,
        from: ClusterPort<'s, T>,
        node: ClusterNode,
        kernel: Box<Kernel<'a, T, U>>,
    ) -> ClusterPort<'s, U> {
        let stream = self.install(from.stream, Pipeline, node, Place::Here, Vec::new(), kernel);
        ClusterPort {
            stream,
            at_zero: from.at_zero,
            node,
            paths: from.paths,
            settled: from.settled,
        }
    }

    fn install<T: 'static, U: 'static, P>(
        &mut self,
        stream: Stream<'s, Time, Batch<T>>,
        pact: P,
        node: ClusterNode,
        place: Place,
        min_path: Vec<u32>,
        kernel: Box<Kernel<'a, T, U>>,
    ) -> Stream<'s, Time, Batch<U>>
    where
        P: ParallelizationContract<Time, Batch<T>>,
    {
        let slot = self.keep_kernel(kernel);
        let shared = Rc::clone(&self.shared);
        let sorted = matches!(place, Place::Ordered | Place::Regroup);
        let regroup = place == Place::Regroup;
        stream.unary_frontier(pact, "para stage", move |_cap, _info| {
            let mut stash: BTreeMap<Time, (Capability<Time>, Batch<T>)> = BTreeMap::new();
            let mut last: Option<Capability<Time>> = None;
            let mut flushed = false;
            let mut groups: u32 = 0;
            let mut out: Batch<U> = Vec::new();
            move |(input, frontier), output| {
                let failed = shared.failed();
                input.for_each_stamp(|cap, data| {
                    if failed {
                        return;
                    }
                    if sorted {
                        let (Some(&t), Some(held)) = (cap.least(), cap.retain_least(0)) else {
                            return;
                        };
                        let entry = stash.entry(t).or_insert_with(|| (held, Vec::new()));
                        for d in data {
                            entry.1.append(d);
                        }
                    } else {
                        for d in data {
                            run(&slot, &shared, node, Call::Items(d), &mut out);
                        }
                        if !out.is_empty() {
                            output.session(&cap).give_container(&mut out);
                            out.clear();
                        }
                    }
                });
                if failed {
                    stash.clear();
                    last = None;
                    return;
                }
                while let Some(entry) = stash.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (cap, mut items) = entry.remove();
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                    rekey_merged(&mut items, &min_path);
                    run(&slot, &shared, node, Call::Items(&mut items), &mut out);
                    if regroup {
                        rekey_groups(&mut out, &mut groups);
                    }
                    if !out.is_empty() {
                        output.session(&cap).give_container(&mut out);
                        out.clear();
                    }
                    if regroup {
                        last = Some(cap);
                    }
                }
                if regroup && !flushed && frontier.frontier().is_empty() {
                    flushed = true;
                    if let Some(cap) = last.take() {
                        run(&slot, &shared, node, Call::Flush, &mut out);
                        rekey_groups(&mut out, &mut groups);
                        if !out.is_empty() {
                            output.session(&cap).give_container(&mut out);
                            out.clear();
                        }
                    }
                }
            }
        })
    }

    /// Ends a flow at `port` (a stage with no downstream): its completion
    /// joins the probe that `capacity` waits on.
    pub fn end<U: 'static>(&mut self, port: ClusterPort<'s, U>) -> ClusterNode {
        use timely::dataflow::operators::core::Map;
        let node = port.node;
        if port.settled {
            return node;
        }
        let done: Stream<'s, Time, Batch<()>> =
            port.stream.map(|_: Tagged<U>| (Key::default(), ()));
        self.ends.push(done);
        node
    }

    /// A parallel map: `f` runs where its input is, on every worker.
    pub fn map<T, U, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterPort<'s, U>
    where
        T: 'static,
        U: 'static,
        F: Fn(T) -> U + 'a,
    {
        let node = ClusterNode(self.shared.node("map"));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(map_kernel(f));
        self.local_operator(from, node, kernel)
    }

    /// A serial map on worker 0 (`#[serial]`).
    pub fn serial_map<T, U, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterPort<'s, U>
    where
        T: Item,
        U: 'static,
        F: FnMut(T) -> U + 'a,
    {
        let node = ClusterNode(self.shared.node("serial map"));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(map_kernel(f));
        self.operator(from, node, Place::Zero, kernel)
    }

    /// An ordered map on worker 0 (`#[ordered]`): items in source order.
    pub fn ordered_map<T, U, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterPort<'s, U>
    where
        T: Item,
        U: 'static,
        F: FnMut(T) -> U + 'a,
    {
        let node = ClusterNode(self.shared.node("ordered map"));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(map_kernel(f));
        self.operator(from, node, Place::Ordered, kernel)
    }

    /// A sink on worker 0.
    pub fn sink<T, R, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterNode
    where
        T: Item,
        F: FnMut(T) -> R + 'a,
    {
        self.serial_sink(from, "sink", Place::Zero, f)
    }

    /// An ordered sink on worker 0 (`#[ordered]`): items in source order.
    pub fn ordered_sink<T, R, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterNode
    where
        T: Item,
        F: FnMut(T) -> R + 'a,
    {
        self.serial_sink(from, "ordered sink", Place::Ordered, f)
    }

    /// A sink of kind `kind` on worker 0, placed by `place`.
    fn serial_sink<T, R, F>(
        &mut self,
        from: ClusterPort<'s, T>,
        kind: &'static str,
        place: Place,
        mut f: F,
    ) -> ClusterNode
    where
        T: Item,
        F: FnMut(T) -> R + 'a,
    {
        let node = ClusterNode(self.shared.node(kind));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(sink_kernel(move |x| {
            f(x);
        }));
        let port = self.operator(from, node, place, kernel);
        self.end(port)
    }

    /// A parallel sink (`#[parallel]`): runs where its input is.
    pub fn parallel_sink<T, R, F>(&mut self, from: ClusterPort<'s, T>, f: F) -> ClusterNode
    where
        T: 'static,
        F: Fn(T) -> R + 'a,
    {
        let node = ClusterNode(self.shared.node("parallel sink"));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(sink_kernel(move |x| {
            f(x);
        }));
        let port = self.local_operator(from, node, kernel);
        self.end(port)
    }

    /// Any [`Stage`] (combinators such as `filter`, `take`, `batch`, or
    /// one's own): placed by its [`Stage::mode`].
    pub fn stage<T, S>(&mut self, from: ClusterPort<'s, T>, stage: S) -> ClusterPort<'s, S::Out>
    where
        T: Item,
        S: Stage<T> + 'a,
        S::Out: 'static,
    {
        let place = match stage.mode() {
            StageMode::Parallel => Place::Here,
            StageMode::Serial => Place::Zero,
            StageMode::Ordered => Place::Ordered,
            StageMode::Regroup => Place::Regroup,
        };
        self.stage_at(from, stage, place)
    }

    pub(crate) fn stage_at<T, S>(
        &mut self,
        from: ClusterPort<'s, T>,
        stage: S,
        place: Place,
    ) -> ClusterPort<'s, S::Out>
    where
        T: Item,
        S: Stage<T> + 'a,
        S::Out: 'static,
    {
        let node = ClusterNode(self.shared.node(stage.name()));
        let kernel: Box<Kernel<'a, _, _>> = Box::new(stage_kernel(stage));
        self.operator(from, node, place, kernel)
    }

    /// A [`Stage`] that ends a flow (the combinators' sinks).
    pub fn stage_sink<T, S>(&mut self, from: ClusterPort<'s, T>, stage: S) -> ClusterNode
    where
        T: Item,
        S: Stage<T> + 'a,
        S::Out: 'static,
    {
        let port = self.stage(from, stage);
        self.end(port)
    }
    /// A fold (`fold(init, op)`): each worker folds the items it receives
    /// into its own accumulator (`init()`, then `op(acc, item)`), and emits
    /// it when the input ends (if it received any), for a sink on worker 0
    /// to merge. Its outputs are a new origin for ordered stages, in worker
    /// order.
    pub fn fold<T, A, I, F>(
        &mut self,
        from: ClusterPort<'s, T>,
        init: I,
        op: F,
    ) -> ClusterPort<'s, A>
    where
        T: 'static,
        A: 'static,
        I: Fn() -> A + 'a,
        F: Fn(A, T) -> A + 'a,
    {
        use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
        use timely::dataflow::operators::generic::OutputBuilder;
        let node = ClusterNode(self.shared.node("fold"));
        let mut acc: Option<A> = None;
        let kernel = move |call: Call<'_, T>, out: &mut Batch<A>, _stop: &mut bool| match call {
            Call::Items(items) => {
                let mut a = acc.take().unwrap_or_else(&init);
                for (_, x) in items.drain(..) {
                    a = op(a, x);
                }
                acc = Some(a);
            }
            Call::Flush => out.extend(acc.take().map(|a| (Key::default(), a))),
        };
        let kernel: Box<Kernel<'a, T, A>> = Box::new(kernel);
        let slot = self.keep_kernel(kernel);
        let shared = Rc::clone(&self.shared);
        let origin = self.shared.index;
        let mut builder = OperatorBuilder::new("para fold".to_owned(), self.scope);
        let mut input = builder.new_input(from.stream, Pipeline);
        let (acc_out, acc_stream) = builder.new_output::<Batch<A>>();
        let (done_out, done_stream) = builder.new_output::<Batch<()>>();
        let mut acc_out =
            OutputBuilder::<_, timely::container::CapacityContainerBuilder<Batch<A>>>::from(
                acc_out,
            );
        builder.build(move |mut caps| {
            // Output 1 only carries the input's progress to the probe.
            drop(caps.pop());
            let mut held = caps.pop();
            let _done = done_out;
            let mut out: Batch<A> = Vec::new();
            move |frontiers| {
                input.for_each_stamp(|_cap, data| {
                    for d in data {
                        run(&slot, &shared, node, Call::Items(d), &mut out);
                    }
                });
                if shared.failed() {
                    held = None;
                    return;
                }
                if held.is_some() && frontiers[0].frontier().is_empty() {
                    run(&slot, &shared, node, Call::Flush, &mut out);
                    for (k, _) in out.iter_mut() {
                        *k = Key::root(origin);
                    }
                    if let Some(cap) = held.take() {
                        if !out.is_empty() {
                            acc_out.activate().session(&cap).give_container(&mut out);
                        }
                    }
                }
            }
        });
        self.ends.push(done_stream);
        ClusterPort {
            stream: acc_stream,
            at_zero: from.at_zero,
            node,
            paths: vec![Vec::new()],
            settled: true,
        }
    }

    /// Sends every item of `from` to `n` branches (clones; the key
    /// records the branch, so an ordered stage after a fan-in sees the
    /// branches' outputs of one item in branch order).
    pub fn fan_out<T>(&mut self, from: ClusterPort<'s, T>, n: usize) -> Vec<ClusterPort<'s, T>>
    where
        T: Clone + 'static,
    {
        (0..n)
            .map(|b| ClusterPort {
                stream: from
                    .stream
                    .clone()
                    .map(move |(k, x): Tagged<T>| (k.branch(b), x)),
                at_zero: from.at_zero,
                node: from.node,
                paths: from
                    .paths
                    .iter()
                    .map(|p| p.iter().copied().chain([b as u32]).collect())
                    .collect(),
                settled: from.settled,
            })
            .collect()
    }

    /// Merges ports carrying the same item type.
    pub fn fan_in<T: 'static>(
        &mut self,
        ports: impl IntoIterator<Item = ClusterPort<'s, T>>,
    ) -> ClusterPort<'s, T> {
        let ports: Vec<_> = ports.into_iter().collect();
        let node = ports.first().map_or(ClusterNode(0), |p| p.node);
        let at_zero = ports.iter().all(|p| p.at_zero);
        let mut paths: Vec<Vec<u32>> = ports.iter().flat_map(|p| p.paths.iter().cloned()).collect();
        paths.sort();
        paths.dedup(); // Past a fold, the sinks are not probed: the other branches' items
                       // are probed here instead.
        let settled = ports.iter().any(|p| p.settled);
        let probe = self.probe.clone();
        let streams = ports.into_iter().map(|p| {
            if settled && !p.settled {
                use timely::dataflow::operators::Probe;
                p.stream.probe_with(&probe)
            } else {
                p.stream
            }
        });
        let stream = self.scope.concatenate(streams);
        ClusterPort {
            stream,
            at_zero,
            node,
            paths,
            settled,
        }
    }
}

/// Calls the body in `slot` with `call`, turning a panic into the run's
/// failure (the body is not called again: every stage drops its input
/// once the run failed).
fn run<T, U>(
    slot: &Slot<Kernel<'static, T, U>>,
    shared: &Shared,
    node: ClusterNode,
    call: Call<'_, T>,
    out: &mut Batch<U>,
) {
    if shared.failed() {
        return;
    }
    let mut body = slot.borrow_mut();
    let Some(body) = body.as_mut() else { return };
    let mut stop = false;
    match catch_unwind(AssertUnwindSafe(|| body(call, out, &mut stop))) {
        Ok(()) => {
            if stop {
                shared.request_stop();
            }
        }
        Err(payload) => {
            out.clear();
            shared.stage_panicked(node.0, payload);
        }
    }
}

/// The keys of an ordered stage's input, in order: the merged paths take
/// the smallest, and the order within one origin item is its rank.
fn rekey_merged<T>(items: &mut Batch<T>, min_path: &[u32]) {
    let mut rank = 0u32;
    let mut origin = None;
    for (k, _) in items.iter_mut() {
        if origin != Some(k.origin) {
            origin = Some(k.origin);
            rank = 0;
        }
        k.branches.clear();
        k.branches.extend_from_slice(min_path);
        k.made.clear();
        k.made.push(rank);
        rank += 1;
    }
}

/// A regrouping stage is a new origin: its outputs are its origin items.
fn rekey_groups<U>(out: &mut Batch<U>, groups: &mut u32) {
    for (k, _) in out.iter_mut() {
        *k = Key::root(*groups as usize);
        *groups = groups.wrapping_add(1);
    }
}

/// The loop of a closure stage over one batch.
fn map_kernel<T, U>(
    mut f: impl FnMut(T) -> U,
) -> impl FnMut(Call<'_, T>, &mut Batch<U>, &mut bool) {
    move |call, out, _stop| {
        if let Call::Items(items) = call {
            out.extend(items.drain(..).map(|(k, x)| (k, f(x))));
        }
    }
}

/// The loop of a sink over one batch: nothing comes out.
fn sink_kernel<T>(mut f: impl FnMut(T)) -> impl FnMut(Call<'_, T>, &mut Batch<()>, &mut bool) {
    move |call, _out, _stop| {
        if let Call::Items(items) = call {
            for (_, x) in items.drain(..) {
                f(x);
            }
        }
    }
}

/// The loop of a [`Stage`] over one batch: one output keeps the input's
/// key, several get one child key each.
fn stage_kernel<T, S: Stage<T>>(
    stage: S,
) -> impl FnMut(Call<'_, T>, &mut Batch<S::Out>, &mut bool) {
    let current = Cell::new(0);
    let mut outs: Vec<S::Out> = Vec::new();
    move |call, out, stop| match call {
        Call::Items(items) => {
            for (k, x) in items.drain(..) {
                let mut o = Output::collecting(&mut outs, &current);
                stage.process(x, &mut o);
                *stop |= o.stop_was_requested();
                match outs.len() {
                    0 => {}
                    1 => out.extend(outs.drain(..).map(|y| (k.clone(), y))),
                    _ => out.extend(outs.drain(..).enumerate().map(|(j, y)| (k.output(j), y))),
                }
            }
        }
        Call::Flush => {
            let mut o = Output::collecting(&mut outs, &current);
            stage.flush(&mut o); // Re-keyed by the regrouping operator.
            out.extend(outs.drain(..).map(|y| (Key::default(), y)));
        }
    }
}
