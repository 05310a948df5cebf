//! Starting and ending a run: device lanes on scoped threads, workers as jobs
//! of a rayon-core pool, and the caller waiting for both.

use crate::run::{Cx, Run};
use crate::worker::worker_main;
use rayon_core::ThreadPool;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Where the workers run.
pub(crate) enum Pool<'p> {
    /// The rayon-core pool the caller is in (the global pool by default).
    Current,
    /// A pool the user gave.
    Given(&'p ThreadPool),
    /// A pool of this many threads made for this run.
    Private(usize),
}

/// Runs `run` to completion (or cancellation). Returns when every worker and
/// lane has stopped.
pub(crate) fn execute(run: &Run<'_>, pool: Pool<'_>) {
    std::thread::scope(|scope| {
        let (shutdown, shutdown_rx) = crossbeam_channel::bounded::<()>(0);
        for (id, plan) in run.plans.iter().enumerate() {
            for lane in 0..plan.lanes {
                let shutdown_rx = shutdown_rx.clone();
                std::thread::Builder::new()
                    .name(format!("para-lane-{id}.{lane}"))
                    .spawn_scoped(scope, move || {
                        let mut cx = Cx::outsider(run);
                        run.nodes[id].lane(&mut cx, &shutdown_rx);
                        run.merge_stats(&cx.stats);
                    })
                    .expect("para: could not start a device lane thread");
            }
        }
        let mut cx = Cx::outsider(run);
        for (id, plan) in run.plans.iter().enumerate() {
            if plan.is_source {
                run.nodes[id].start(&mut cx);
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
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| worker_main(run, index))) {
                run.fail_internal(payload);
            }
        });
    }
}
