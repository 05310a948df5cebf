//! `?` in a `pipeline!` stage (SPEC section 1, "Errors"). The macro
//! rewrites a stage closure that uses `?` to return
//! `Result<Out, E>` and adds it with one of the `try_*` helpers: an `Ok`
//! goes on as the stage's output, the first `Err` is kept in the pipeline's
//! [`ErrorSlot`] and stops the sources (items already inside finish, as
//! with `take`); the item that failed goes no further. `E` is one type for
//! the whole pipeline: every fallible stage's `?` converts into it with
//! `From`, and the expansion's value (`Result<Report, E>`, or a stream of
//! `Result<T, E>`) fixes it from how the pipeline is used.
//!
//! "First" is the first error recorded: in source order when the failing
//! stage is ordered (it sees items in that order), otherwise the first
//! observed.

use crate::api::id::NodeId;
use crate::api::report::Report;
use crate::api::stage::{Input, Output, Stage, StageMode};
use crate::build::graph::Graph;
use crate::build::port::{Port, StreamPort};
use crate::nodes::stream::{Stream, Tail};
use crate::sync::{lock, Arc, Mutex};

/// The first error of a run, shared by its fallible stages.
pub struct ErrorSlot<E>(Arc<Mutex<Option<E>>>);

impl<E> ErrorSlot<E> {
    /// An empty slot.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        ErrorSlot(Arc::new(Mutex::new(None)))
    }

    /// Keeps `error` if it is the first.
    fn record(&self, error: E) {
        let mut slot = lock(&self.0);
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// The first error, if any (taking it).
    fn take(&self) -> Option<E> {
        lock(&self.0).take()
    }
}

impl<E> Clone for ErrorSlot<E> {
    fn clone(&self) -> Self {
        ErrorSlot(self.0.clone())
    }
}

/// A fallible stage: `call` gives the item's result, an error is recorded
/// and stops the sources.
struct Try<F, E> {
    f: F,
    errors: ErrorSlot<E>,
    mode: StageMode,
    name: &'static str,
}

impl<F, E> Try<F, E> {
    fn settle<U>(&self, result: Result<U, E>, out: &mut Output<'_, U>) {
        match result {
            Ok(value) => out.emit(value),
            Err(error) => {
                self.errors.record(error);
                out.stop_sources();
            }
        }
    }
}

/// A parallel fallible stage (`Fn`).
struct TryParallel<F, E>(Try<F, E>);

impl<In, U, E, F> Stage<In> for TryParallel<F, E>
where
    F: Fn(In) -> Result<U, E> + Send + Sync,
    U: Send,
    E: Send,
{
    type Out = U;
    fn mode(&self) -> StageMode {
        self.0.mode
    }
    fn name(&self) -> &'static str {
        self.0.name
    }
    fn process(&self, item: In, out: &mut Output<'_, U>) {
        self.0.settle((self.0.f)(item), out);
    }
}

/// A serial or ordered fallible stage (`FnMut`, behind a lock taken once
/// per batch and never contended, as `SerialFn`).
struct TrySerial<F, E>(Try<Mutex<F>, E>);

impl<In, U, E, F> Stage<In> for TrySerial<F, E>
where
    F: FnMut(In) -> Result<U, E> + Send,
    U: Send,
    E: Send,
{
    type Out = U;
    fn mode(&self) -> StageMode {
        self.0.mode
    }
    fn name(&self) -> &'static str {
        self.0.name
    }
    fn process(&self, item: In, out: &mut Output<'_, U>) {
        let result = (*lock(&self.0.f))(item);
        self.0.settle(result, out);
    }
    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, U>) {
        let mut f = lock(&self.0.f);
        for item in input {
            self.0.settle((*f)(item), out);
        }
    }
}

fn parallel<'a, In, U, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
    name: &'static str,
) -> Port<U>
where
    In: Send + 'a,
    U: Send + 'a,
    E: Send + 'a,
    F: Fn(In) -> Result<U, E> + Send + Sync + 'a,
{
    let errors = errors.clone();
    let mode = StageMode::Parallel;
    g.stage(
        from,
        TryParallel(Try {
            f,
            errors,
            mode,
            name,
        }),
    )
}

fn serial<'a, In, U, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
    mode: StageMode,
    name: &'static str,
) -> Port<U>
where
    In: Send + 'a,
    U: Send + 'a,
    E: Send + 'a,
    F: FnMut(In) -> Result<U, E> + Send + 'a,
{
    let errors = errors.clone();
    let f = Mutex::new(f);
    g.stage(
        from,
        TrySerial(Try {
            f,
            errors,
            mode,
            name,
        }),
    )
}

/// A parallel map whose closure uses `?`.
pub fn try_map<'a, In, U, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> Port<U>
where
    In: Send + 'a,
    U: Send + 'a,
    E: Send + 'a,
    F: Fn(In) -> Result<U, E> + Send + Sync + 'a,
{
    parallel(g, from, errors, f, "map")
}

/// A `#[serial]` map whose closure uses `?`.
pub fn try_serial_map<'a, In, U, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> Port<U>
where
    In: Send + 'a,
    U: Send + 'a,
    E: Send + 'a,
    F: FnMut(In) -> Result<U, E> + Send + 'a,
{
    serial(g, from, errors, f, StageMode::Serial, "serial")
}

/// An `#[ordered]` map whose closure uses `?`.
pub fn try_ordered_map<'a, In, U, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> Port<U>
where
    In: Send + 'a,
    U: Send + 'a,
    E: Send + 'a,
    F: FnMut(In) -> Result<U, E> + Send + 'a,
{
    serial(g, from, errors, f, StageMode::Ordered, "ordered")
}

/// A sink whose closure uses `?`.
pub fn try_sink<'a, In, R, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> NodeId
where
    In: Send + 'a,
    R: Send + 'a,
    E: Send + 'a,
    F: FnMut(In) -> Result<R, E> + Send + 'a,
{
    serial(g, from, errors, f, StageMode::Serial, "sink").node()
}

/// A `#[parallel]` sink whose closure uses `?`.
pub fn try_parallel_sink<'a, In, R, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> NodeId
where
    In: Send + 'a,
    R: Send + 'a,
    E: Send + 'a,
    F: Fn(In) -> Result<R, E> + Send + Sync + 'a,
{
    parallel(g, from, errors, f, "sink").node()
}

/// An `#[ordered]` sink whose closure uses `?`.
pub fn try_ordered_sink<'a, In, R, E, F>(
    g: &mut Graph<'a>,
    from: Port<In>,
    errors: &ErrorSlot<E>,
    f: F,
) -> NodeId
where
    In: Send + 'a,
    R: Send + 'a,
    E: Send + 'a,
    F: FnMut(In) -> Result<R, E> + Send + 'a,
{
    serial(g, from, errors, f, StageMode::Ordered, "ordered sink").node()
}

/// The `yield` of a pipeline whose stages use `?`: its items come out as
/// `Ok(item)` (then the first error, see [`finish_stream`]), in source
/// order if `ordered`.
pub fn try_yield<'a, T: Send + 'a, E: Send + 'a>(
    g: &mut Graph<'a>,
    from: Port<T>,
    ordered: bool,
) -> StreamPort<Result<T, E>> {
    let mode = if ordered {
        StageMode::Ordered
    } else {
        StageMode::Parallel
    };
    g.yield_node(from, mode, Ok)
}

/// The value of a blocking pipeline whose stages use `?`: the report, or
/// the first error.
pub fn finish_run<E>(errors: ErrorSlot<E>, report: Report) -> Result<Report, E> {
    match errors.take() {
        Some(error) => Err(error),
        None => Ok(report),
    }
}

/// The stream of a pipeline whose stages use `?`: the items, then the
/// first error (if any), then the end.
pub fn finish_stream<T, E>(
    errors: ErrorSlot<E>,
    mut stream: Stream<Result<T, E>>,
) -> Stream<Result<T, E>>
where
    E: Send + 'static,
{
    stream.set_tail(Box::new(FirstError(errors)));
    stream
}

/// The tail of a `?` pipeline's stream: its first error.
struct FirstError<E>(ErrorSlot<E>);

impl<T, E: Send> Tail<Result<T, E>> for FirstError<E> {
    fn last(self: Box<Self>) -> Option<Result<T, E>> {
        self.0.take().map(Err)
    }
}
