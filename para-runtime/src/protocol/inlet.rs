//! The queue of a feed ([`Inlet`]): items sent by producer threads wait
//! here until a task of the feed's source takes them, and the source is
//! scheduled only when there is something to take, so a feed never blocks
//! a worker.
//!
//! # Protocol
//!
//! All state is under one mutex. `scheduled` says a task of the source will
//! take the lock after the last change that needs one (an item pushed, the
//! last feeder gone, the source stopped):
//!
//! * a producer pushes under the lock; if `scheduled` was clear it sets it
//!   and schedules a task (after unlocking);
//! * a task takes a batch under the lock; if the queue is then empty it
//!   clears `scheduled` (a later push schedules again), otherwise it leaves
//!   it set and reschedules itself, so another worker can take the next
//!   batch while this one is emitted;
//! * the last feeder's drop, and the start of the run, schedule like a push
//!   does, so that a task sees an input that ended.
//!
//! A task that takes the lock when nothing is queued and a feeder is alive
//! finds the source *idle*: it clears `scheduled` and returns, and no worker
//! is busy on the feed. Extra tasks (the capacity bound reschedules a
//! source it unparks, see below) are harmless: each takes the lock and
//! finds a batch, the end, or nothing.
//!
//! The input *ends* once no feeder is left and the queue is empty, or when
//! the source is stopped (`take`, a `?` error, a cancelled run), which drops
//! what is queued; a task declares the end once, under the lock
//! ([`Pull::End`]), and gives back the source's production token. A task
//! that takes a batch takes a token of the source under the lock first
//! (`hold`), so the end (and the source's close) cannot overtake a batch
//! still being emitted.
//!
//! # Capacity
//!
//! An item counts against the run's capacity from the moment it is sent:
//! a producer reserves a unit before it pushes. The feed's source is one of
//! the run's parked sources (`protocol::park`); a producer that finds the
//! graph full leaves the source parked and waits here for a *wake*, which
//! every task of the source gives (the release that unparks the source
//! schedules a task). One producer at a time reserves (the feed's
//! `reserving` lock), as the park protocol needs one party per source
//! flag. Items sent before the run starts have no unit yet; the start adds
//! them to `alive` at once ([`Inlet::attach`]). Whether an item is such an
//! early item is decided under the lock ([`Inlet::push_early`]): a producer
//! that saw no run but finds the inlet attached reserves a unit instead.
//! Once the graph is launched ([`Inlet::bind`], on the caller's thread,
//! before `spawn` or `run` returns), an early send waits for the start
//! rather than queue past the bound (a stream's run starts on its keeper
//! thread, maybe after `spawn` returned).

use crate::sync::{lock, Condvar, Mutex};
use std::collections::VecDeque;

struct State<T> {
    queue: VecDeque<T>,
    /// Live `Feeder`s.
    feeders: usize,
    /// A task of the source will look at the queue (see the module doc).
    scheduled: bool,
    /// The feed's graph was launched (`Graph::spawn` or `Graph::run`
    /// called): its run will attach, or drop the feed, soon. Early pushes
    /// wait for that instead of queuing without a bound.
    bound: bool,
    /// The run started: items now hold capacity units, pushes schedule.
    attached: bool,
    /// The input ended (or the run is over): pushes are refused.
    ended: bool,
    /// Sequence number of the next batch (ordered stages sort by it).
    seq: u64,
    /// Bumped by every task: producers waiting for room retry.
    wakes: u64,
}

/// What a producer's push did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; the caller must schedule a task of the source.
    Schedule,
    /// Queued; a task is already on its way (or the run has not started).
    Queued,
}

/// What a producer's push before the start did ([`Inlet::push_early`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Early<T> {
    /// Queued; `attach` will count it.
    Queued,
    /// The run has started: the item needs a unit (handed back).
    Started(T),
    /// The graph was launched and its run is starting (a push that does
    /// not wait; handed back).
    Starting(T),
    /// The input has ended (handed back).
    Ended(T),
}

/// What a task of the source found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pull<T> {
    /// A batch and its sequence number; `more` is queued behind it (the
    /// caller reschedules the source). `hold` was called.
    Batch { items: Vec<T>, seq: u64, more: bool },
    /// Nothing queued, a feeder alive: the source is idle.
    Idle,
    /// The input ends now: the caller gives back the production token.
    /// `dropped` are the items a stop discarded (they hold units).
    End { dropped: VecDeque<T> },
    /// The end was declared already.
    Over,
}

/// The queue of one feed (see the module doc).
pub(crate) struct Inlet<T> {
    state: Mutex<State<T>>,
    /// Producers waiting for room wait here for a wake.
    woken: Condvar,
}

impl<T> Inlet<T> {
    /// A feed with one feeder, not attached to a run yet.
    pub(crate) fn new() -> Self {
        Inlet {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                feeders: 1,
                scheduled: false,
                bound: false,
                attached: false,
                ended: false,
                seq: 0,
                wakes: 0,
            }),
            woken: Condvar::new(),
        }
    }

    /// One more feeder.
    pub(crate) fn add_feeder(&self) {
        lock(&self.state).feeders += 1;
    }

    /// A feeder is gone. Returns whether the caller must schedule a task of
    /// the source (the last feeder left a running, idle feed: its input
    /// ended).
    pub(crate) fn drop_feeder(&self) -> bool {
        let mut state = lock(&self.state);
        state.feeders -= 1;
        state.feeders == 0 && state.attached && !state.ended && !take_turn(&mut state)
    }

    /// The run starts: items from now on hold capacity. Returns how many
    /// were sent before (the caller adds them to `alive`) and whether the
    /// caller must schedule a task of the source.
    pub(crate) fn attach(&self) -> (usize, bool) {
        let mut state = lock(&self.state);
        state.attached = true;
        // Early pushes waiting for the start (see `bind`).
        self.woken.notify_all();
        let early = state.queue.len();
        let schedule = (early > 0 || state.feeders == 0) && !take_turn(&mut state);
        (early, schedule)
    }

    /// The feed's graph was launched, on the caller's thread: the run will
    /// attach (a stream's run on its keeper thread, maybe after `spawn` has
    /// returned) or drop the feed. From now on, early pushes wait for that,
    /// so that what is sent after `spawn` returned counts against the
    /// capacity.
    pub(crate) fn bind(&self) {
        lock(&self.state).bound = true;
    }

    /// Whether the run has started.
    pub(crate) fn is_attached(&self) -> bool {
        lock(&self.state).attached
    }

    /// A producer pushes `item` (holding its unit if the run started), or
    /// gets it back if the input has ended.
    pub(crate) fn push(&self, item: T) -> Result<Pushed, T> {
        let mut state = lock(&self.state);
        if state.ended {
            return Err(item);
        }
        state.queue.push_back(item);
        if state.attached && !take_turn(&mut state) {
            Ok(Pushed::Schedule)
        } else {
            Ok(Pushed::Queued)
        }
    }

    /// A producer that saw no run yet pushes `item`, holding no unit. If
    /// the run has started meanwhile, the item is handed back
    /// ([`Early::Started`]): queued now, it would be in the graph without a
    /// unit (`attach` has counted the early items already), so the caller
    /// reserves one as after the start. Once the graph is launched
    /// ([`Inlet::bind`]), the push waits for the start (`wait`), or hands
    /// the item back ([`Early::Starting`]).
    pub(crate) fn push_early(&self, item: T, wait: bool) -> Early<T> {
        let mut state = lock(&self.state);
        while wait && state.bound && !state.attached && !state.ended {
            state = self.woken.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.ended {
            Early::Ended(item)
        } else if state.attached {
            Early::Started(item)
        } else if state.bound {
            Early::Starting(item)
        } else {
            state.queue.push_back(item);
            Early::Queued
        }
    }

    /// The current wake count, or `None` once the input has ended. A
    /// producer reads it before it tries to reserve room.
    pub(crate) fn wakes(&self) -> Option<u64> {
        let state = lock(&self.state);
        (!state.ended).then_some(state.wakes)
    }

    /// A producer whose reservation found the graph full waits until a
    /// task of the source wakes it (after `seen`), or the input ends.
    pub(crate) fn wait_for_wake(&self, seen: u64) {
        let mut state = lock(&self.state);
        while state.wakes == seen && !state.ended {
            state = self.woken.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A task of the source: wakes waiting producers, then takes a batch
    /// of at most `max` items (calling `hold` under the lock first), finds
    /// the source idle, or declares the end (`stopped`: the source must
    /// stop, discarding what is queued).
    pub(crate) fn pull(&self, max: usize, stopped: bool, hold: impl FnOnce()) -> Pull<T> {
        let mut state = lock(&self.state);
        state.wakes += 1;
        self.woken.notify_all();
        if state.ended {
            return Pull::Over;
        }
        if stopped || (state.queue.is_empty() && state.feeders == 0) {
            state.ended = true;
            state.scheduled = false;
            return Pull::End {
                dropped: std::mem::take(&mut state.queue),
            };
        }
        if state.queue.is_empty() {
            state.scheduled = false;
            return Pull::Idle;
        }
        hold();
        let n = max.max(1).min(state.queue.len());
        let items: Vec<T> = state.queue.drain(..n).collect();
        let seq = state.seq;
        state.seq += 1;
        let more = !state.queue.is_empty() || state.feeders == 0;
        if !more {
            state.scheduled = false;
        }
        Pull::Batch { items, seq, more }
    }

    /// The run is over: refuse further pushes, wake waiting producers, and
    /// return what is still queued (to drop outside the lock).
    pub(crate) fn close(&self) -> VecDeque<T> {
        let mut state = lock(&self.state);
        state.ended = true;
        self.woken.notify_all();
        std::mem::take(&mut state.queue)
    }
}

/// Sets `scheduled`, returning whether it was set already (then a task is
/// on its way and the caller schedules none).
fn take_turn<T>(state: &mut State<T>) -> bool {
    std::mem::replace(&mut state.scheduled, true)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn items_sent_before_the_start_are_counted_at_attach() {
        let inlet = Inlet::new();
        assert_eq!(inlet.push(1), Ok(Pushed::Queued));
        assert_eq!(inlet.push(2), Ok(Pushed::Queued));
        assert_eq!(inlet.attach(), (2, true));
        // A task is on its way: the next push schedules none.
        assert_eq!(inlet.push(3), Ok(Pushed::Queued));
        let mut held = 0;
        let pull = inlet.pull(2, false, || held += 1);
        assert_eq!(
            pull,
            Pull::Batch {
                items: vec![1, 2],
                seq: 0,
                more: true
            }
        );
        let pull = inlet.pull(2, false, || held += 1);
        assert_eq!(
            pull,
            Pull::Batch {
                items: vec![3],
                seq: 1,
                more: false
            }
        );
        assert_eq!(held, 2);
        assert_eq!(inlet.pull(2, false, || unreachable!()), Pull::Idle);
        // Idle: the next push schedules a task, the last feeder's drop not
        // (that task will see the end).
        assert_eq!(inlet.push(4), Ok(Pushed::Schedule));
        assert!(!inlet.drop_feeder());
        let _ = inlet.pull(8, false, || {});
        assert_eq!(
            inlet.pull(8, false, || unreachable!()),
            Pull::End {
                dropped: VecDeque::new()
            }
        );
        assert_eq!(inlet.pull(8, false, || unreachable!()), Pull::Over);
        assert_eq!(inlet.push(5), Err(5));
    }

    #[test]
    fn an_early_push_after_the_start_is_handed_back() {
        let inlet = Inlet::new();
        assert_eq!(inlet.push_early(1, true), Early::Queued);
        inlet.bind();
        // Launched, not started: a push that does not wait is handed back.
        assert_eq!(inlet.push_early(2, false), Early::Starting(2));
        assert_eq!(inlet.attach(), (1, true));
        // A producer that saw no run before the start: not queued without
        // a unit.
        assert_eq!(inlet.push_early(2, true), Early::Started(2));
        let _ = inlet.pull(8, true, || {});
        assert_eq!(inlet.push_early(3, true), Early::Ended(3));
    }

    #[test]
    fn a_stop_discards_what_is_queued_and_refuses_more() {
        let inlet = Inlet::new();
        inlet.attach();
        assert_eq!(inlet.push(1), Ok(Pushed::Schedule));
        match inlet.pull(8, true, || unreachable!()) {
            Pull::End { dropped } => assert_eq!(dropped, [1]),
            other => panic!("{other:?}"),
        }
        assert_eq!(inlet.wakes(), None);
        assert_eq!(inlet.push(2), Err(2));
    }

    #[test]
    fn the_last_feeder_of_an_idle_feed_schedules_the_end() {
        let inlet: Inlet<u8> = Inlet::new();
        inlet.add_feeder();
        assert_eq!(inlet.attach(), (0, false));
        assert!(!inlet.drop_feeder());
        assert!(inlet.drop_feeder());
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{loom_model as model, Arc, AtomicUsize, Ordering};
    use loom::thread;

    /// Two producers push and drop their feeders while a worker runs the
    /// source's tasks as they are scheduled (counted in `tasks`): every
    /// item is taken once, per producer in push order, and the end is
    /// declared once, with no task left that the worker would miss (the
    /// worker stops only at the end; a lost schedule would leave it
    /// spinning with nothing scheduled, which loom reports).
    #[test]
    fn every_item_is_taken_and_the_end_declared_once() {
        model(|| {
            let inlet = Arc::new(Inlet::new());
            inlet.add_feeder();
            let tasks = Arc::new(AtomicUsize::new(0));
            let (_, schedule) = inlet.attach();
            assert!(!schedule);
            let producers: Vec<_> = (0..2u32)
                .map(|p| {
                    let (inlet, tasks) = (inlet.clone(), tasks.clone());
                    thread::spawn(move || {
                        if inlet.push(p) == Ok(Pushed::Schedule) {
                            tasks.fetch_add(1, Ordering::SeqCst);
                        }
                        if inlet.drop_feeder() {
                            tasks.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            let mut taken = Vec::new();
            let mut ends = 0;
            loop {
                if tasks.load(Ordering::SeqCst) == 0 {
                    thread::yield_now();
                    continue;
                }
                tasks.fetch_sub(1, Ordering::SeqCst);
                match inlet.pull(1, false, || {}) {
                    Pull::Batch { items, more, .. } => {
                        taken.extend(items);
                        if more {
                            tasks.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Pull::End { dropped } => {
                        assert!(dropped.is_empty());
                        ends += 1;
                        break;
                    }
                    Pull::Idle | Pull::Over => {}
                }
            }
            for p in producers {
                p.join().unwrap();
            }
            taken.sort_unstable();
            assert_eq!((taken, ends), (vec![0, 1], 1));
        });
    }

    /// A producer that found the graph full waits for a wake while a task
    /// of the source runs (the release that unparked it scheduled one):
    /// the producer always wakes, whichever comes first (a lost wake would
    /// leave it waiting for good, which loom reports as a deadlock).
    #[test]
    fn a_waiting_producer_is_woken_by_the_task() {
        model(|| {
            let inlet: Arc<Inlet<u32>> = Arc::new(Inlet::new());
            inlet.attach();
            let seen = inlet.wakes().expect("not ended");
            let task = {
                let inlet = inlet.clone();
                thread::spawn(move || {
                    let _ = inlet.pull(1, false, || {});
                })
            };
            inlet.wait_for_wake(seen);
            task.join().unwrap();
        });
    }

    /// After `bind`, an early send waits for the start and then goes the
    /// run's way (it reserves a unit); never queued without one.
    #[test]
    fn an_early_send_after_bind_waits_for_the_start() {
        model(|| {
            let inlet: Arc<Inlet<u32>> = Arc::new(Inlet::new());
            inlet.bind();
            let start = {
                let inlet = inlet.clone();
                thread::spawn(move || inlet.attach())
            };
            let early = inlet.push_early(7, true);
            let (queued_before, _) = start.join().unwrap();
            assert!(matches!(early, Early::Started(7)));
            assert_eq!(queued_before, 0);
        });
    }
}
