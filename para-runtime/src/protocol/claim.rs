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
//! * A worker that may run the stage inline can instead take an `IDLE` slot
//!   to `SCHEDULED` itself ([`Slots::try_schedule_idle`]) and run its task at
//!   once on its batch, which then never enters the inbox; if no slot is
//!   idle it delivers through the inbox as above.
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

/// Check the slot transitions' preconditions: in debug builds, and always
/// under loom (whose models run in release).
const CHECK: bool = cfg!(any(debug_assertions, loom));

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

    /// Moves an idle slot to `SCHEDULED` for a task that runs at once on a
    /// batch handed to it directly, not through the inbox, and returns it
    /// (`None`: no slot is idle; deliver through the inbox and
    /// [`Slots::notify`]). The task then runs as a notified one does: it
    /// calls [`Slots::start`], processes the handed batch, drains the inbox
    /// and releases. A batch delivered to the inbox meanwhile finds the slot
    /// `SCHEDULED` or `RUNNING`, so the holder is bound to drain it.
    pub(crate) fn try_schedule_idle(&self) -> Option<usize> {
        self.states.iter().position(|state| {
            state
                .compare_exchange(IDLE, SCHEDULED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    /// Called by the task of slot `i` before draining.
    pub(crate) fn start(&self, i: usize) {
        let prev = self.states[i].swap(RUNNING, Ordering::AcqRel);
        if CHECK {
            assert_eq!(prev, SCHEDULED, "a slot task ran while not scheduled");
        }
    }

    /// Called by the holder of slot `i` once the inbox looked empty. Returns
    /// `true` if the slot is released, `false` if a batch arrived meanwhile
    /// and the holder must drain again (it still holds the slot).
    pub(crate) fn release(&self, i: usize) -> bool {
        match self.states[i].compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => {
                if CHECK {
                    assert_eq!(state, RUNNING_NOTIFIED, "released a slot it did not hold");
                }
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
        if CHECK {
            assert!(
                prev == RUNNING || prev == RUNNING_NOTIFIED,
                "yielded a slot it did not hold"
            );
        }
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
    fn an_idle_slot_is_scheduled_for_a_handed_batch() {
        let slots = Slots::new(2);
        assert_eq!(slots.try_schedule_idle(), Some(0));
        // A delivery meanwhile takes the other idle slot, then is covered.
        assert_eq!(slots.notify(), Notify::Schedule(1));
        assert_eq!(slots.try_schedule_idle(), None);
        assert_eq!(slots.notify(), Notify::Covered);
        // The handed batch's task runs as a notified one does: a delivery
        // while it runs makes it drain again before it lets go.
        slots.start(0);
        assert_eq!(slots.notify(), Notify::Covered);
        assert!(!slots.release(0), "the new delivery must be drained");
        assert!(slots.release(0));
        assert_eq!(slots.try_schedule_idle(), Some(0));
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

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::data::queue::SharedQueue;
    use crate::sync::{lock, Arc, Mutex};
    use loom::thread;

    use crate::sync::loom_model as model;

    /// A limited stage as `nodes::outlets` drives it: its slots, its inbox, the slot
    /// tasks scheduled for it, and the batches drained from it.
    struct Stage {
        slots: Slots,
        inbox: SharedQueue<u32>,
        tasks: Mutex<Vec<usize>>,
        drained: Mutex<Vec<u32>>,
    }

    impl Stage {
        fn new(n: usize) -> Arc<Self> {
            Arc::new(Stage {
                slots: Slots::new(n),
                inbox: SharedQueue::new(),
                tasks: Mutex::new(Vec::new()),
                drained: Mutex::new(Vec::new()),
            })
        }

        /// Delivers `batch` (`Executor::deliver` + `outlets::notify_delivery`).
        fn deliver(&self, batch: u32) {
            self.inbox.push(batch);
            if let Notify::Schedule(i) = self.slots.notify() {
                lock(&self.tasks).push(i);
            }
        }

        /// Delivers `batch` as `Executor::deliver` does when it may run the
        /// stage inline: straight to a holder run here if a slot is idle
        /// (the batch never enters the inbox), else through the inbox.
        fn deliver_inline(&self, batch: u32) {
            match self.slots.try_schedule_idle() {
                Some(i) => self.hold(i, Some(batch), usize::MAX),
                None => self.deliver(batch),
            }
        }

        /// Runs one scheduled slot task, if any, as `node::hold_slot` does:
        /// drain, yielding the slot after `budget` batches if more remain.
        fn run_one(&self, budget: usize) -> bool {
            let Some(i) = lock(&self.tasks).pop() else {
                return false;
            };
            self.hold(i, None, budget);
            true
        }

        /// The task of slot `i`: the handed batch first, then the inbox.
        fn hold(&self, i: usize, mut handed: Option<u32>, mut budget: usize) {
            self.slots.start(i);
            loop {
                while let Some(batch) = handed.take().or_else(|| self.inbox.pop()) {
                    lock(&self.drained).push(batch);
                    budget -= 1;
                    if budget == 0 && !self.inbox.is_empty() {
                        self.slots.yield_slot(i);
                        lock(&self.tasks).push(i);
                        return;
                    }
                }
                if self.slots.release(i) {
                    return;
                }
            }
        }

        /// The rest of the pool runs whatever is still scheduled; then every
        /// delivered batch was drained exactly once, none is left, and every
        /// slot is idle (none was left scheduled without a task, or held).
        fn check(&self, delivered: &[u32]) {
            while self.run_one(usize::MAX) {}
            let mut drained = lock(&self.drained).clone();
            drained.sort_unstable();
            assert_eq!(drained, delivered);
            assert!(self.inbox.is_empty());
            for i in 0..self.slots.states.len() {
                assert_eq!(self.slots.try_take_idle(), Some(i));
            }
        }
    }

    /// Two producers deliver one batch each to a serial stage while its slot
    /// may be running; every batch must be drained by exactly one holder.
    #[test]
    fn no_batch_is_left_behind() {
        model(|| {
            let stage = Stage::new(1);
            let deliver = |batch: u32| {
                let stage = stage.clone();
                thread::spawn(move || stage.deliver(batch))
            };
            let a = deliver(1);
            let b = deliver(2);
            // A worker that runs whatever task is scheduled, twice.
            let worker = {
                let stage = stage.clone();
                thread::spawn(move || {
                    for _ in 0..2 {
                        stage.run_one(usize::MAX);
                    }
                })
            };
            a.join().unwrap();
            b.join().unwrap();
            worker.join().unwrap();
            stage.check(&[1, 2]);
        });
    }

    /// The holder of a serial slot gives it back as `SCHEDULED` (its drain
    /// budget ran out) while a producer delivers: the producer's batch and
    /// the rest are still drained, once each, by the rescheduled task.
    #[test]
    fn yield_slot_while_delivering() {
        model(|| {
            let stage = Stage::new(1);
            stage.deliver(1);
            stage.deliver(2);
            let holder = {
                let stage = stage.clone();
                thread::spawn(move || {
                    // Drains one batch, then yields: batch 2 is still there.
                    assert!(stage.run_one(1));
                    stage.run_one(usize::MAX);
                })
            };
            let producer = {
                let stage = stage.clone();
                thread::spawn(move || stage.deliver(3))
            };
            holder.join().unwrap();
            producer.join().unwrap();
            stage.check(&[1, 2, 3]);
        });
    }

    /// Two workers hand their batches straight to a serial stage (each runs
    /// the holder itself when the slot is idle) while a third delivers
    /// through the inbox and a fourth runs whatever task is scheduled:
    /// every batch is drained exactly once, and the slot ends idle.
    #[test]
    fn handed_batches_and_queued_ones_are_each_drained_once() {
        model(|| {
            let stage = Stage::new(1);
            let inline = |batch: u32| {
                let stage = stage.clone();
                thread::spawn(move || stage.deliver_inline(batch))
            };
            let a = inline(1);
            let b = inline(2);
            stage.deliver(3);
            let worker = {
                let stage = stage.clone();
                thread::spawn(move || while stage.run_one(usize::MAX) {})
            };
            a.join().unwrap();
            b.join().unwrap();
            worker.join().unwrap();
            stage.check(&[1, 2, 3]);
        });
    }

    /// A replicated stage (2 slots): two threads deliver and then work, as
    /// workers do, while a third delivers; both slots may drain the inbox at
    /// once. Every batch is drained exactly once and none is left behind.
    #[test]
    fn replicated_slots_drain_each_batch_once() {
        model(|| {
            let stage = Stage::new(2);
            let worker = |batch: u32| {
                let stage = stage.clone();
                thread::spawn(move || {
                    stage.deliver(batch);
                    stage.run_one(usize::MAX);
                })
            };
            let a = worker(1);
            let b = worker(2);
            stage.deliver(3);
            a.join().unwrap();
            b.join().unwrap();
            stage.check(&[1, 2, 3]);
        });
    }
}
