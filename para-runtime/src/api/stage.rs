//! The [`Stage`] trait: what a node of the graph does with a batch of items.
//!
//! Closures passed to the [`Graph`](crate::Graph) builder are wrapped in the
//! adapters of this module; the combinators of [`crate::api::combinators`] and user
//! types implement [`Stage`] directly. A stage is called once per batch with an
//! [`Input`] (an iterator over the batch) and an [`Output`] (where results go),
//! so the per-item path is a plain, inlined loop.

use crate::sync::{lock, Mutex, MutexGuard};
use std::cell::Cell;

/// How the runtime may call a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StageMode {
    /// Many workers call the stage at once (`&self` from several threads).
    Parallel,
    /// At most one worker calls the stage at a time, in no particular order.
    Serial,
    /// At most one worker at a time, and items arrive in source order
    /// (like oneTBB's `serial_in_order`).
    Ordered,
    /// A serial stage whose output batches do not match its input batches
    /// (it regroups items, like [`batch`](crate::api::combinators::batch)). It sees
    /// items in source order when a single source feeds it, and its output
    /// counts as a new source for ordered stages further down.
    Regroup,
}

impl StageMode {
    /// Whether the stage runs on at most one worker at a time.
    pub fn is_serial(self) -> bool {
        !matches!(self, StageMode::Parallel)
    }
}

/// A processing step of the graph, called once per batch of items.
///
/// Implement it for reusable stages; closures get it through the builder
/// methods of [`Graph`](crate::Graph). `Stage` takes `&self` even for serial
/// stages: a serial stage is never called by two workers at once, so any
/// interior state it keeps (a `Mutex`, an atomic) is never contended.
///
/// ```
/// use para::{Graph, Output, Stage};
///
/// /// Emits every item twice.
/// struct Twice;
/// impl<T: Clone + Send> Stage<T> for Twice {
///     type Out = T;
///     fn process(&self, item: T, out: &mut Output<'_, T>) {
///         out.emit(item.clone());
///         out.emit(item);
///     }
/// }
///
/// let mut total = 0;
/// let mut g = Graph::new();
/// let src = g.source(1..=3);
/// let twice = g.stage(src, Twice);
/// g.sink(twice, |x: i32| total += x);
/// g.run();
/// assert_eq!(total, 12);
/// ```
pub trait Stage<In>: Send + Sync {
    /// The type of the items the stage emits.
    type Out: Send;

    /// How the runtime may call the stage (default: [`StageMode::Parallel`]).
    fn mode(&self) -> StageMode {
        StageMode::Parallel
    }

    /// A short name for reports and panic messages: the node's kind in the
    /// [`Report`](crate::Report) when the stage is added with
    /// [`Graph::stage`](crate::Graph::stage) (see
    /// [`NodeReport::kind`](crate::NodeReport::kind) for the other kinds).
    fn name(&self) -> &'static str {
        "stage"
    }

    /// Processes one item, emitting any number of outputs.
    fn process(&self, item: In, out: &mut Output<'_, Self::Out>);

    /// Processes one batch. The default calls [`Stage::process`] per item;
    /// override it to take a lock or set up state once per batch.
    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, Self::Out>) {
        for item in input {
            self.process(item, out);
        }
    }

    /// Emits what the stage still holds (for [`StageMode::Regroup`] stages):
    /// called when no more input will come, and when the graph would stall
    /// otherwise (every worker idle while the stage holds items).
    fn flush(&self, out: &mut Output<'_, Self::Out>) {
        let _ = out;
    }
}

/// The items of one batch, as an iterator. Taking an item tells the paired
/// [`Output`] which input item the next outputs descend from.
pub struct Input<'a, T> {
    items: std::vec::Drain<'a, T>,
    current: &'a Cell<usize>,
    next_index: usize,
}

impl<'a, T> Input<'a, T> {
    /// Drains `items`, whose emptied buffer the caller can then reuse.
    pub(crate) fn new(items: &'a mut Vec<T>, current: &'a Cell<usize>) -> Self {
        Input {
            items: items.drain(..),
            current,
            next_index: 0,
        }
    }
}

impl<T> Input<'_, T> {
    /// Maps every remaining item into `out`. When no per-item origins are
    /// tracked (the common case) this is one tight `extend` with no
    /// bookkeeping per item; otherwise it records each item's origin.
    #[inline]
    pub(crate) fn map_into<U>(&mut self, out: &mut Output<'_, U>, mut f: impl FnMut(T) -> U) {
        if out.origins.is_none() {
            out.items.extend(self.items.by_ref().map(f));
        } else {
            for item in self.by_ref() {
                out.emit(f(item));
            }
        }
    }
}

impl<T> Iterator for Input<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        let item = self.items.next()?;
        self.current.set(self.next_index);
        self.next_index += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<T> ExactSizeIterator for Input<'_, T> {}

/// Where a stage puts its results for one batch.
pub struct Output<'a, T> {
    items: &'a mut Vec<T>,
    /// Present when a downstream ordered stage needs per-item origins.
    origins: Option<&'a mut Vec<u32>>,
    in_origin: Option<&'a [u32]>,
    current: &'a Cell<usize>,
    stop: bool,
}

impl<'a, T> Output<'a, T> {
    pub(crate) fn new(
        items: &'a mut Vec<T>,
        origins: Option<&'a mut Vec<u32>>,
        in_origin: Option<&'a [u32]>,
        current: &'a Cell<usize>,
    ) -> Self {
        Output {
            items,
            origins,
            in_origin,
            current,
            stop: false,
        }
    }

    /// Sends one item downstream.
    #[inline]
    pub fn emit(&mut self, item: T) {
        self.items.push(item);
        if let Some(origins) = self.origins.as_deref_mut() {
            let i = self.current.get();
            origins.push(match self.in_origin {
                Some(input) => input[i],
                None => i as u32,
            });
        }
    }

    /// Reserves room for `additional` more items.
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    /// Asks the run to stop its sources: no new items enter the graph, the
    /// items already inside finish. Used by [`take`](crate::api::combinators::take).
    pub fn stop_sources(&mut self) {
        self.stop = true;
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop
    }

    /// An output that collects into `items`, for a runtime outside this
    /// crate that calls [`Stage::process`] itself (`para-cluster` runs
    /// stages on timely-dataflow workers): no per-item origins are tracked.
    /// `current` is the index of the input item being processed (unused
    /// without origins, but the output keeps a reference to it).
    #[doc(hidden)]
    pub fn collecting(items: &'a mut Vec<T>, current: &'a Cell<usize>) -> Self {
        Output::new(items, None, None, current)
    }

    /// Whether the stage asked to stop the sources (see
    /// [`Output::stop_sources`]), for a runtime outside this crate.
    #[doc(hidden)]
    pub fn stop_was_requested(&self) -> bool {
        self.stop
    }
}

/// A parallel map stage from an `Fn` closure.
pub(crate) struct MapFn<F>(pub(crate) F);

impl<In, Out, F> Stage<In> for MapFn<F>
where
    F: Fn(In) -> Out + Send + Sync,
    Out: Send,
{
    type Out = Out;

    fn name(&self) -> &'static str {
        "map"
    }

    #[inline]
    fn process(&self, item: In, out: &mut Output<'_, Out>) {
        out.emit((self.0)(item));
    }

    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, Out>) {
        input.map_into(out, &self.0);
    }
}

/// A serial (or ordered) stage from an `FnMut` closure.
///
/// The closure sits behind a mutex that is taken once per batch; the runtime
/// never runs a serial stage on two workers at once, so the lock is never
/// contended and never blocks.
pub(crate) struct SerialFn<F> {
    f: Mutex<F>,
    mode: StageMode,
    name: &'static str,
}

impl<F> SerialFn<F> {
    pub(crate) fn new(f: F, mode: StageMode, name: &'static str) -> Self {
        SerialFn {
            f: Mutex::new(f),
            mode,
            name,
        }
    }

    /// The closure, for one batch (or one item) of a serial stage.
    pub(crate) fn lock(&self) -> MutexGuard<'_, F> {
        lock(&self.f)
    }

    /// The mode it was made with.
    pub(crate) fn mode(&self) -> StageMode {
        self.mode
    }

    /// The name it was made with.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

impl<In, Out, F> Stage<In> for SerialFn<F>
where
    F: FnMut(In) -> Out + Send,
    Out: Send,
{
    type Out = Out;

    fn mode(&self) -> StageMode {
        self.mode
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn process(&self, item: In, out: &mut Output<'_, Out>) {
        let mut f = self.lock();
        out.emit((*f)(item));
    }

    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, Out>) {
        let mut f = self.lock();
        input.map_into(out, &mut *f);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn output_tracks_origins_through_input() {
        let current = Cell::new(0);
        let mut items = Vec::new();
        let mut origins = Vec::new();
        let in_origin = [7u32, 9, 11];
        let mut batch = vec![1, 2, 3];
        let mut input = Input::new(&mut batch, &current);
        let mut out = Output::new(&mut items, Some(&mut origins), Some(&in_origin), &current);
        for x in &mut input {
            for _ in 0..x {
                out.emit(x);
            }
        }
        assert_eq!(items, vec![1, 2, 2, 3, 3, 3]);
        assert_eq!(origins, vec![7, 9, 9, 11, 11, 11]);
    }

    #[test]
    fn serial_fn_keeps_state() {
        let current = Cell::new(0);
        let mut seen = 0;
        {
            let stage = SerialFn::new(|x: i32| seen += x, StageMode::Serial, "sink");
            let mut items = Vec::new();
            let mut out = Output::new(&mut items, None, None, &current);
            let mut batch = vec![1, 2, 3];
            stage.process_batch(&mut Input::new(&mut batch, &current), &mut out);
            assert_eq!(items.len(), 3);
        }
        assert_eq!(seen, 6);
    }
}
