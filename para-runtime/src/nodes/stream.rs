//! Streams: a pipeline's results as an iterator. The `yield` node ([`Pass`],
//! a stage that passes its items on, ordered or not) emits into an
//! [`Outflow`] instead of downstream edges; the run goes on in the
//! background, and its [`Stream`] takes the items on the consumer's
//! thread.
//!
//! # Lifetimes and soundness
//!
//! A stream's run goes on after the call that started it returned, so what
//! its stages borrow must outlive the run however the stream is used, even
//! if it is leaked with `mem::forget` (no destructor runs, so no
//! destructor may be what ends the run). Two ways keep that true:
//!
//! * [`Graph::spawn`](crate::Graph::spawn) takes a `Graph<'static>`: the
//!   stages borrow nothing, and the run may outlive everything (a leaked
//!   stream leaves a run parked at its capacity, and its keeper thread
//!   waiting, which is a leak, not unsoundness).
//! * [`Graph::spawn_scoped`](crate::Graph::spawn_scoped) runs the keeper
//!   (which owns the nodes and drops them) on a thread of a
//!   `std::thread::Scope`, so stages may borrow anything that outlives the
//!   scope: the scope's end joins the keeper, hence the run, whatever
//!   happened to the stream. A leaked stream then makes the scope's end
//!   wait for a run that may never end (a hang, never a dangling borrow).
//!
//! In both cases the [`Stream`] itself holds only `'static` parts of the run
//! (a [`Remote`], the outflow of its items): after the scope, or after the
//! run, it can reach nothing a stage borrowed. The items themselves may
//! borrow (`Stream<&'env str>`), and the type keeps those borrows alive.

use crate::api::report::Report;
use crate::api::stage::{Input, Output, Stage, StageMode};
use crate::exec::remote::Remote;
use crate::protocol::outflow::{Outflow, Taken, Wait};
use crate::sync::Arc;
use std::any::Any;
use std::fmt;
use std::panic::resume_unwind;
use std::time::Duration;

/// How a run ended, as its keeper hands it to the stream: the report, or
/// the payload of the panic that cancelled it.
pub(crate) type Ending = Result<Report, Box<dyn Any + Send>>;

/// The outflow from a run's `yield` to its stream.
pub(crate) type Flow<T> = Outflow<T, Ending>;

/// The `yield` node's stage: passes each item on, through a conversion
/// (the identity, or `Ok` for a pipeline whose stages use `?`), in the
/// order its mode gives.
pub(crate) struct Pass<T, U> {
    pub(crate) convert: fn(T) -> U,
    pub(crate) mode: StageMode,
}

impl<T, U: Send> Stage<T> for Pass<T, U> {
    type Out = U;

    fn mode(&self) -> StageMode {
        self.mode
    }

    fn name(&self) -> &'static str {
        match self.mode {
            StageMode::Ordered => "ordered yield",
            _ => "yield",
        }
    }

    fn process(&self, item: T, out: &mut Output<'_, U>) {
        out.emit((self.convert)(item));
    }

    fn process_batch(&self, input: &mut Input<'_, T>, out: &mut Output<'_, U>) {
        out.reserve(input.len());
        input.map_into(out, self.convert);
    }
}

/// What a stream yields after the run's items: a trait rather than a
/// closure, so that its type names only what it holds (a closure's type
/// names every type parameter around it, and a `'static` tail would then
/// need `'static` items, which a scoped stream's need not be).
pub(crate) trait Tail<T>: Send {
    /// The last item, if any.
    fn last(self: Box<Self>) -> Option<T>;
}

/// How long a consumer on a pool thread waits between helping its pool.
const HELP_INTERVAL: Duration = Duration::from_millis(1);

/// The results of a pipeline that ends in `yield`, as an iterator. The run
/// goes on in the background while the items are taken here.
///
/// * Items waiting here count against the run's `capacity`: a consumer that
///   stops pulling parks the sources, so memory stays bounded.
/// * Dropping the stream before its end cancels the run: sources stop,
///   items inside are dropped once, workers are released; the drop returns
///   once the run is over.
/// * A stage panic resumes here, in the `next()` call that follows it.
///   (Dropping the stream instead discards the panic, as dropping a
///   `JoinHandle` does.)
/// * [`Stream::finish`] drains the rest and returns the [`Report`];
///   [`Stream::report`] gives it after the last item.
///
/// ```
/// let mut g = para::Graph::new();
/// let src = g.source(0..1_000u64);
/// let squares = g.map(src, |x| x * x);
/// let out = g.ordered_stream(squares);
/// let squares = g.spawn(out);
/// assert_eq!(squares.take(3).collect::<Vec<_>>(), [0, 1, 4]); // dropping the rest cancels the run
/// ```
pub struct Stream<T> {
    flow: Arc<Flow<T>>,
    remote: Remote,
    /// The chunk being handed out, reversed (items are popped off the
    /// end, so the emptied buffer can go back to the workers).
    current: Vec<T>,
    /// An emptied buffer to give back with the next take.
    emptied: Option<Vec<T>>,
    /// The capacity units of `current`, given back with its last item.
    units: usize,
    /// The run's report, once its end was taken.
    report: Option<Report>,
    /// The end was taken: no chunk will come.
    ended: bool,
    /// What comes after the items (a `?` pipeline's first error).
    tail: Option<Box<dyn Tail<T>>>,
}

impl<T> Stream<T> {
    pub(crate) fn new(flow: Arc<Flow<T>>, remote: Remote) -> Self {
        Stream {
            flow,
            remote,
            current: Vec::new(),
            emptied: None,
            units: 0,
            report: None,
            ended: false,
            tail: None,
        }
    }

    /// Sets what the stream yields after the run's items (once).
    pub(crate) fn set_tail(&mut self, tail: Box<dyn Tail<T>>) {
        self.tail = Some(tail);
    }

    /// Takes every remaining item (dropping them) and returns the run's
    /// report. A stage panic resumes here.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..100u32);
    /// let evens = g.filter(src, |x| x % 2 == 0);
    /// let out = g.stream(evens);
    /// let mut evens = g.spawn(out);
    /// assert!(evens.next().is_some());
    /// let report = evens.finish();
    /// assert_eq!(report.nodes()[0].items_out(), 100);
    /// ```
    pub fn finish(mut self) -> Report {
        for item in self.by_ref() {
            drop(item);
        }
        self.report
            .take()
            .expect("para internal error: a stream ended without a report")
    }

    /// The run's report, once the last item was taken (`None` before).
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(vec!["a", "bb"]);
    /// let lens = g.map(src, |s: &str| s.len());
    /// let out = g.ordered_stream(lens);
    /// let mut lens = g.spawn(out);
    /// assert_eq!(lens.by_ref().sum::<usize>(), 3);
    /// assert_eq!(lens.report().unwrap().nodes().len(), 3);
    /// ```
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// Takes the next chunk or the end, helping the consumer's pool
    /// meanwhile if the consumer is a pool thread (the run's workers may
    /// be queued behind it there).
    fn take_chunk(&mut self) -> Taken<T, Ending> {
        let mut emptied = self.emptied.take();
        if rayon_core::current_thread_index().is_none() {
            return self.flow.take(Wait::Forever, emptied);
        }
        loop {
            match self.flow.take(Wait::No, emptied.take()) {
                Taken::Nothing => {}
                taken => return taken,
            }
            if let Some(rayon_core::Yield::Executed) = rayon_core::yield_now() {
                continue;
            }
            match self.flow.take(Wait::For(HELP_INTERVAL), None) {
                Taken::Nothing if !self.flow.is_over() => {}
                taken => return taken,
            }
        }
    }

    /// Gives back the capacity units of the chunk just emptied.
    fn give_back(&mut self) {
        let units = std::mem::take(&mut self.units);
        if units > 0 {
            self.remote.release(units);
        }
    }

    /// The run failed: wait for its end (its items are dropped by then)
    /// and resume the panic here.
    fn fail(&mut self) -> ! {
        self.current = Vec::new();
        loop {
            match self.take_chunk() {
                Taken::Chunk(chunk) => drop(chunk),
                Taken::End(Err(payload)) => {
                    self.ended = true;
                    resume_unwind(payload)
                }
                Taken::End(Ok(report)) => {
                    // Cancelled without a panic: only a drop cancels, and
                    // this stream was not dropped.
                    self.ended = true;
                    self.report = Some(report);
                    panic!("para internal error: a stream's run was cancelled under it")
                }
                Taken::Nothing => unreachable!("para internal error: no end after a failure"),
            }
        }
    }
}

impl<T> Iterator for Stream<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.current.pop() {
                if self.current.is_empty() {
                    self.give_back();
                    self.emptied = Some(std::mem::take(&mut self.current));
                }
                return Some(item);
            }
            if self.ended {
                return self.tail.take().and_then(|tail| tail.last());
            }
            match self.take_chunk() {
                Taken::Chunk((items, units)) => {
                    // A panic cancelled the run: it resumes now, not after
                    // the chunks already made.
                    if self.remote.is_cancelled() {
                        drop(items);
                        self.fail();
                    }
                    self.current = items;
                    self.current.reverse();
                    self.units = units;
                    if self.current.is_empty() {
                        self.give_back();
                    }
                }
                Taken::End(Ok(report)) => {
                    self.ended = true;
                    self.report = Some(report);
                }
                Taken::End(Err(payload)) => {
                    self.ended = true;
                    resume_unwind(payload)
                }
                Taken::Nothing => {
                    unreachable!("para internal error: a stream's end was taken twice")
                }
            }
        }
    }
}

impl<T> std::iter::FusedIterator for Stream<T> {}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // Cancel, then wait for the end: the run's items are dropped by
        // then, and its workers released.
        self.remote.cancel();
        while let Taken::Chunk(chunk) = self.take_chunk() {
            drop(chunk);
        }
    }
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
