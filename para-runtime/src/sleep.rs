//! How idle workers sleep and wake.
//!
//! # Protocol
//!
//! * A worker that found no task (after a short spin) calls [`Sleep::sleep`].
//!   Under the lock it increments `sleeping` (mirrored in the `sleepers`
//!   atomic), issues a `SeqCst` fence, and checks once more for work, the end
//!   of the run, or cancellation. Only if there is none does it wait on the
//!   condition variable, which releases the lock atomically.
//! * Whoever publishes work (pushes a task) issues a `SeqCst` fence and reads
//!   `sleepers`; only if it is non-zero does it take the lock and notify one
//!   waiter.
//!
//! The two fences order "publish task, then read `sleepers`" against
//! "increment `sleepers`, then look for tasks": either the publisher sees the
//! sleeper (and, since the sleeper holds the lock until it waits, its notify
//! lands after the wait began), or the sleeper's check sees the task. So no
//! wake-up is lost, and nobody spins while there is nothing to do.
//!
//! * If the worker that is about to sleep is the last one awake and anything
//!   happened since the last such report (`dirty`: a worker ran a task or woke
//!   up), it is told so (`Stalled`) instead of waiting: nothing else is
//!   coming, so it flushes partial state (a partial device batch or group).
//!   The flag is global, not per worker, so a flush that found a stage busy
//!   (another worker held it) is retried once that worker goes idle too.

use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering};

struct State {
    sleeping: usize,
    started: usize,
    /// Something happened since the last `Stalled` report.
    dirty: bool,
}

/// The sleep state of one run's workers.
pub(crate) struct Sleep {
    state: Mutex<State>,
    cond: Condvar,
    sleepers: AtomicUsize,
}

/// Why [`Sleep::sleep`] returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Work may be available (or the run ended): look again.
    Woken,
    /// Every started worker is idle, there is no task, and something
    /// happened since the last report: flush partial state.
    Stalled,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            state: Mutex::new(State {
                sleeping: 0,
                started: 0,
                dirty: true,
            }),
            cond: Condvar::new(),
            sleepers: AtomicUsize::new(0),
        }
    }

    /// A worker joins the run.
    pub(crate) fn register(&self) {
        lock(&self.state).started += 1;
    }

    /// Call after publishing work.
    #[inline]
    pub(crate) fn notify_work(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.notify_one_cold();
        }
    }

    #[cold]
    fn notify_one_cold(&self) {
        let _state = lock(&self.state);
        self.cond.notify_one();
    }

    /// Wakes every worker (the run ended or was cancelled).
    pub(crate) fn wake_all(&self) {
        let _state = lock(&self.state);
        self.cond.notify_all();
    }

    /// Sleeps until woken, unless `ready()` (work, end, cancellation) holds.
    /// `worked`: the caller ran a task or flushed something since it last
    /// called `sleep`.
    pub(crate) fn sleep(&self, ready: impl Fn() -> bool, worked: bool) -> Wake {
        let mut state = lock(&self.state);
        state.dirty |= worked;
        state.sleeping += 1;
        self.sleepers.store(state.sleeping, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let wake = if ready() {
            Wake::Woken
        } else if state.sleeping == state.started && state.dirty {
            state.dirty = false;
            Wake::Stalled
        } else {
            state = match self.cond.wait(state) {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
            state.dirty = true;
            Wake::Woken
        };
        state.sleeping -= 1;
        self.sleepers.store(state.sleeping, Ordering::SeqCst);
        wake
    }
}

#[cfg(loom)]
mod loom_models {
    use super::*;
    use crate::sync::{Arc, AtomicBool};
    use loom::thread;

    /// A worker going to sleep and a producer publishing work: the worker
    /// must end up seeing the work (no lost wake-up).
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let sleep = Arc::new(Sleep::new());
            let work = Arc::new(AtomicBool::new(false));
            sleep.register();
            sleep.register();
            let producer = {
                let (sleep, work) = (sleep.clone(), work.clone());
                thread::spawn(move || {
                    work.store(true, Ordering::Relaxed);
                    sleep.notify_work();
                })
            };
            // The other registered worker stays awake, so no stall report.
            loop {
                if work.load(Ordering::Relaxed) {
                    break;
                }
                sleep.sleep(|| work.load(Ordering::Relaxed), false);
            }
            producer.join().unwrap();
        });
    }
}
