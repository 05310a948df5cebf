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

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{Arc, AtomicBool};
    use loom::thread;

    use crate::sync::loom_model as model;

    /// A worker going to sleep and a producer publishing work: the worker
    /// must end up seeing the work (no lost wake-up). A lost wake-up leaves
    /// the worker waiting forever, which loom reports as a deadlock.
    #[test]
    fn no_lost_wakeup() {
        model(|| {
            let sleep = Arc::new(Sleep::new());
            let work = Arc::new(AtomicBool::new(false));
            sleep.register();
            sleep.register();
            let producer = {
                let (sleep, work) = (sleep.clone(), work.clone());
                thread::spawn(move || {
                    // Relaxed: only `notify_work`'s fence orders it (the
                    // real tasks are published by the queues).
                    work.store(true, Ordering::Relaxed);
                    sleep.notify_work();
                })
            };
            // The other registered worker stays awake, so no stall report.
            loop {
                if work.load(Ordering::Relaxed) {
                    break;
                }
                assert_eq!(
                    sleep.sleep(|| work.load(Ordering::Relaxed), false),
                    Wake::Woken
                );
            }
            producer.join().unwrap();
        });
    }

    /// What a worker did in [`stall_then_flush_wakes_the_other`].
    #[derive(Debug, PartialEq, Eq)]
    enum Role {
        /// Was told `Stalled`, flushed (published work) and went on.
        Flusher,
        /// Was woken by the flush and found its work.
        Taker,
    }

    /// Two registered workers go to sleep with no work: the last one to
    /// sleep is told `Stalled` (exactly one of them), and its flush, which
    /// produces work, wakes the other.
    #[test]
    fn stall_then_flush_wakes_the_other() {
        model(|| {
            let sleep = Arc::new(Sleep::new());
            let work = Arc::new(AtomicBool::new(false));
            sleep.register();
            sleep.register();
            let worker = || {
                let (sleep, work) = (sleep.clone(), work.clone());
                thread::spawn(move || loop {
                    if work.load(Ordering::Relaxed) {
                        return Role::Taker;
                    }
                    match sleep.sleep(|| work.load(Ordering::Relaxed), false) {
                        Wake::Stalled => {
                            // The flush emits: a task is published.
                            work.store(true, Ordering::Relaxed);
                            sleep.notify_work();
                            // This worker is now busy elsewhere; the other
                            // one must take the work.
                            return Role::Flusher;
                        }
                        Wake::Woken => {}
                    }
                })
            };
            let a = worker();
            let b = worker();
            let mut roles = [a.join().unwrap(), b.join().unwrap()];
            roles.sort_by_key(|r| *r == Role::Taker);
            assert_eq!(roles, [Role::Flusher, Role::Taker]);
        });
    }

    /// A stall is reported once per activity: after a flush that found
    /// nothing, both workers wait (no second report, no spinning) until the
    /// run ends and `wake_all` releases them.
    #[test]
    fn no_second_stall_without_activity() {
        model(|| {
            let sleep = Arc::new(Sleep::new());
            let done = Arc::new(AtomicBool::new(false));
            let stalls = Arc::new(AtomicUsize::new(0));
            sleep.register();
            sleep.register();
            let worker = || {
                let (sleep, done, stalls) = (sleep.clone(), done.clone(), stalls.clone());
                thread::spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        // The flush (if told `Stalled`) emits nothing, so
                        // this worker never reports having worked.
                        if sleep.sleep(|| done.load(Ordering::Acquire), false) == Wake::Stalled {
                            stalls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            };
            let a = worker();
            let b = worker();
            // The run ends (the last node closed).
            done.store(true, Ordering::Release);
            sleep.wake_all();
            a.join().unwrap();
            b.join().unwrap();
            assert!(stalls.load(Ordering::Relaxed) <= 1);
        });
    }
}
