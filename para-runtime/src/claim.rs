//! The claim protocol of serial and replicated stages.
//!
//! A stage limited to `n` concurrent workers (`n = 1` for serial and ordered
//! stages, `n = N` for `replicate(N)`) has `n` *slots*. Each slot is a small
//! state machine in one atomic word:
//!
//! ```text
//!            deliver                 task starts
//!   IDLE ------------> SCHEDULED -------------------> RUNNING
//!    ^                                                 |   ^
//!    |   release (nothing new)                 deliver |   | re-drain
//!    +-------------------------------------------------+   |
//!                                                      v   |
//!                                               RUNNING_NOTIFIED
//! ```
//!
//! * Whoever delivers a batch to the stage's inbox then calls
//!   [`Slots::notify`]: it moves one `IDLE` slot to `SCHEDULED` and returns it
//!   (the caller must schedule a task for that slot), or marks a `RUNNING` slot
//!   `RUNNING_NOTIFIED`, or sees a slot already `SCHEDULED`/`RUNNING_NOTIFIED`;
//!   in the last three cases some worker is bound to look at the inbox again.
//! * The task of a `SCHEDULED` slot calls [`Slots::start`], drains the inbox,
//!   and calls [`Slots::release`]: `RUNNING -> IDLE` succeeds only if no
//!   batch was delivered meanwhile, else the slot goes back to `RUNNING` and
//!   the holder drains again.
//!
//! Every transition is a read-modify-write of the same word with acquire-
//! release ordering, so all of them are totally ordered and each one reads the
//! previous: a delivery either happens before the release (the release fails
//! and the holder, synchronised with the deliverer, sees its batch) or after
//! it (the deliverer sees `IDLE` and schedules a task). No batch is left
//! without a worker, no blocking lock is taken, and a worker that finds the
//! stage busy simply moves on.

use crate::sync::{AtomicUsize, Ordering};

const IDLE: usize = 0;
const SCHEDULED: usize = 1;
const RUNNING: usize = 2;
const RUNNING_NOTIFIED: usize = 3;

/// What [`Slots::notify`] asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Schedule a task for this slot.
    Schedule(usize),
    /// Nothing: a scheduled or running slot will see the new batch.
    Covered,
}

/// The slots of one limited stage.
pub(crate) struct Slots {
    states: Box<[AtomicUsize]>,
}

impl Slots {
    pub(crate) fn new(n: usize) -> Self {
        assert!(n > 0, "a limited stage needs at least one slot");
        Slots {
            states: (0..n).map(|_| AtomicUsize::new(IDLE)).collect(),
        }
    }

    /// Call after delivering a batch to the stage's inbox.
    pub(crate) fn notify(&self) -> Notify {
        // Wake an idle slot first (more parallelism for replicated stages),
        // else make sure a scheduled or running slot looks again. Every exit
        // is a successful read-modify-write, which orders this delivery with
        // the slot transition it relies on. Retry if all slots moved under us.
        loop {
            for (i, state) in self.states.iter().enumerate() {
                if state
                    .compare_exchange(IDLE, SCHEDULED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Notify::Schedule(i);
                }
            }
            for state in self.states.iter() {
                let s = state.load(Ordering::Acquire);
                let next = match s {
                    RUNNING => RUNNING_NOTIFIED,
                    SCHEDULED | RUNNING_NOTIFIED => s,
                    _ => continue,
                };
                if state
                    .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Notify::Covered;
                }
            }
            crate::sync::spin_hint();
        }
    }

    /// Called by the task of slot `i` before draining.
    pub(crate) fn start(&self, i: usize) {
        let prev = self.states[i].swap(RUNNING, Ordering::AcqRel);
        debug_assert_eq!(prev, SCHEDULED, "a slot task ran while not scheduled");
    }

    /// Called by the holder of slot `i` once the inbox looked empty. Returns
    /// `true` if the slot is released, `false` if a batch arrived meanwhile
    /// and the holder must drain again (it still holds the slot).
    pub(crate) fn release(&self, i: usize) -> bool {
        match self.states[i].compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => {
                debug_assert_eq!(state, RUNNING_NOTIFIED);
                // An RMW (not a store), so it reads and synchronises with the
                // latest notification before the holder drains again.
                self.states[i].swap(RUNNING, Ordering::AcqRel);
                false
            }
        }
    }

    /// Called by the holder of slot `i` to give the worker back to other work
    /// while batches remain: the slot becomes `SCHEDULED` and the caller must
    /// schedule a task for it.
    pub(crate) fn yield_slot(&self, i: usize) {
        let prev = self.states[i].swap(SCHEDULED, Ordering::AcqRel);
        debug_assert!(prev == RUNNING || prev == RUNNING_NOTIFIED);
    }

    /// Tries to take an idle slot outside the task protocol (to flush a
    /// stalled stage). Returns the slot, to be given back with
    /// [`Slots::release`] and, if that fails, drained as usual.
    pub(crate) fn try_take_idle(&self) -> Option<usize> {
        self.states.iter().position(|state| {
            state
                .compare_exchange(IDLE, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn serial_slot_lifecycle() {
        let slots = Slots::new(1);
        assert_eq!(slots.notify(), Notify::Schedule(0));
        assert_eq!(slots.notify(), Notify::Covered);
        slots.start(0);
        assert_eq!(slots.notify(), Notify::Covered); // marks RUNNING_NOTIFIED
        assert!(!slots.release(0));
        assert!(slots.release(0));
        assert_eq!(slots.notify(), Notify::Schedule(0));
    }

    #[test]
    fn replicated_slots_wake_up_to_n() {
        let slots = Slots::new(2);
        assert_eq!(slots.notify(), Notify::Schedule(0));
        assert_eq!(slots.notify(), Notify::Schedule(1));
        assert_eq!(slots.notify(), Notify::Covered);
        slots.start(0);
        slots.start(1);
        assert_eq!(slots.notify(), Notify::Covered);
        assert_eq!(slots.try_take_idle(), None);
    }
}

#[cfg(loom)]
mod loom_models {
    use super::*;
    use crate::sync::{Arc, AtomicUsize as Counter};
    use loom::sync::Mutex;
    use loom::thread;

    /// Two producers deliver one batch each to a serial stage while its slot
    /// may be running; every batch must be drained by exactly one holder.
    #[test]
    fn no_batch_is_left_behind() {
        loom::model(|| {
            let slots = Arc::new(Slots::new(1));
            let inbox = Arc::new(Mutex::new(Vec::<u32>::new()));
            let drained = Arc::new(Counter::new(0));
            let tasks = Arc::new(Mutex::new(Vec::<usize>::new()));

            let deliver = |item: u32| {
                let (slots, inbox, tasks) = (slots.clone(), inbox.clone(), tasks.clone());
                thread::spawn(move || {
                    inbox.lock().unwrap().push(item);
                    if let Notify::Schedule(i) = slots.notify() {
                        tasks.lock().unwrap().push(i);
                    }
                })
            };
            let a = deliver(1);
            let b = deliver(2);
            // A worker that runs whatever task is scheduled, twice.
            let worker = {
                let (slots, inbox, tasks, drained) =
                    (slots.clone(), inbox.clone(), tasks.clone(), drained.clone());
                thread::spawn(move || {
                    for _ in 0..2 {
                        let task = tasks.lock().unwrap().pop();
                        if let Some(i) = task {
                            run_slot(&slots, i, &inbox, &drained);
                        }
                    }
                })
            };
            a.join().unwrap();
            b.join().unwrap();
            worker.join().unwrap();
            // Whatever is still scheduled runs now (the rest of the pool).
            while let Some(i) = tasks.lock().unwrap().pop() {
                run_slot(&slots, i, &inbox, &drained);
            }
            assert_eq!(drained.load(Ordering::SeqCst), 2);
            assert!(inbox.lock().unwrap().is_empty());
        });
    }

    fn run_slot(slots: &Slots, i: usize, inbox: &Mutex<Vec<u32>>, drained: &Counter) {
        slots.start(i);
        loop {
            while inbox.lock().unwrap().pop().is_some() {
                drained.fetch_add(1, Ordering::SeqCst);
            }
            if slots.release(i) {
                return;
            }
        }
    }
}
