//! The worker loop: find a task (own deque, then the injectors, then steal
//! from a random victim, highest priority level first), run it, and sleep
//! when there is nothing to do.

use crate::run::{Cx, Run, Task};
use crate::sleep::Wake;
use crossbeam_utils::Backoff;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs worker `index` of `run` until the run is done or cancelled.
pub(crate) fn worker_main(run: &Run<'_>, index: usize) {
    let mut cx = Cx::worker(run, index);
    run.sleep.register();
    let mut rng = XorShift::new(index as u64 + 1);
    // Whether this worker ran a task or flushed since it last slept.
    let mut worked = false;
    loop {
        if run.is_cancelled() {
            break;
        }
        if let Some(task) = find_task(&cx, index, &mut rng) {
            worked = true;
            cx.execute(task);
            continue;
        }
        if run.is_done() {
            break;
        }
        if let Some(task) = spin_for_task(&cx, index, &mut rng) {
            worked = true;
            cx.execute(task);
            continue;
        }
        let ready = || run.has_work() || run.is_done() || run.is_cancelled();
        let wake = run.sleep.sleep(ready, std::mem::take(&mut worked));
        if wake == Wake::Stalled {
            worked = flush_partials(&mut cx);
        }
    }
    run.merge_stats(&cx.stats);
}

/// Every worker is idle and no task is queued: nothing else is coming, so
/// stages holding partial state (a partial device batch, a partial group)
/// emit it now.
/// Returns whether anything was emitted.
#[cold]
fn flush_partials(cx: &mut Cx<'_, '_>) -> bool {
    let run = cx.run;
    let mut flushed = false;
    for id in 0..run.nodes.len() {
        if run.plans[id].has_partial && run.try_hold(id) {
            let result = catch_unwind(AssertUnwindSafe(|| run.nodes[id].flush_stalled(cx)));
            match result {
                Ok(emitted) => flushed |= emitted,
                Err(payload) => {
                    run.fail(id, payload);
                    return true;
                }
            }
            cx.complete(id);
        }
    }
    flushed
}

/// A short spin before sleeping: work often appears within microseconds.
fn spin_for_task(cx: &Cx<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        backoff.snooze();
        if let Some(task) = find_task(cx, index, rng) {
            return Some(task);
        }
        if cx.run.is_done() || cx.run.is_cancelled() {
            return None;
        }
    }
    None
}

/// Looks for a task, highest priority level first: own deque, then the
/// injector, then the other workers' deques starting at a random victim.
fn find_task(cx: &Cx<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
    let run = cx.run;
    let local = cx.local().expect("workers have deques");
    let workers = run.thieves.len();
    for level in (0..run.levels).rev() {
        if let Some(task) = local[level].pop() {
            return Some(task);
        }
        if let Some(task) = run.injectors[level].pop() {
            return Some(task);
        }
        if workers > 1 {
            let start = rng.next() as usize % workers;
            for k in 0..workers {
                let victim = (start + k) % workers;
                if victim != index {
                    if let Some(task) = run.thieves[victim][level].steal() {
                        return Some(task);
                    }
                }
            }
        }
    }
    None
}

/// A tiny generator for picking steal victims (no shared state).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
