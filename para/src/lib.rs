//! # Para: pipeline parallelism on all cores
//!
//! Para runs a graph of closures ("stages") on all cores of one machine.
//! Items flow from sources through stages; independent stages and independent
//! items run at the same time, in per-stage batches taken by work-stealing
//! workers. The graph is static and fully typed: closure parameters are
//! inferred from the upstream stage, and a stage that does not fit is a
//! compile error on that stage.
//!
//! ```
//! use para::prelude::*;
//! let data = vec!(0, 1, 2);
//! let mut sum = 0;
//! pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
//! assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
//! ```
//!
//! ## A tour of `pipeline!`
//!
//! ```text
//! pipeline!( [OPTIONS ,] FLOW { ; FLOW } [;] )
//! OPTIONS := EXPR | KEY = EXPR { , KEY = EXPR }      threads | capacity | batch | pool
//! FLOW    := STAGE { => STAGE }
//! STAGE   := { ATTR } [ 'label : ] BODY | 'label | ( FLOW , FLOW { , FLOW } [,] )
//! ```
//!
//! The first stage of a flow is a source (any `IntoIterator` of `Send`
//! items). A stage with a downstream is a map and runs on many workers at
//! once (`Fn`); a stage with none is a sink and runs on one worker at a time,
//! so it may mutate what it captures. `pipeline!` returns the run's
//! [`Report`].
//!
//! ```
//! use para::prelude::*;
//! let words = vec!["alpha", "be", "gamma"];
//! let mut letters = 0;
//! let report = pipeline!(words => |s| s.len() => |n| letters += n);
//! assert_eq!(letters, 12);
//! assert_eq!(report.nodes()[1].items_in(), 3); // per-stage counters
//! ```
//!
//! Options: a bare thread count, or `threads`, `capacity` (most items alive
//! at once: memory stays flat whatever the input length; by default
//! `4 * threads * batch`), `batch` (largest batch a worker takes) and
//! `pool` (run inside a rayon-core pool).
//!
//! ```
//! use para::prelude::*;
//! let mut n = 0;
//! pipeline!(threads = 2, capacity = 64, batch = 16, 0..10_000 => |x| x * 2 => |_x| n += 1);
//! assert_eq!(n, 10_000);
//! ```
//!
//! Fan-out `( ... , ... )` gives every branch the item (the last branch the
//! original, the others clones); `=> stage` after it is a fan-in. Ordered
//! stages see items in source order, even through such a diamond: for one
//! source item, the branches' outputs come in branch order.
//!
//! ```
//! use para::prelude::*;
//! let mut out = Vec::new();
//! pipeline!(0..3 => (|x| x * 10, |x| -x) => #[ordered] |x| out.push(x));
//! assert_eq!(out, [0, 0, 10, -1, 20, -2]);
//! ```
//!
//! Labels name stages; `'name` at the end of a flow sends into that stage
//! (several producers), at the start it takes that stage's output.
//!
//! ```
//! use para::prelude::*;
//! let mut total = 0;
//! let mut big = 0;
//! pipeline!(
//!     0..10 => |x| x * 2 => 'sum: |x| total += x;
//!     vec![5, 6] => 'sum;
//!     'double: 100..103 => |x| x + 1 => |x| big += x;
//! );
//! assert_eq!(total, 90 + 11);
//! assert_eq!(big, 101 + 102 + 103);
//! ```
//!
//! Attributes: `#[ordered]`, `#[serial]` (a stateful map), `#[parallel]` (a
//! parallel sink), `#[replicate(N)]`, `#[priority(N)]`, `#[split]` (a source
//! several workers produce from: ranges, slices, `Vec`), `#[gpu]` and
//! `#[gpu(batch = N, lanes = L)]` (the body takes `Vec<In>` and returns
//! `Vec<Out>`, on dedicated device lanes).
//!
//! ```
//! use para::prelude::*;
//! let mut running = 0u64;
//! let mut sums = Vec::new();
//! pipeline!(threads = 4,
//!     #[split] 0..1000u64
//!         => #[replicate(2)] |x| x * x
//!         => #[gpu(batch = 128)] |xs: Vec<u64>| xs.into_iter().map(|x| x + 1).collect::<Vec<_>>()
//!         => #[ordered] |x| { running += x; running }
//!         => |s| sums.push(s));
//! assert_eq!(sums.len(), 1000);
//! assert_eq!(*sums.iter().max().unwrap(), (0..1000u64).map(|x| x * x + 1).sum());
//! ```
//!
//! Combinators are stages too: `filter`, `filter_map`, `flat_map`,
//! `inspect`, `batch(n)`, `unbatch()`, `take(n)` and `take_while` (the last
//! two pass exactly what `Iterator::take` would, then stop the sources), and
//! so is any function path or value implementing [`Stage`].
//!
//! ```
//! use para::prelude::*;
//! fn square(x: u64) -> u64 { x * x }
//! let mut out = Vec::new();
//! pipeline!(0..u64::MAX => filter(|&x| x % 2 == 1) => square => take(4) => #[ordered] |x| out.push(x));
//! assert_eq!(out, [1, 9, 25, 49]);
//! ```
//!
//! Mistakes are compile errors on the offending token: an undefined label
//! names the labels that exist, an unknown attribute lists the known ones, and
//! a map that mutates captured state points at the mutation:
//!
//! ```compile_fail
//! use para::prelude::*;
//! let mut seen = 0;
//! pipeline!(0..10 => |x| { seen += 1; x } => |_x| ()); // add #[serial] to the map
//! ```
//!
//! ## `#[para::pipeline]`: annotate a sequential loop
//!
//! Write the loop sequentially, check it is right, then mark it: `#[stream]`
//! on the `for` loop, and `#[stage(...)]` where a new stage begins (the
//! model of SPar). Statements before the first mark run in the source, in
//! iteration order. Options: `replicate = N`, `parallel`, `ordered`,
//! `priority = N`; a bare `#[stage]` is serial, so any loop body is correct
//! before it is fast. Loop-local variables used by a later stage travel with
//! the item; outer variables are borrowed. `continue` drops the item, `break`
//! stops the source, and `return` or `?` stop the stream and make the
//! function return that value once the workers are done (in an `ordered`
//! stage, the first in source order).
//!
//! The same computation with both front ends: squares of the odd numbers,
//! in order.
//!
//! ```
//! use para::prelude::*;
//!
//! #[para::pipeline(threads = 4)]
//! fn odd_squares(n: u64) -> Vec<u64> {
//!     let mut out = Vec::new();
//!     #[stream]
//!     for x in 0..n {
//!         if x % 2 == 0 {
//!             continue;
//!         }
//!         #[stage(parallel)]
//!         let square = x * x;
//!         #[stage(ordered)]
//!         out.push(square);
//!     }
//!     out
//! }
//!
//! fn odd_squares_macro(n: u64) -> Vec<u64> {
//!     let mut out = Vec::new();
//!     pipeline!(threads = 4, 0..n => filter(|x| x % 2 == 1) => |x| x * x => #[ordered] |s| out.push(s));
//!     out
//! }
//!
//! assert_eq!(odd_squares(10), [1, 9, 25, 49, 81]);
//! assert_eq!(odd_squares(1000), odd_squares_macro(1000));
//! ```
//!
//! Errors travel as in the sequential loop:
//!
//! ```
//! #[para::pipeline(threads = 2)]
//! fn parse_all(lines: &[&str]) -> Result<i64, std::num::ParseIntError> {
//!     let mut sum = 0;
//!     #[stream]
//!     for line in lines {
//!         #[stage(ordered)]
//!         let value: i64 = line.trim().parse()?;
//!         #[stage]
//!         sum += value;
//!     }
//!     Ok(sum)
//! }
//! assert_eq!(parse_all(&["1", "2", "3"]), Ok(6));
//! assert!(parse_all(&["1", "x", "3"]).is_err());
//! ```
//!
//! ## The builder
//!
//! [`Graph`] builds the same graphs at run time (a fan-out to a number of
//! branches known only at run time, programmatic graphs); the macro expands
//! to it. The seed example, by hand:
//!
//! ```
//! use para::prelude::*;
//!
//! let data = vec![0, 1, 2];
//! let mut sum = 0;
//! let mut g = Graph::new();
//! let src = g.source(data);
//! let mut branches = g.fan_out(src, 2).into_iter();
//! let a = g.map(branches.next().unwrap(), |x: i32| (x * 2, x));
//! let a = g.map(a, |(x2, x)| x2 - x);
//! let b = g.map(branches.next().unwrap(), |x: i32| -x);
//! let joined = g.fan_in([a, b]);
//! g.sink(joined, |x| sum += x);
//! let report = g.run_with(Options::new().threads(4));
//! assert_eq!(sum, 0);
//! println!("{report}");
//! ```
//!
//! Stages may borrow from the caller's stack: a run returns only after every
//! stage has finished. A panicking stage cancels the run, every item still
//! inside is dropped, and the panic resumes on the caller.

#![warn(missing_docs)]

pub use para_macros::stream_pipeline as pipeline;
pub use para_runtime::*;

/// What a pipeline needs in scope: `pipeline!`, the builder, its options,
/// the combinators and the traits, as `rayon::prelude` does for rayon.
pub mod prelude {
    pub use para_macros::pipeline;
    pub use para_runtime::combinators::{
        batch, filter, filter_map, flat_map, inspect, take, take_while, unbatch,
    };
    pub use para_runtime::{Graph, IntoSplit, Options, Report, Split, Stage};
}

/// What code generated by the macros refers to. Not a public API: it may
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use para_runtime::{Graph, NodeId, Options, Port, Report, Stage, StageMode};
    use std::marker::PhantomData;

    /// The batch size of a `#[gpu]` stage without `batch = N`.
    pub const DEFAULT_GPU_BATCH: usize = 1024;

    /// A report for an expansion that failed (keeps follow-up errors quiet).
    pub fn empty_report() -> Report {
        Report::empty()
    }

    /// Fan-out into `n` branches, as an iterator the expansion takes ports
    /// from in branch order.
    #[diagnostic::on_unimplemented(
        message = "fan-out of a non-`Clone` item: `{Self}` does not implement `Clone`",
        label = "every branch but the last gets a clone of this stage's output",
        note = "derive or implement `Clone` for the item type, or wrap it in an `Arc`"
    )]
    pub trait FanOutItem: Clone {}
    impl<T: Clone> FanOutItem for T {}

    /// See [`FanOutItem`].
    pub fn fan_out<'a, T: FanOutItem + Send + 'a>(
        g: &mut Graph<'a>,
        from: Port<T>,
        n: usize,
    ) -> std::vec::IntoIter<Port<T>> {
        g.fan_out(from, n).into_iter()
    }

    /// The item type of a fan-in branch, checked against the first branch.
    #[diagnostic::on_unimplemented(
        message = "fan-in branches end in different types: this branch emits `{Self}`, \
                   the first branch `Port<{T}>`",
        label = "this branch's last stage emits a different type",
        note = "every branch of a fan-out that is followed by `=> stage` must end in the same type"
    )]
    pub trait SameItem<T> {
        /// The branch's port, now known to carry `T`.
        fn into_port(self) -> Port<T>;
    }
    impl<T> SameItem<T> for Port<T> {
        fn into_port(self) -> Port<T> {
            self
        }
    }

    /// See [`SameItem`].
    pub fn fan_in_branch<T, P: SameItem<T>>(_first: &Port<T>, branch: P) -> Port<T> {
        branch.into_port()
    }

    /// What one stage of a `#[stream]` loop did with its item.
    pub enum Step<T, R> {
        /// Go on with these variables.
        Next(T),
        /// `continue`: drop the item.
        Skip,
        /// `break`: stop the source; items in flight finish.
        Break,
        /// `return` or `?`: stop the stream; the function returns this.
        Return(R),
    }

    /// Shared by the stages of one `#[stream]` loop: the stop flag and the
    /// value the function returns.
    pub struct Control<R> {
        stop: std::sync::atomic::AtomicBool,
        value: std::sync::Mutex<Option<R>>,
    }

    impl<R> Control<R> {
        /// A control with nothing recorded.
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Control {
                stop: std::sync::atomic::AtomicBool::new(false),
                value: std::sync::Mutex::new(None),
            }
        }

        fn stopped(&self) -> bool {
            self.stop.load(std::sync::atomic::Ordering::Acquire)
        }

        /// Applies a step: `Some(vars)` to go on, `None` to drop the item.
        /// The first `return` observed wins.
        fn apply<T>(&self, step: Step<T, R>, out: &mut para_runtime::Output<'_, T>) {
            match step {
                Step::Next(vars) => out.emit(vars),
                Step::Skip => {}
                Step::Break => {
                    self.stop.store(true, std::sync::atomic::Ordering::Release);
                    out.stop_sources();
                }
                Step::Return(value) => {
                    let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        *slot = Some(value);
                    }
                    drop(slot);
                    self.stop.store(true, std::sync::atomic::Ordering::Release);
                    out.stop_sources();
                }
            }
        }

        /// The value to return from the function, if a stage returned.
        pub fn take_return(&self) -> Option<R> {
            self.value.lock().unwrap_or_else(|e| e.into_inner()).take()
        }
    }

    /// The source of a `#[stream]` loop: the loop's iterator with the
    /// statements before the first `#[stage]` applied in iteration order.
    pub struct StreamSource<'c, I, F, R> {
        ctl: &'c Control<R>,
        iter: I,
        head: F,
        done: bool,
    }

    impl<'c, I: Iterator, F, R> StreamSource<'c, I, F, R> {
        /// Wraps the loop's iterator and its first statements (the bound
        /// lets the closure's parameter be inferred from the iterator).
        pub fn new<T>(ctl: &'c Control<R>, iter: I, head: F) -> Self
        where
            F: FnMut(I::Item) -> Step<T, R>,
        {
            StreamSource {
                ctl,
                iter,
                head,
                done: false,
            }
        }
    }

    impl<I: Iterator, T, R, F: FnMut(I::Item) -> Step<T, R>> Iterator for StreamSource<'_, I, F, R> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            while !self.done && !self.ctl.stopped() {
                let item = self.iter.next()?;
                match (self.head)(item) {
                    Step::Next(vars) => return Some(vars),
                    Step::Skip => {}
                    Step::Break => self.done = true,
                    Step::Return(value) => {
                        let mut slot = self.ctl.value.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none() {
                            *slot = Some(value);
                        }
                        self.done = true;
                    }
                }
            }
            None
        }
    }

    struct ParallelStep<'c, F, R> {
        f: F,
        ctl: &'c Control<R>,
    }

    impl<In, T: Send, R: Send, F: Fn(In) -> Step<T, R> + Send + Sync> Stage<In>
        for ParallelStep<'_, F, R>
    {
        type Out = T;
        fn name(&self) -> &'static str {
            "stage"
        }
        fn process(&self, item: In, out: &mut para_runtime::Output<'_, T>) {
            if !self.ctl.stopped() {
                self.ctl.apply((self.f)(item), out);
            }
        }
    }

    struct SerialStep<'c, F, R> {
        f: std::sync::Mutex<F>,
        ctl: &'c Control<R>,
        ordered: bool,
    }

    impl<In, T: Send, R: Send, F: FnMut(In) -> Step<T, R> + Send> Stage<In> for SerialStep<'_, F, R> {
        type Out = T;
        fn mode(&self) -> para_runtime::StageMode {
            if self.ordered {
                para_runtime::StageMode::Ordered
            } else {
                para_runtime::StageMode::Serial
            }
        }
        fn name(&self) -> &'static str {
            if self.ordered {
                "ordered stage"
            } else {
                "serial stage"
            }
        }
        fn process(&self, item: In, out: &mut para_runtime::Output<'_, T>) {
            // After a `break` or `return`, later items (in source order, for
            // an ordered stage) are dropped as the sequential loop would.
            if self.ctl.stopped() {
                return;
            }
            let mut f = self.f.lock().unwrap_or_else(|e| e.into_inner());
            let step = (*f)(item);
            drop(f);
            self.ctl.apply(step, out);
        }
        /// Takes the closure's lock once per batch, not once per item.
        fn process_batch(
            &self,
            input: &mut para_runtime::Input<'_, In>,
            out: &mut para_runtime::Output<'_, T>,
        ) {
            let mut f = self.f.lock().unwrap_or_else(|e| e.into_inner());
            for item in input {
                if self.ctl.stopped() {
                    return;
                }
                let step = (*f)(item);
                self.ctl.apply(step, out);
            }
        }
    }

    /// A parallel stage of a `#[stream]` loop.
    pub fn parallel_step<'a, In, T, R, F>(
        g: &mut Graph<'a>,
        from: Port<In>,
        ctl: &'a Control<R>,
        f: F,
    ) -> Port<T>
    where
        In: Send + 'a,
        T: Send + 'a,
        R: Send + 'a,
        F: Fn(In) -> Step<T, R> + Send + Sync + 'a,
    {
        g.stage(from, ParallelStep { f, ctl })
    }

    /// A serial (or ordered) stage of a `#[stream]` loop.
    pub fn serial_step<'a, In, T, R, F>(
        g: &mut Graph<'a>,
        from: Port<In>,
        ctl: &'a Control<R>,
        ordered: bool,
        f: F,
    ) -> Port<T>
    where
        In: Send + 'a,
        T: Send + 'a,
        R: Send + 'a,
        F: FnMut(In) -> Step<T, R> + Send + 'a,
    {
        g.stage(
            from,
            SerialStep {
                f: std::sync::Mutex::new(f),
                ctl,
                ordered,
            },
        )
    }

    /// Marks a body used as a [`Stage`].
    pub struct StageBody;
    /// Marks a body used as a function returning `Out`.
    pub struct FnBody<Out>(PhantomData<fn() -> Out>);

    /// A non-closure body in a parallel position: a `Stage` value or a
    /// function path `Fn(In) -> Out`.
    pub trait ParallelBody<'a, In, M>: Sized {
        /// What the stage emits.
        type Out;
        /// Adds the stage to `g`.
        fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<Self::Out>;
    }

    impl<'a, In: Send + 'a, S: Stage<In> + 'a> ParallelBody<'a, In, StageBody> for S
    where
        S::Out: 'a,
    {
        type Out = S::Out;
        fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<S::Out> {
            g.stage(from, self)
        }
    }

    impl<'a, In, Out, F> ParallelBody<'a, In, FnBody<Out>> for F
    where
        In: Send + 'a,
        Out: Send + 'a,
        F: Fn(In) -> Out + Send + Sync + 'a,
    {
        type Out = Out;
        fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<Out> {
            g.map(from, self)
        }
    }

    /// A non-closure body in a serial position: a `Stage` value or a
    /// function path `FnMut(In) -> Out`.
    pub trait SerialBody<'a, In, M>: Sized {
        /// What the stage emits.
        type Out;
        /// Adds the stage to `g`, ordered or not.
        fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<Self::Out>;
    }

    impl<'a, In: Send + 'a, S: Stage<In> + 'a> SerialBody<'a, In, StageBody> for S
    where
        S::Out: 'a,
    {
        type Out = S::Out;
        fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<S::Out> {
            // In a serial position (a sink, `#[serial]`, `#[ordered]`) a
            // `Stage` value runs serially, and ordered if asked, whatever
            // mode it declares (a regrouping stage already sees order).
            let declared = self.mode();
            let mode = match declared {
                StageMode::Regroup | StageMode::Ordered => declared,
                _ if ordered => StageMode::Ordered,
                _ => StageMode::Serial,
            };
            if mode == declared {
                g.stage(from, self)
            } else {
                g.stage(from, WithMode(self, mode))
            }
        }
    }

    /// A `Stage` run in another mode than it declares.
    struct WithMode<S>(S, StageMode);

    impl<In, S: Stage<In>> Stage<In> for WithMode<S> {
        type Out = S::Out;
        fn mode(&self) -> StageMode {
            self.1
        }
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn process(&self, item: In, out: &mut para_runtime::Output<'_, S::Out>) {
            self.0.process(item, out);
        }
        fn process_batch(
            &self,
            input: &mut para_runtime::Input<'_, In>,
            out: &mut para_runtime::Output<'_, S::Out>,
        ) {
            self.0.process_batch(input, out);
        }
        fn flush(&self, out: &mut para_runtime::Output<'_, S::Out>) {
            self.0.flush(out);
        }
    }

    impl<'a, In, Out, F> SerialBody<'a, In, FnBody<Out>> for F
    where
        In: Send + 'a,
        Out: Send + 'a,
        F: FnMut(In) -> Out + Send + 'a,
    {
        type Out = Out;
        fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<Out> {
            if ordered {
                g.ordered_map(from, self)
            } else {
                g.serial_map(from, self)
            }
        }
    }

    /// A parallel map (or parallel sink) from a non-closure body.
    pub fn map_body<'a, In, M, B: ParallelBody<'a, In, M>>(
        g: &mut Graph<'a>,
        from: Port<In>,
        body: B,
    ) -> Port<B::Out> {
        body.add(g, from)
    }

    /// A serial map (or sink) from a non-closure body.
    pub fn serial_body<'a, In, M, B: SerialBody<'a, In, M>>(
        g: &mut Graph<'a>,
        from: Port<In>,
        body: B,
    ) -> Port<B::Out> {
        body.add(g, from, false)
    }

    /// An ordered map (or sink) from a non-closure body.
    pub fn ordered_body<'a, In, M, B: SerialBody<'a, In, M>>(
        g: &mut Graph<'a>,
        from: Port<In>,
        body: B,
    ) -> Port<B::Out> {
        body.add(g, from, true)
    }
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
