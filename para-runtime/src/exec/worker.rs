//! The worker loop: find a task (own deque, then the injectors, then steal
//! from a random victim, highest priority level first), run it, and leave
//! the worker slot when there is nothing to do (see `protocol::crew`: a
//! loop never waits for work, since a pool thread may be running it on top
//! of a frame that waits for it to return).
//!
//! Each thread keeps the runs whose worker loop it is running (a stack: a
//! stage may run a nested pipeline whose worker loop runs on top of it), so
//! that a worker job can tell it is about to start inside a loop of its own
//! run ([`is_worker_of`]; see `exec::scheduler`).

use crate::exec::executor::Executor;
use crate::exec::run::{Culprit, Run};
use crate::exec::task::Task;
use crate::exec::trace::Mark;
use crate::protocol::crew::Leave;
use crate::sync::Backoff;
use std::cell::RefCell;

thread_local! {
    /// The runs (by address) whose worker loop is active on this thread,
    /// innermost last.
    static WORKER_OF: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn address(run: &Run<'_>) -> usize {
    run as *const Run<'_> as *const () as usize
}

/// Whether this thread is running a worker loop of `run` further down its
/// stack.
pub(crate) fn is_worker_of(run: &Run<'_>) -> bool {
    let me = address(run);
    WORKER_OF.with(|runs| runs.borrow().contains(&me))
}

/// Marks this thread as a worker of a run while it lives (also when the
/// loop unwinds).
struct WorkerMark;

impl WorkerMark {
    fn enter(run: &Run<'_>) -> Self {
        WORKER_OF.with(|runs| runs.borrow_mut().push(address(run)));
        WorkerMark
    }
}

impl Drop for WorkerMark {
    fn drop(&mut self) {
        WORKER_OF.with(|runs| runs.borrow_mut().pop());
    }
}

/// Runs the loop of worker slot `index` of `run` (reserved and started by
/// the caller: `Crew::start`) until it leaves the slot, or the run is done
/// or cancelled. `spawn` starts a worker job for another slot.
pub(crate) fn worker_main(run: &Run<'_>, index: usize, spawn: &dyn Fn(usize)) {
    let _mark = WorkerMark::enter(run);
    let mut ex = Executor::worker(run, index, spawn);
    let mut rng = XorShift::new(index as u64 + 1);
    // Whether this worker ran a task or flushed since it last tried to leave.
    let mut worked = false;
    let left = loop {
        if run.is_cancelled() {
            break false;
        }
        if let Some(task) = find_task(&mut ex, index, &mut rng) {
            worked = true;
            ex.execute(task);
            continue;
        }
        if run.is_done() {
            break false;
        }
        if let Some(task) = spin_for_task(&mut ex, index, &mut rng) {
            worked = true;
            ex.execute(task);
            continue;
        }
        // The slot's deques go back first: once `leave` frees the slot,
        // another job may take it.
        ex.return_locals();
        let ready = || run.has_work() || run.is_done() || run.is_cancelled();
        match run.crew.leave(index, std::mem::take(&mut worked), ready) {
            Leave::Stay => ex.retake_locals(),
            Leave::Flush => {
                ex.retake_locals();
                worked = flush_partials(&mut ex);
            }
            Leave::Exit => break true,
        }
    };
    if !left {
        ex.return_locals();
        run.crew.stop(index);
    }
    ex.retire();
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
                Some(emitted) => {
                    if emitted {
                        ex.mark(id, Mark::StallFlush);
                    }
                    flushed |= emitted;
                }
                None => return true,
            }
            ex.complete(id);
        }
    }
    flushed
}

/// A short spin before leaving: work often appears within microseconds.
fn spin_for_task(ex: &mut Executor<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
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

/// Looks for a task (see [`look_for_task`]); a traced run marks steals.
fn find_task(ex: &mut Executor<'_, '_>, index: usize, rng: &mut XorShift) -> Option<Task> {
    let (task, victim) = look_for_task(ex, index, rng)?;
    if let Some(victim) = victim {
        if ex.is_watched() {
            ex.mark(task.node, Mark::Steal { victim });
        }
    }
    Some(task)
}

/// Looks for a task, highest priority level first: own deque, then the
/// injector, then the other workers' deques starting at a random victim.
/// Returns the task and, if it was stolen, the worker it was stolen from.
fn look_for_task(
    ex: &Executor<'_, '_>,
    index: usize,
    rng: &mut XorShift,
) -> Option<(Task, Option<u32>)> {
    let run = ex.run;
    let local = ex.local().expect("workers have deques");
    let workers = run.thieves.len();
    for level in (0..run.levels).rev() {
        if let Some(task) = local[level].pop() {
            return Some((task, None));
        }
        if let Some(task) = run.injectors[level].pop() {
            return Some((task, None));
        }
        if workers > 1 {
            let start = rng.next() as usize % workers;
            for k in 0..workers {
                let victim = (start + k) % workers;
                if victim != index {
                    if let Some(task) = run.thieves[victim][level].steal() {
                        return Some((task, Some(victim as u32)));
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
