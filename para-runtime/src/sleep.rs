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
//! * If the worker that is about to sleep is the last one awake, it is told
//!   so (`Stalled`) instead of waiting, once: nothing else is coming, so it
//!   flushes partial state (a partial device batch or group) before sleeping.

use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering};

struct State {
    sleeping: usize,
    started: usize,
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
    /// Every started worker is idle and there is no task: flush partial
    /// state, then call `sleep` again with `stall_checked = true`.
    Stalled,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            state: Mutex::new(State {
                sleeping: 0,
                started: 0,
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
    pub(crate) fn sleep(&self, ready: impl Fn() -> bool, stall_checked: bool) -> Wake {
        let mut state = lock(&self.state);
        state.sleeping += 1;
        self.sleepers.store(state.sleeping, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let wake = if ready() {
            Wake::Woken
        } else if state.sleeping == state.started && !stall_checked {
            Wake::Stalled
        } else {
            state = match self.cond.wait(state) {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
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
                sleep.sleep(|| work.load(Ordering::Relaxed), true);
            }
            producer.join().unwrap();
        });
    }
}
