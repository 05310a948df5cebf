//! The run-time side of `#[para::pipeline]` loops: what a stage did with
//! its item ([`Step`]), the state the stages of one loop share
//! ([`Control`]: the stop flag and the value the function returns), the
//! loop's source ([`StreamSource`]), and its parallel and serial stages.

use crate::api::stage::{Input, Output, SerialFn, Stage, StageMode};
use crate::build::graph::Graph;
use crate::build::port::Port;
use crate::sync::{lock, AtomicBool, Mutex, Ordering};

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
    stop: AtomicBool,
    value: Mutex<Option<R>>,
}

impl<R> Control<R> {
    /// A control with nothing recorded.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Control {
            stop: AtomicBool::new(false),
            value: Mutex::new(None),
        }
    }

    fn stopped(&self) -> bool {
        // Acquire: pairs with the Release in `stop`, so a stage that sees
        // the flag also sees the returned value recorded before it.
        self.stop.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Records the function's return value; the first one recorded wins.
    fn record_return(&self, value: R) {
        let mut slot = lock(&self.value);
        if slot.is_none() {
            *slot = Some(value);
        }
    }

    /// Applies a step: emit the variables, drop the item, or stop.
    fn apply<T>(&self, step: Step<T, R>, out: &mut Output<'_, T>) {
        match step {
            Step::Next(vars) => out.emit(vars),
            Step::Skip => {}
            Step::Break => {
                self.stop();
                out.stop_sources();
            }
            Step::Return(value) => {
                self.record_return(value);
                self.stop();
                out.stop_sources();
            }
        }
    }

    /// The value to return from the function, if a stage returned.
    pub fn take_return(&self) -> Option<R> {
        lock(&self.value).take()
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
                    self.ctl.record_return(value);
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
    fn process(&self, item: In, out: &mut Output<'_, T>) {
        if !self.ctl.stopped() {
            self.ctl.apply((self.f)(item), out);
        }
    }
}

/// A serial or ordered stage: the closure runs as a [`SerialFn`] (behind
/// its never-contended lock, taken once per batch) and its steps are applied
/// to the output.
struct SerialStep<'c, F, R> {
    f: SerialFn<F>,
    ctl: &'c Control<R>,
}

impl<In, T: Send, R: Send, F: FnMut(In) -> Step<T, R> + Send> Stage<In> for SerialStep<'_, F, R> {
    type Out = T;
    fn mode(&self) -> StageMode {
        self.f.mode()
    }
    fn name(&self) -> &'static str {
        self.f.name()
    }
    fn process(&self, item: In, out: &mut Output<'_, T>) {
        if self.ctl.stopped() {
            return;
        }
        let step = (*self.f.lock())(item);
        self.ctl.apply(step, out);
    }
    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, T>) {
        let mut f = self.f.lock();
        for item in input {
            // After a `break` or `return`, later items (in source order, for
            // an ordered stage) are dropped as the sequential loop would.
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
    let (mode, name) = if ordered {
        (StageMode::Ordered, "ordered")
    } else {
        (StageMode::Serial, "serial")
    };
    let f = SerialFn::new(f, mode, name);
    g.stage(from, SerialStep { f, ctl })
}
