//! Starting and ending a run: device lanes on scoped threads, workers as jobs
//! of a rayon-core pool, and the caller waiting for both.

use crate::api::report::{NodeReport, Report};
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::run::{Culprit, Run};
use crate::exec::worker::worker_main;
use crate::sync::{channel, thread, CachePadded};
use rayon_core::ThreadPool;
use std::panic::resume_unwind;
use std::time::Instant;

/// The settings of one run, every option resolved (see
/// `build::options::Options::resolve`).
pub(crate) struct Settings<'p> {
    pub(crate) threads: usize,
    pub(crate) capacity: usize,
    pub(crate) batch: usize,
    pub(crate) pool: Pool<'p>,
}

/// Where the workers run.
pub(crate) enum Pool<'p> {
    /// The rayon-core pool the caller is in (the global pool by default).
    Current,
    /// A pool the user gave.
    Given(&'p ThreadPool),
    /// A pool of this many threads made for this run.
    Private(usize),
}

/// Runs prepared `nodes` under their `plans` to the end and reports. If a
/// stage panicked, every item still inside is dropped and the panic resumes
/// here.
pub(crate) fn run_to_end<'g>(
    nodes: Vec<Box<dyn Node + 'g>>,
    plans: Vec<NodePlan>,
    settings: Settings<'_>,
) -> Report {
    let Settings {
        threads,
        capacity,
        batch,
        pool,
    } = settings;
    // On the heap and padded: workers read the run's fields all the time,
    // and on the caller's stack they could share a cache line with the
    // variables a sink writes per item.
    let run = Box::new(CachePadded::new(Run::new(
        nodes, plans, threads, capacity, batch,
    )));
    let started = Instant::now();
    execute(&run, pool);
    let elapsed = started.elapsed();
    if let Some(payload) = run.take_failure() {
        drop(run); // drops every item still inside, before unwinding
        resume_unwind(payload);
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
    Report::new(nodes, edges, threads, elapsed, run.peak_alive())
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
                        let mut ex = Executor::outsider(run);
                        run.node(id).lane(&mut ex, &shutdown_rx);
                        run.merge_stats(&ex.stats);
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
        match pool {
            Pool::Current => rayon_core::in_place_scope(|s| spawn_workers(s, run)),
            Pool::Given(pool) => pool.in_place_scope(|s| spawn_workers(s, run)),
            Pool::Private(threads) => {
                let pool = rayon_core::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("para-worker-{i}"))
                    .build()
                    .expect("para: could not start the worker threads");
                pool.in_place_scope(|s| spawn_workers(s, run));
            }
        }
        drop(shutdown);
    });
}

/// Spawns the run's workers as jobs of the pool scope `s`.
fn spawn_workers<'s>(s: &rayon_core::Scope<'s>, run: &'s Run<'_>) {
    for index in 0..run.threads {
        s.spawn(move |_| {
            // User panics are caught per task; anything escaping here is a
            // runtime bug: cancel so the other workers stop instead of hanging.
            run.catch(Culprit::Runtime, || worker_main(run, index));
        });
    }
}
