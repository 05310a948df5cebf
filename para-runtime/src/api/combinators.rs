//! Ready-made stages: `filter`, `filter_map`, `flat_map`, `inspect`, `batch`,
//! `unbatch`, `take` and `take_while`, and [`fold`].
//!
//! Each but `fold` is a value implementing [`Stage`]; pass it to
//! [`Graph::stage`](crate::Graph::stage) or use the typed shortcut of the same
//! name on [`Graph`](crate::Graph), which also lets closure parameters be
//! inferred from the upstream item type. In `pipeline!` they are written as
//! a stage's body (`=> filter(|&x| x % 3 == 0) =>`).
//!
//! ```
//! use para::combinators::{filter, take};
//! use para::Graph;
//!
//! let mut firsts = Vec::new();
//! let mut g = Graph::new();
//! let numbers = g.source(0..1_000_000u64);
//! let threes = g.stage(numbers, filter(|x: &u64| x % 3 == 0));
//! let first = g.stage(threes, take(4));
//! g.sink(first, |x| firsts.push(x));
//! g.run();
//! firsts.sort();
//! assert_eq!(firsts, [0, 3, 6, 9]);
//! ```

use crate::api::stage::{Input, Output, Stage, StageMode};
use crate::sync::{lock, AtomicBool, AtomicUsize, Mutex, Ordering};

/// Keeps the items for which the predicate returns `true` (parallel).
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(1..=6);
/// let even = g.stage(src, filter(|x: &i32| x % 2 == 0));
/// g.ordered_sink(even, |x| out.push(x));
/// g.run();
/// assert_eq!(out, [2, 4, 6]);
/// ```
pub fn filter<F>(predicate: F) -> Filter<F> {
    Filter(predicate)
}

/// See [`filter`].
pub struct Filter<F>(pub(crate) F);

impl<T: Send, F: Fn(&T) -> bool + Send + Sync> Stage<T> for Filter<F> {
    type Out = T;
    fn name(&self) -> &'static str {
        "filter"
    }
    #[inline]
    fn process(&self, item: T, out: &mut Output<'_, T>) {
        if (self.0)(&item) {
            out.emit(item);
        }
    }
}

/// Maps each item to an `Option` and keeps the `Some` values (parallel).
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(["1", "x", "3"]);
/// let numbers = g.stage(src, filter_map(|s: &str| s.parse::<u32>().ok()));
/// g.ordered_sink(numbers, |x| out.push(x));
/// g.run();
/// assert_eq!(out, [1, 3]);
/// ```
pub fn filter_map<F>(f: F) -> FilterMap<F> {
    FilterMap(f)
}

/// See [`filter_map`].
pub struct FilterMap<F>(pub(crate) F);

impl<T, U: Send, F: Fn(T) -> Option<U> + Send + Sync> Stage<T> for FilterMap<F> {
    type Out = U;
    fn name(&self) -> &'static str {
        "filter_map"
    }
    #[inline]
    fn process(&self, item: T, out: &mut Output<'_, U>) {
        if let Some(value) = (self.0)(item) {
            out.emit(value);
        }
    }
}

/// Maps each item to an iterable and emits all of its items (parallel).
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source([2, 0, 3]);
/// let repeated = g.stage(src, flat_map(|n: usize| vec![n; n]));
/// g.ordered_sink(repeated, |n| out.push(n));
/// g.run();
/// assert_eq!(out, [2, 2, 3, 3, 3]);
/// ```
pub fn flat_map<F>(f: F) -> FlatMap<F> {
    FlatMap(f)
}

/// See [`flat_map`].
pub struct FlatMap<F>(pub(crate) F);

impl<T, I, F> Stage<T> for FlatMap<F>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(T) -> I + Send + Sync,
{
    type Out = I::Item;
    fn name(&self) -> &'static str {
        "flat_map"
    }
    #[inline]
    fn process(&self, item: T, out: &mut Output<'_, I::Item>) {
        for value in (self.0)(item) {
            out.emit(value);
        }
    }
}

/// Calls a function on a reference to each item and passes it on (parallel).
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let seen = std::sync::atomic::AtomicUsize::new(0);
/// let src = g.source(0..5);
/// let counted = g.stage(src, inspect(|_: &i32| {
///     seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
/// }));
/// g.ordered_sink(counted, |x| out.push(x));
/// g.run();
/// assert_eq!((out.len(), seen.into_inner()), (5, 5));
/// ```
pub fn inspect<F>(f: F) -> Inspect<F> {
    Inspect(f)
}

/// See [`inspect`].
pub struct Inspect<F>(pub(crate) F);

impl<T: Send, F: Fn(&T) + Send + Sync> Stage<T> for Inspect<F> {
    type Out = T;
    fn name(&self) -> &'static str {
        "inspect"
    }
    #[inline]
    fn process(&self, item: T, out: &mut Output<'_, T>) {
        (self.0)(&item);
        out.emit(item);
    }
}

/// Groups items into `Vec`s of up to `size` items.
///
/// The groups hold consecutive items in source order when one source feeds the
/// stage. Items waiting in a group are alive: they count against the run's
/// `capacity` until their group has been through its last stage. A partial
/// group is emitted when the input ends, when the items waiting in partial
/// groups fill the capacity (with a `capacity` below `size`, groups hold at
/// most about `capacity` items), and when every worker would otherwise go
/// idle.
///
/// # Panics
///
/// If `size` is 0.
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(0..5);
/// let groups = g.stage(src, batch(2));
/// g.ordered_sink(groups, |v: Vec<i32>| out.push(v));
/// g.run();
/// assert_eq!(out, [vec![0, 1], vec![2, 3], vec![4]]);
/// ```
pub fn batch<T>(size: usize) -> Batch<T> {
    assert!(
        size > 0,
        "para: batch(0): the group size must be at least 1"
    );
    Batch {
        size,
        pending: Mutex::new(Vec::new()),
    }
}

/// See [`batch`].
pub struct Batch<T> {
    size: usize,
    pending: Mutex<Vec<T>>,
}

impl<T: Send> Stage<T> for Batch<T> {
    type Out = Vec<T>;
    fn mode(&self) -> StageMode {
        StageMode::Regroup
    }
    fn name(&self) -> &'static str {
        "batch"
    }
    fn process(&self, item: T, out: &mut Output<'_, Vec<T>>) {
        let mut pending = lock(&self.pending);
        self.push(&mut pending, item, out);
    }
    fn process_batch(&self, input: &mut Input<'_, T>, out: &mut Output<'_, Vec<T>>) {
        let mut pending = lock(&self.pending);
        for item in input {
            self.push(&mut pending, item, out);
        }
    }
    fn flush(&self, out: &mut Output<'_, Vec<T>>) {
        let mut pending = lock(&self.pending);
        if !pending.is_empty() {
            out.emit(std::mem::take(&mut *pending));
        }
    }
}

impl<T> Batch<T> {
    fn push(&self, pending: &mut Vec<T>, item: T, out: &mut Output<'_, Vec<T>>) {
        if pending.capacity() == 0 {
            pending.reserve_exact(self.size);
        }
        pending.push(item);
        if pending.len() == self.size {
            out.emit(std::mem::replace(pending, Vec::with_capacity(self.size)));
        }
    }
}

/// Splits each incoming collection (a `Vec`, or any `IntoIterator`) back into
/// its items (parallel). The inverse of [`batch`].
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(vec![vec![1, 2], vec![], vec![3]]);
/// let items = g.stage(src, unbatch());
/// g.ordered_sink(items, |x: i32| out.push(x));
/// g.run();
/// assert_eq!(out, [1, 2, 3]);
/// ```
pub fn unbatch() -> Unbatch {
    Unbatch
}

/// See [`unbatch`].
pub struct Unbatch;

impl<I> Stage<I> for Unbatch
where
    I: IntoIterator,
    I::Item: Send,
{
    type Out = I::Item;
    fn name(&self) -> &'static str {
        "unbatch"
    }
    #[inline]
    fn process(&self, item: I, out: &mut Output<'_, I::Item>) {
        for value in item {
            out.emit(value);
        }
    }
}

/// Passes the first `n` items in source order, then stops the sources.
///
/// An ordered stage: it passes exactly the items `Iterator::take(n)` would.
/// Items that were already in flight past the cut are dropped.
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(0..);
/// let first = g.stage(src, take(3));
/// g.sink(first, |x: u64| out.push(x));
/// g.run();
/// assert_eq!(out, [0, 1, 2]);
/// ```
pub fn take(n: usize) -> Take {
    Take {
        left: AtomicUsize::new(n),
    }
}

/// See [`take`].
pub struct Take {
    /// Items still to pass. A serial stage is called by one worker at a time
    /// and the runtime's claim orders successive calls, so relaxed loads and
    /// stores are enough.
    left: AtomicUsize,
}

impl<T: Send> Stage<T> for Take {
    type Out = T;
    fn mode(&self) -> StageMode {
        StageMode::Ordered
    }
    fn name(&self) -> &'static str {
        "take"
    }
    fn process(&self, item: T, out: &mut Output<'_, T>) {
        let left = self.left.load(Ordering::Relaxed);
        if left > 0 {
            out.emit(item);
            self.left.store(left - 1, Ordering::Relaxed);
        }
        if left <= 1 {
            out.stop_sources();
        }
    }
    fn process_batch(&self, input: &mut Input<'_, T>, out: &mut Output<'_, T>) {
        let mut left = self.left.load(Ordering::Relaxed);
        for item in input {
            if left == 0 {
                break;
            }
            left -= 1;
            out.emit(item);
        }
        self.left.store(left, Ordering::Relaxed);
        if left == 0 {
            out.stop_sources();
        }
    }
}

/// Passes items in source order while the predicate holds, then stops the
/// sources. An ordered stage, like `Iterator::take_while`.
///
/// ```
/// use para::combinators::*;
/// use para::Graph;
///
/// let mut out = Vec::new();
/// let mut g = Graph::new();
/// let src = g.source(0..);
/// let small = g.stage(src, take_while(|x: &u64| x * x < 50));
/// g.sink(small, |x| out.push(x));
/// g.run();
/// assert_eq!(out, [0, 1, 2, 3, 4, 5, 6, 7]);
/// ```
pub fn take_while<F>(predicate: F) -> TakeWhile<F> {
    TakeWhile {
        predicate,
        done: AtomicBool::new(false),
    }
}

/// See [`take_while`].
pub struct TakeWhile<F> {
    predicate: F,
    /// Set once the predicate failed; see [`Take::left`] for the ordering.
    done: AtomicBool,
}

impl<T: Send, F: Fn(&T) -> bool + Send + Sync> Stage<T> for TakeWhile<F> {
    type Out = T;
    fn mode(&self) -> StageMode {
        StageMode::Ordered
    }
    fn name(&self) -> &'static str {
        "take_while"
    }
    fn process(&self, item: T, out: &mut Output<'_, T>) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        if (self.predicate)(&item) {
            out.emit(item);
        } else {
            self.done.store(true, Ordering::Relaxed);
            out.stop_sources();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn run<T, S: Stage<T>>(stage: &S, batches: Vec<Vec<T>>) -> (Vec<S::Out>, bool) {
        let current = Cell::new(0);
        let mut items = Vec::new();
        let mut stopped = false;
        for mut batch in batches {
            let mut out = Output::new(&mut items, None, None, &current);
            stage.process_batch(&mut Input::new(&mut batch, &current), &mut out);
            stopped |= out.stop_requested();
        }
        let mut out = Output::new(&mut items, None, None, &current);
        stage.flush(&mut out);
        (items, stopped)
    }

    #[test]
    fn filter_family() {
        assert_eq!(
            run(&filter(|x: &i32| x % 2 == 0), vec![vec![1, 2, 3, 4]]).0,
            [2, 4]
        );
        let fm = filter_map(|x: i32| (x > 2).then_some(x * 10));
        assert_eq!(run(&fm, vec![vec![1, 2, 3, 4]]).0, [30, 40]);
        assert_eq!(run(&flat_map(|x: i32| 0..x), vec![vec![1, 2]]).0, [0, 0, 1]);
        assert_eq!(
            run(&unbatch(), vec![vec![vec![1, 2], vec![3]]]).0,
            [1, 2, 3]
        );
    }

    #[test]
    fn batch_groups_and_flushes() {
        let (groups, _) = run(&batch(2), vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(groups, vec![vec![1, 2], vec![3, 4], vec![5]]);
    }

    #[test]
    fn take_stops_at_n() {
        let (items, stopped) = run(&take(3), vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(items, [1, 2, 3]);
        assert!(stopped);
        let (items, stopped) = run(&take(10), vec![vec![1, 2]]);
        assert_eq!(items, [1, 2]);
        assert!(!stopped);
    }

    #[test]
    fn take_while_stops_at_first_failure() {
        let (items, stopped) = run(&take_while(|x: &i32| *x < 3), vec![vec![1, 2, 3, 1]]);
        assert_eq!(items, [1, 2]);
        assert!(stopped);
    }
}

/// Folds the items each worker receives into that worker's own accumulator
/// (`init()`, then `op(acc, item)`), with no lock between workers, and
/// when the input ends emits every accumulator (one per worker that
/// received items) downstream, where an ordinary serial sink merges them
/// (as rayon's `fold` then `reduce`). A counting or summing sink is then no
/// serial bottleneck: the sink sees a handful of accumulators instead of
/// every item.
///
/// `fold` is not a [`Stage`] (a stage has no per-worker state): add it with
/// [`Graph::fold`](crate::Graph::fold), or write it as a stage of
/// `pipeline!` (`=> fold(HashMap::new, count) =>`), where the closure's
/// parameter types come from the upstream stage.
///
/// ```
/// use para::prelude::*;
/// use std::collections::HashMap;
///
/// let text = vec!["a b a", "b a", "c"];
/// let mut counts: HashMap<&str, usize> = HashMap::new();
/// pipeline!(threads = 2,
///     text => flat_map(|line| line.split_whitespace())
///          => fold(HashMap::new, |mut m: HashMap<&str, usize>, w| { *m.entry(w).or_default() += 1; m })
///          => |m| for (w, n) in m { *counts.entry(w).or_default() += n });
/// assert_eq!((counts["a"], counts["b"], counts["c"]), (3, 2, 1));
/// ```
pub fn fold<I, F>(init: I, op: F) -> Fold<I, F> {
    Fold { init, op }
}

/// See [`fold`].
pub struct Fold<I, F> {
    pub(crate) init: I,
    pub(crate) op: F,
}
