//! Starting and ending a run: device lanes on scoped threads, workers as jobs
//! of a rayon-core pool, and the caller keeping the run going until it ends.
//!
//! # Workers as pool jobs, and nesting
//!
//! A run's workers are jobs spawned into a rayon-core scope on the run's
//! pool ([`Pool`]), one per worker slot that has work (see
//! `protocol::crew`): a worker loop runs while it finds tasks and leaves
//! its slot when it finds none, and a new job is spawned when work appears
//! and a slot is free. A loop never waits for work, because a pool thread
//! that waits (for a nested pipeline, a `join`, a `par_iter`) runs other
//! jobs of its pool on top of the waiting frame, and that frame goes on
//! only once the job returns: a worker loop that slept there until its run
//! ended would never give the frame back, and if the run needed that frame
//! (a stage's `par_iter` whose piece the thread had taken), neither would
//! ever end.
//!
//! A job that starts on a thread already running a worker loop of its own
//! run (suspended below, in a stage that waits) declines: it frees its slot
//! and returns (`exec::worker::is_worker_of`). Running the loop there would
//! only make the suspended stage wait longer; the suspended worker holds
//! the run's work, so nothing is left without a worker.
//!
//! The caller *keeps* the run: it stays inside the scope until the run is
//! done or cancelled, spawns the jobs that threads outside the pool (device
//! lanes, the caller itself starting the sources) asked for, and, when it
//! is itself a thread of the run's pool (a pipeline inside a stage of
//! another, or inside a rayon job), it works as a worker of its run between
//! those waits and helps the pool (`rayon_core::yield_now`), so a nested run
//! always has at least its caller working on it, however busy the pool is.
//! A waiting thread thus helps any run, but never becomes a second worker
//! of a run it is already a worker of.
//!
//! # Pools
//!
//! See `Options::threads`: without `pool`, a run asked for `threads = N`
//! from a thread of a rayon-core pool runs its N workers as jobs of that
//! pool (so nested runs share their threads and can help each other);
//! from any other thread it runs on a process-wide pool of N threads,
//! made on first use and kept ([`shared_pool`]), so repeated runs do not
//! start threads each time.

use crate::api::report::{NodeReport, Report};
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::remote::Remote;
use crate::exec::run::{Culprit, Run, Watching};
use crate::exec::worker::{is_worker_of, worker_main};
use crate::sync::{channel, thread, CachePadded, OnceLock, StdMutex};
use rayon_core::ThreadPool;
use std::any::Any;
use std::panic::resume_unwind;
use std::time::Instant;

/// The settings of one run, every option resolved (see
/// `build::options::Options::resolve`).
pub(crate) struct Settings<'p> {
    pub(crate) threads: usize,
    pub(crate) capacity: usize,
    /// The largest batch (with one thread sizes double up to it; with more
    /// they are timed below it, see `exec::sizing`).
    pub(crate) batch: usize,
    pub(crate) pool: Pool<'p>,
    /// Write a trace of the run to this file (see `exec::trace`).
    pub(crate) trace: Option<&'p std::path::Path>,
    /// Show a progress line on stderr (see `exec::progress`).
    pub(crate) progress: bool,
}

/// Where the workers run.
pub(crate) enum Pool<'p> {
    /// The rayon-core pool the caller is in (the global pool by default).
    Current,
    /// A pool the user gave.
    Given(&'p ThreadPool),
    /// The process-wide pool of this many threads ([`shared_pool`]).
    Shared(&'static ThreadPool),
}

/// The process-wide pool of `threads` threads, made on first use and kept
/// for the life of the process (as rayon's global pool is).
pub(crate) fn shared_pool(threads: usize) -> &'static ThreadPool {
    static POOLS: OnceLock<StdMutex<Vec<(usize, &'static ThreadPool)>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| StdMutex::new(Vec::new()));
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return pool;
    }
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("para-{threads}-worker-{i}"))
        .build()
        .expect("para: could not start the worker threads");
    let pool: &'static ThreadPool = Box::leak(Box::new(pool));
    pools.push((threads, pool));
    pool
}

/// Runs prepared `nodes` under their `plans` to the end and reports. If a
/// stage panicked, every item still inside is dropped and the panic resumes
/// here.
pub(crate) fn run_to_end<'g>(
    nodes: Vec<Box<dyn Node + 'g>>,
    plans: Vec<NodePlan>,
    settings: Settings<'_>,
) -> Report {
    match Launch::new(nodes, plans, settings).complete() {
        Ok(report) => report,
        Err(payload) => resume_unwind(payload),
    }
}

/// A run set up and not started yet: its [`Remote`] can be handed out
/// first (to a stream's consumer), and [`Launch::complete`] runs it on the
/// thread that calls it (the caller, or a stream's keeper).
pub(crate) struct Launch<'g, 'p> {
    // On the heap and padded: workers read the run's fields all the time,
    // and on the caller's stack they could share a cache line with the
    // variables a sink writes per item.
    run: Box<CachePadded<Run<'g>>>,
    pool: Pool<'p>,
}

impl<'g, 'p> Launch<'g, 'p> {
    pub(crate) fn new(
        nodes: Vec<Box<dyn Node + 'g>>,
        plans: Vec<NodePlan>,
        settings: Settings<'p>,
    ) -> Self {
        let Settings {
            threads,
            capacity,
            batch,
            pool,
            trace,
            progress,
        } = settings;
        let watching = Watching { trace, progress };
        let run = Box::new(CachePadded::new(Run::new(
            nodes, plans, threads, capacity, batch, watching,
        )));
        Launch { run, pool }
    }

    /// A handle on the run for threads outside it.
    pub(crate) fn remote(&self) -> Remote {
        self.run.remote()
    }

    /// Runs to the end and reports, or returns the payload of the panic
    /// that cancelled the run. Every item still inside is dropped before
    /// this returns.
    pub(crate) fn complete(self) -> Result<Report, Box<dyn Any + Send>> {
        let Launch { run, pool } = self;
        let started = Instant::now();
        #[cfg(feature = "progress")]
        let ticker = run
            .live
            .as_ref()
            .and_then(|live| crate::exec::progress::Ticker::start(live, run.room.clone()));
        execute(&run, pool);
        let elapsed = started.elapsed();
        #[cfg(feature = "progress")]
        if let Some(ticker) = ticker {
            ticker.stop();
        }
        if let Some(recorder) = &run.trace {
            if let Err(e) = recorder.write(&run.plans) {
                eprintln!(
                    "para: could not write the trace file {}: {e}",
                    recorder.path().display()
                );
            }
        }
        if let Some(payload) = run.take_failure() {
            drop(run); // drops every item still inside, before unwinding
            return Err(payload);
        }
        let nodes = run
            .node_ids()
            .zip(&run.plans)
            .zip(run.stats())
            .map(|((id, plan), s)| {
                NodeReport::new(
                    id,
                    plan.label.clone(),
                    plan.kind,
                    s.items_in,
                    s.items_out,
                    s.batches,
                    s.busy,
                )
            })
            .collect();
        let edges = run
            .node_ids()
            .flat_map(|id| run.plan(id).downstream.iter().map(move |&down| (id, down)))
            .collect();
        Ok(Report::new(
            nodes,
            edges,
            run.threads,
            elapsed,
            run.peak_alive(),
        ))
    }
}

impl Pool<'_> {
    /// Where the workers of a run kept by a thread of its own (a stream's
    /// keeper) go: that thread is in no pool, so "the pool the caller is
    /// in" must be decided here, on the caller. The global pool stays the
    /// global pool; from a thread of another pool (a stream made inside a
    /// stage or a rayon job), the process-wide pool of `threads` threads.
    pub(crate) fn for_background(self, threads: usize) -> Self {
        match self {
            Pool::Current if rayon_core::current_thread_index().is_some() => {
                Pool::Shared(shared_pool(threads))
            }
            pool => pool,
        }
    }
}

/// Runs `run` to completion (or cancellation). Returns when every worker and
/// lane has stopped.
fn execute(run: &Run<'_>, pool: Pool<'_>) {
    thread::scope(|scope| {
        // Lanes stop when this sender is dropped (their `select` sees the
        // disconnect), after every worker has returned.
        let (shutdown, shutdown_rx) = channel::bounded::<()>(0);
        for id in run.node_ids() {
            for lane in 0..run.plan(id).lanes {
                let shutdown_rx = shutdown_rx.clone();
                thread::Builder::new()
                    .name(format!("para-lane-{}.{lane}", id.index()))
                    .spawn_scoped(scope, move || {
                        let mut ex = Executor::lane(run, id, lane);
                        run.node(id).lane(&mut ex, &shutdown_rx);
                        ex.retire();
                    })
                    .expect("para: could not start a device lane thread");
            }
        }
        let mut ex = Executor::outsider(run);
        for id in run.node_ids() {
            if run.plan(id).is_source {
                run.node(id).start(&mut ex);
            }
        }
        ex.retire();
        match pool {
            Pool::Current => {
                let in_pool = rayon_core::current_thread_index().is_some();
                rayon_core::in_place_scope(|s| keep(s, run, in_pool))
            }
            Pool::Given(pool) | Pool::Shared(pool) => {
                let in_pool = pool.current_thread_index().is_some();
                pool.in_place_scope(|s| keep(s, run, in_pool))
            }
        }
        drop(shutdown);
    });
}

/// The caller's part (see the module doc): until the run is done or
/// cancelled, spawn the worker jobs that were asked for and, inside the
/// pool, work and help between waits.
fn keep<'s>(s: &rayon_core::Scope<'s>, run: &'s Run<'_>, in_pool: bool) {
    let spawn = |index: usize| spawn_worker(s, run, index);
    let finished = || run.is_done() || run.is_cancelled();
    if !in_pool {
        // Outside the pool blocking is harmless: spawn what is asked for,
        // wait for the next request or the end.
        while !finished() {
            run.crew.keep_waiting(finished).into_iter().for_each(spawn);
        }
        return;
    }
    let mut requests = Vec::new();
    while !finished() {
        // Work on the run here when a slot is asked for (or free while
        // work is queued); spawn the other requests.
        requests.extend(run.crew.take_requests());
        let mine = requests.pop().or_else(|| {
            if run.has_work() {
                run.crew.reserve()
            } else {
                None
            }
        });
        requests.drain(..).for_each(spawn);
        if let Some(index) = mine {
            run.crew.start();
            run.catch(Culprit::Runtime, || worker_main(run, index, &spawn));
            continue;
        }
        // Help the pool (this runs the jobs just spawned here unless idle
        // threads took them). Block only when the pool has nothing for
        // this thread: its deque is then empty, so no job waits on it.
        if let Some(rayon_core::Yield::Executed) = rayon_core::yield_now() {
            continue;
        }
        requests = run.crew.keep_waiting(finished);
    }
}

/// Spawns the job of reserved worker slot `index`: it runs the worker
/// loop, or declines if its thread already runs a loop of this run (see
/// the module doc).
fn spawn_worker<'s>(s: &rayon_core::Scope<'s>, run: &'s Run<'_>, index: usize) {
    s.spawn(move |s| {
        if is_worker_of(run) {
            run.crew.decline(index);
            return;
        }
        run.crew.start();
        let spawn = |index: usize| spawn_worker(s, run, index);
        // User panics are caught per task; anything escaping here is a
        // runtime bug: cancel so the other workers stop instead of hanging.
        run.catch(Culprit::Runtime, || worker_main(run, index, &spawn));
    });
}
