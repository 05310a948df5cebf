//! The worker loop: find a task (own deque, then the injectors, then steal
//! from a random victim, highest priority level first), run it, and sleep
//! when there is nothing to do.

use crate::exec::executor::Executor;
use crate::exec::run::{Culprit, Run};
use crate::exec::task::Task;
use crate::protocol::sleep::Wake;
use crate::sync::Backoff;

/// Runs worker `index` of `run` until the run is done or cancelled.
pub(crate) fn worker_main(run: &Run<'_>, index: usize) {
    let mut ex = Executor::worker(run, index);
    run.sleep.register();
    let mut rng = XorShift::new(index as u64 + 1);
    // Whether this worker ran a task or flushed since it last slept.
    let mut worked = false;
    loop {
        if run.is_cancelled() {
            break;
        }
        if let Some(task) = find_task(&ex, index, &mut rng) {
            worked = true;
            ex.execute(task);
            continue;
        }
        if run.is_done() {
            break;
        }
        if let Some(task) = spin_for_task(&ex, index, &mut rng) {
            worked = true;
            ex.execute(task);
            continue;
        }
        let ready = || run.has_work() || run.is_done() || run.is_cancelled();
        let wake = run.sleep.sleep(ready, std::mem::take(&mut worked));
        if wake == Wake::Stalled {
            worked = flush_partials(&mut ex);
        }
    }
    run.merge_stats(&ex.stats);
}

/// Every worker is idle and no task is queued: nothing else is coming, so
/// stages holding partial state (a partial device batch, a partial group)
/// emit it now.
/// Returns whether anything was emitted.
#[cold]
fn flush_partials(ex: &mut Executor<'_, '_>) -> bool {
    let run = ex.run;
    let mut flushed = false;
    for id in run.node_ids() {
        if run.plan(id).has_partial && run.try_hold(id) {
            match run.catch(Culprit::Node(id), || run.node(id).flush_stalled(ex)) {
                Some(emitted) => flushed |= emitted,
                None => return true,
            }
            ex.complete(id);
        }
    }
    flushed
}

/// A short spin before sleeping: work often appears within microseconds.
fn spin_for_task(ex: &Executor<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        backoff.snooze();
        if let Some(task) = find_task(ex, index, rng) {
            return Some(task);
        }
        if ex.run.is_done() || ex.run.is_cancelled() {
            return None;
        }
    }
    None
}

/// Looks for a task, highest priority level first: own deque, then the
/// injector, then the other workers' deques starting at a random victim.
fn find_task(ex: &Executor<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
    let run = ex.run;
    let local = ex.local().expect("workers have deques");
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
