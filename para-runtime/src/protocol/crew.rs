//! The crew of a run: which of its worker slots run a worker loop, when a
//! new worker job is needed, and when the crew has stalled.
//!
//! # Why workers come and go
//!
//! A run's workers are jobs of a rayon-core pool (see `exec::scheduler`).
//! A pool thread that waits (for a nested pipeline, a `join`, a `par_iter`)
//! runs other jobs of its pool meanwhile, on top of the frame that waits;
//! the waiting frame can only go on once that job returns. So a worker loop
//! must never wait for work: a loop that found nothing to do *leaves* (its
//! job returns to the pool), and a new job is spawned when work appears and
//! a slot is free. A run has `slots` (its `threads`) worker slots, each
//! with its index (and the index's deques); at most one loop holds a slot.
//!
//! # Protocol
//!
//! Slots are *free*, *reserved* (a job was spawned or requested for them
//! and has not started) or *running*. `occupied` mirrors the number of
//! slots that are not free, so that publishing work costs a fence and a
//! relaxed load.
//!
//! * Whoever publishes work (pushes a task) issues a `SeqCst` fence and
//!   reads `occupied`; only if a slot is free does it take the lock and
//!   reserve one ([`Crew::notify_work`]): a worker spawns the job itself,
//!   any other thread (a device lane, the caller before the start) queues a
//!   request for the keeper.
//! * A worker that found no task (after a short spin) calls
//!   [`Crew::leave`]: under the lock it frees its slot (updating
//!   `occupied`), issues a `SeqCst` fence, and checks once more for work,
//!   the end of the run, or cancellation. If there is any, it takes its
//!   slot back and goes on.
//!
//! The two fences order "publish task, then read `occupied`" against "free
//! the slot, then look for tasks": either the publisher sees the free slot
//! (and reserves a job for the work) or the leaver sees the task. So no
//! work is left without a worker, and no worker spins while there is none.
//! Both may happen; the extra job then finds nothing and leaves.
//!
//! * If the leaver is the last running worker and anything happened since
//!   the last such report (`dirty`: a job started or a worker ran a task),
//!   it is told to flush instead ([`Leave::Flush`]): nothing else is
//!   coming, so stages holding partial state (a partial device batch or
//!   group) emit it now, and it stays.
//! * A job that starts on a thread already running a loop of the same run
//!   (further down its stack, suspended in a stage) declines
//!   ([`Crew::decline`]) and frees its slot without looking for work: the
//!   suspended worker below is running, so the work has a worker.
//! * The *keeper* (the run's caller) waits for requests and for the end of
//!   the run ([`Crew::keep_waiting`]); both are signalled under the lock it
//!   checks under, so neither is lost.

use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering};

struct State {
    /// Free slot indices (taken from the end).
    free: Vec<usize>,
    /// Slots whose loop runs.
    running: usize,
    /// Something happened since the last flush report.
    dirty: bool,
    /// Slots reserved for jobs the keeper must spawn.
    requests: Vec<usize>,
}

/// What a worker that found no task does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Leave {
    /// Work appeared, or the run ended: keep the slot and look again.
    Stay,
    /// The crew is stalled: flush partial state, keep the slot, look again.
    Flush,
    /// The slot is free; return the job to the pool.
    Exit,
}

/// The worker slots of one run.
pub(crate) struct Crew {
    state: Mutex<State>,
    keeper: Condvar,
    /// Slots that are not free (reserved or running).
    occupied: AtomicUsize,
    slots: usize,
}

impl Crew {
    /// A crew of `slots` free slots.
    pub(crate) fn new(slots: usize) -> Self {
        Crew {
            state: Mutex::new(State {
                free: (0..slots).rev().collect(),
                running: 0,
                dirty: true,
                requests: Vec::new(),
            }),
            keeper: Condvar::new(),
            occupied: AtomicUsize::new(0),
            slots,
        }
    }

    fn mirror(&self, state: &State) {
        self.occupied
            .store(self.slots - state.free.len(), Ordering::SeqCst);
    }

    /// Call after publishing work. If a slot is free, reserves it for a new
    /// job: `spawn` starts it (a worker passes its spawner), or, without
    /// one, the keeper is asked to.
    #[inline]
    pub(crate) fn notify_work(&self, spawn: Option<&dyn Fn(usize)>) {
        fence(Ordering::SeqCst);
        if self.occupied.load(Ordering::Relaxed) < self.slots {
            self.reserve_cold(spawn);
        }
    }

    #[cold]
    fn reserve_cold(&self, spawn: Option<&dyn Fn(usize)>) {
        let mut state = lock(&self.state);
        let Some(index) = state.free.pop() else {
            return;
        };
        self.mirror(&state);
        match spawn {
            Some(spawn) => {
                drop(state);
                spawn(index);
            }
            None => {
                state.requests.push(index);
                self.keeper.notify_all();
            }
        }
    }

    /// Reserves a free slot for the keeper itself, if one is free.
    pub(crate) fn reserve(&self) -> Option<usize> {
        let mut state = lock(&self.state);
        let index = state.free.pop()?;
        self.mirror(&state);
        Some(index)
    }

    /// The job of a reserved slot starts its loop.
    pub(crate) fn start(&self) {
        let mut state = lock(&self.state);
        state.running += 1;
        state.dirty = true;
    }

    /// The job of reserved slot `index` declines to start (its thread runs
    /// a loop of this run further down): the slot is free again.
    pub(crate) fn decline(&self, index: usize) {
        let mut state = lock(&self.state);
        state.free.push(index);
        self.mirror(&state);
    }

    /// A worker found no task: see [`Leave`]. `worked`: it ran a task or
    /// flushed something since it last called `leave`; `ready()`: work is
    /// queued, or the run ended.
    pub(crate) fn leave(&self, index: usize, worked: bool, ready: impl Fn() -> bool) -> Leave {
        let mut state = lock(&self.state);
        state.dirty |= worked;
        state.running -= 1;
        state.free.push(index);
        self.mirror(&state);
        fence(Ordering::SeqCst);
        if ready() {
            Self::retake(&mut state, index);
            self.mirror(&state);
            return Leave::Stay;
        }
        if state.running == 0 && state.dirty {
            state.dirty = false;
            Self::retake(&mut state, index);
            self.mirror(&state);
            return Leave::Flush;
        }
        Leave::Exit
    }

    /// Takes slot `index` back (it is free: the lock was held since).
    fn retake(state: &mut State, index: usize) {
        let at = state
            .free
            .iter()
            .rposition(|&i| i == index)
            .expect("para internal error: a slot taken while its worker held the lock");
        state.free.swap_remove(at);
        state.running += 1;
    }

    /// A worker stops because the run ended (done or cancelled).
    pub(crate) fn stop(&self, index: usize) {
        let mut state = lock(&self.state);
        state.running -= 1;
        state.free.push(index);
        self.mirror(&state);
    }

    /// The keeper waits until there are requests to spawn or `ready()` (the
    /// run ended); returns the requested slots.
    pub(crate) fn keep_waiting(&self, ready: impl Fn() -> bool) -> Vec<usize> {
        let mut state = lock(&self.state);
        while state.requests.is_empty() && !ready() {
            state = match self.keeper.wait(state) {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        std::mem::take(&mut state.requests)
    }

    /// The requested slots, without waiting.
    pub(crate) fn take_requests(&self) -> Vec<usize> {
        std::mem::take(&mut lock(&self.state).requests)
    }

    /// Whether no worker loop runs.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> bool {
        lock(&self.state).running == 0
    }

    /// Wakes the keeper (the run ended or was cancelled).
    pub(crate) fn wake_keeper(&self) {
        let _state = lock(&self.state);
        self.keeper.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn slots_are_reserved_until_all_are_taken() {
        let crew = Crew::new(2);
        let spawned = RefCell::new(Vec::new());
        let spawn = |i| spawned.borrow_mut().push(i);
        crew.notify_work(Some(&spawn));
        crew.notify_work(Some(&spawn));
        crew.notify_work(Some(&spawn)); // no slot left
        assert_eq!(*spawned.borrow(), [0, 1]);
        crew.start();
        crew.decline(1);
        assert_eq!(crew.leave(0, true, || false), Leave::Flush);
        assert_eq!(crew.leave(0, false, || false), Leave::Exit);
        assert!(crew.idle());
        // Without a spawner, the keeper gets the request.
        crew.notify_work(None);
        assert_eq!(crew.keep_waiting(|| false), [0]);
    }

    #[test]
    fn a_leaver_that_sees_work_stays() {
        let crew = Crew::new(1);
        assert_eq!(crew.reserve(), Some(0));
        crew.start();
        assert_eq!(crew.leave(0, false, || true), Leave::Stay);
        assert_eq!(crew.reserve(), None);
        crew.stop(0);
        assert_eq!(crew.reserve(), Some(0));
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{Arc, AtomicBool};
    use loom::thread;

    use crate::sync::loom_model as model;

    /// A worker leaving while a producer publishes work: either the worker
    /// stays (it saw the work) or the producer reserved a slot for a new
    /// job. Work is never left without a worker.
    #[test]
    fn no_lost_work() {
        model(|| {
            let crew = Arc::new(Crew::new(1));
            let work = Arc::new(AtomicBool::new(false));
            let spawned = Arc::new(AtomicUsize::new(0));
            assert_eq!(crew.reserve(), Some(0));
            crew.start();
            let producer = {
                let (crew, work, spawned) = (crew.clone(), work.clone(), spawned.clone());
                thread::spawn(move || {
                    // Relaxed: only `notify_work`'s fence orders it (the
                    // real tasks are published by the queues).
                    work.store(true, Ordering::Relaxed);
                    let spawn = |_| {
                        spawned.fetch_add(1, Ordering::Relaxed);
                    };
                    crew.notify_work(Some(&spawn));
                })
            };
            let stayed = loop {
                if work.load(Ordering::Relaxed) {
                    break true;
                }
                match crew.leave(0, false, || work.load(Ordering::Relaxed)) {
                    Leave::Stay => continue,
                    Leave::Flush => continue,
                    Leave::Exit => break false,
                }
            };
            producer.join().unwrap();
            assert!(stayed || spawned.load(Ordering::Relaxed) == 1);
        });
    }

    /// Two workers leave with nothing to do after activity: exactly one is
    /// told to flush (the last to leave), and then both are gone.
    #[test]
    fn one_flush_then_idle() {
        model(|| {
            let crew = Arc::new(Crew::new(2));
            let flushes = Arc::new(AtomicUsize::new(0));
            for index in [0, 1] {
                assert_eq!(crew.reserve(), Some(index));
                crew.start();
            }
            let workers: Vec<_> = [0, 1]
                .into_iter()
                .map(|index| {
                    let (crew, flushes) = (crew.clone(), flushes.clone());
                    thread::spawn(move || loop {
                        match crew.leave(index, false, || false) {
                            Leave::Flush => {
                                // The flush emitted nothing.
                                flushes.fetch_add(1, Ordering::Relaxed);
                            }
                            Leave::Stay => {}
                            Leave::Exit => return,
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            assert!(crew.idle());
            assert_eq!(flushes.load(Ordering::Relaxed), 1);
        });
    }

    /// A thread outside the pool (a device lane) publishes work while no
    /// worker runs: its request reaches the keeper, which would otherwise
    /// wait forever (loom reports that as a deadlock).
    #[test]
    fn keeper_sees_every_request() {
        model(|| {
            let crew = Arc::new(Crew::new(1));
            let lane = {
                let crew = crew.clone();
                thread::spawn(move || crew.notify_work(None))
            };
            assert_eq!(crew.keep_waiting(|| false), [0]);
            lane.join().unwrap();
        });
    }
}
