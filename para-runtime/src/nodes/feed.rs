//! Feeds: inputs that arrive while a pipeline runs. [`feed`] makes a
//! [`Feeder`] (for producer threads) and a [`Feed`] (a source of the
//! graph); [`FeedNode`] is the source node that drains the feed's queue
//! (`protocol::inlet`) without ever blocking a worker.

use crate::api::id::NodeId;
use crate::data::batch::Tag;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::remote::Remote;
use crate::exec::sizing::SourceSizing;
use crate::exec::task::Task;
use crate::nodes::outlets::{take_outlets, Outlets, Wire};
use crate::protocol::inlet::{Early, Inlet, Pull, Pushed};
use crate::sync::{lock, Arc, Mutex, OnceLock};
use std::fmt;

/// Makes a feed: the [`Feeder`] sends items, the [`Feed`] is a source of a
/// pipeline (`pipeline!(input => ...)`, or
/// [`Graph::feed_source`](crate::Graph::feed_source)).
///
/// A feed never blocks a worker: workers take what has been sent and do
/// other work meanwhile. [`Feeder::send`] blocks while the graph is at its
/// `capacity` (an item counts from the moment it is sent); the input ends
/// when every feeder is dropped.
///
/// ```
/// let (feeder, input) = para::feed::<u64>();
/// let producer = std::thread::spawn(move || {
///     for i in 0..100 {
///         feeder.send(i).unwrap();
///     } // dropping the feeder ends the input
/// });
/// let mut sum = 0;
/// let mut g = para::Graph::new();
/// let items = g.feed_source(input);
/// let doubled = g.map(items, |x| x * 2);
/// g.sink(doubled, |x| sum += x);
/// g.run();
/// producer.join().unwrap();
/// assert_eq!(sum, 9900);
/// ```
pub fn feed<T: Send>() -> (Feeder<T>, Feed<T>) {
    let shared = Arc::new(Shared {
        inlet: Inlet::new(),
        run: OnceLock::new(),
        reserving: Mutex::new(()),
    });
    (
        Feeder {
            shared: shared.clone(),
        },
        Feed { shared },
    )
}

/// What the two ends of a feed share.
struct Shared<T> {
    inlet: Inlet<T>,
    /// The run and the feed's node, once the run started.
    run: OnceLock<(Remote, NodeId)>,
    /// One producer at a time reserves room (see `protocol::inlet`).
    reserving: Mutex<()>,
}

impl<T> Shared<T> {
    /// Where a sent item goes: into the run (the caller reserves its unit
    /// first), or, before the start, into the queue without a unit
    /// (`attach` counts it). A producer that saw no run but finds the inlet
    /// attached (the run started in between) goes the run's way: queued
    /// then, the item would be in the graph with no unit, and its release
    /// would take `alive` below the items inside.
    fn route(&self, item: T, wait: bool) -> Route<'_, T> {
        if let Some(run) = self.run.get() {
            return Route::Run(run, item);
        }
        match self.inlet.push_early(item, wait) {
            Early::Queued => Route::Queued,
            Early::Ended(item) => Route::Ended(item),
            Early::Starting(item) => Route::Starting(item),
            // `run` is set before the inlet is attached.
            Early::Started(item) => Route::Run(self.run.get().expect("set before attach"), item),
        }
    }

    /// Pushes an item that holds its capacity unit, scheduling the source
    /// if it is idle; gives the unit and the item back if the input has
    /// ended.
    fn push(&self, (remote, node): &(Remote, NodeId), item: T) -> Result<(), T> {
        match self.inlet.push(item) {
            Ok(Pushed::Schedule) => {
                remote.schedule(*node);
                Ok(())
            }
            Ok(Pushed::Queued) => Ok(()),
            Err(item) => {
                remote.release(1);
                Err(item)
            }
        }
    }
}

/// Where a sent item goes (see `Shared::route`).
enum Route<'s, T> {
    /// The run has started: reserve a unit, then push.
    Run(&'s (Remote, NodeId), T),
    /// Queued before the start.
    Queued,
    /// The graph was launched, its run not started yet (`try_send` only:
    /// `send` waits for the start).
    Starting(T),
    /// The input has ended: the item handed back.
    Ended(T),
}

/// The sending end of a feed: `Clone + Send`, one per producer thread. The
/// input ends when every feeder is dropped.
pub struct Feeder<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving end of a feed: a source of a pipeline. Dropping it
/// without running a graph ends the feed (sends then fail).
pub struct Feed<T> {
    shared: Arc<Shared<T>>,
}

/// [`Feeder::send`] after the run has ended (finished, cancelled, stopped
/// by `take` or a `?` error, or a stage panicked): the item is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Why [`Feeder::try_send`] handed the item back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The graph is at its capacity: `send` would block.
    Full(T),
    /// The run has ended: `send` would fail.
    Ended(T),
}

impl<T> TrySendError<T> {
    /// The item handed back.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(item) | TrySendError::Ended(item) => item,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a feed whose run has ended")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Ended(_) => f.write_str("Ended(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the pipeline is at its capacity"),
            TrySendError::Ended(_) => f.write_str("sending on a feed whose run has ended"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl<T> Feeder<T> {
    /// Sends `item` into the pipeline, blocking while the graph is at its
    /// `capacity`. Returns the item in `Err` if the run has ended. Before
    /// the graph is started (`Graph::spawn`, `Graph::run`), items are
    /// queued without a bound and count against the capacity once it
    /// starts; from that call on, every send counts (a send may wait for
    /// the run, which a stream's keeper thread starts, to be under way).
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let shared = &*self.shared;
        let (run, item) = match shared.route(item, true) {
            Route::Run(run, item) => (run, item),
            Route::Queued => return Ok(()),
            Route::Ended(item) => return Err(SendError(item)),
            Route::Starting(_) => {
                unreachable!("para internal error: a waiting send before the start")
            }
        };
        let (remote, node) = run;
        let turn = lock(&shared.reserving);
        loop {
            let Some(seen) = shared.inlet.wakes() else {
                return Err(SendError(item));
            };
            if remote.reserve(*node, 1) == 1 {
                break;
            }
            // Parked: the release that makes room schedules the source,
            // whose task wakes us.
            shared.inlet.wait_for_wake(seen);
        }
        drop(turn);
        shared.push(run, item).map_err(SendError)
    }

    /// Sends `item` if the graph has room now; hands it back otherwise
    /// (`Full` also while a run just spawned is not under way yet).
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let shared = &*self.shared;
        let (run, item) = match shared.route(item, false) {
            Route::Run(run, item) => (run, item),
            Route::Queued => return Ok(()),
            Route::Ended(item) => return Err(TrySendError::Ended(item)),
            // `send` would wait for the start.
            Route::Starting(item) => return Err(TrySendError::Full(item)),
        };
        let (remote, node) = run;
        if shared.inlet.wakes().is_none() {
            return Err(TrySendError::Ended(item));
        }
        // Another producer waiting for room means the graph is full.
        let Ok(turn) = shared.reserving.try_lock() else {
            return Err(TrySendError::Full(item));
        };
        let got = remote.reserve(*node, 1);
        drop(turn);
        if got == 0 {
            // The source stays parked: the release that makes room
            // schedules it, and its task finds nothing new (harmless).
            return Err(TrySendError::Full(item));
        }
        shared.push(run, item).map_err(TrySendError::Ended)
    }
}

impl<T> Clone for Feeder<T> {
    fn clone(&self) -> Self {
        self.shared.inlet.add_feeder();
        Feeder {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Feeder<T> {
    fn drop(&mut self) {
        if self.shared.inlet.drop_feeder() {
            if let Some((remote, node)) = self.shared.run.get() {
                remote.schedule(*node);
            }
        }
    }
}

impl<T> Drop for Feed<T> {
    fn drop(&mut self) {
        // The run is over (or never started): refuse further sends and drop
        // what is queued here, once.
        drop(self.shared.inlet.close());
    }
}

impl<T> fmt::Debug for Feeder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feeder").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Feed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

/// The source node of a feed.
pub(crate) struct FeedNode<T> {
    id: NodeId,
    feed: Feed<T>,
    /// The batch-size state (see `Executor::source_batch_size`).
    sizing: Mutex<SourceSizing>,
    wire: Wire<T>,
    outlets: Outlets<T>,
}

impl<T> FeedNode<T> {
    pub(crate) fn new(id: NodeId, feed: Feed<T>, wire: Wire<T>) -> Self {
        assert!(
            !feed.shared.inlet.is_attached(),
            "para internal error: a feed in two runs"
        );
        FeedNode {
            id,
            feed,
            sizing: Mutex::new(SourceSizing::for_items::<T>()),
            wire,
            outlets: Outlets::default(),
        }
    }
}

impl<T: Send> Node for FeedNode<T> {
    fn prepare(&mut self, _plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
        // On the caller's thread, before `spawn` returns: sends from now on
        // count against the capacity (they wait for the start).
        self.feed.shared.inlet.bind();
    }

    fn start(&self, ex: &mut Executor<'_, '_>) {
        let shared = &self.feed.shared;
        if shared.run.set((ex.run.remote(), self.id)).is_err() {
            panic!("para: a feed can be the source of one run only");
        }
        let (early, schedule) = shared.inlet.attach();
        ex.reserve_extra(early);
        if schedule {
            ex.schedule(Task::unclaimed(self.id));
        }
    }

    fn run(&self, ex: &mut Executor<'_, '_>, _slot: u32) {
        let max = {
            // No climb (`SourceSizing::cut` is not called): a feed's rate
            // is its producers', whatever the batch size.
            let mut sizing = lock(&self.sizing);
            ex.source_batch_size(&mut sizing)
        };
        let stopped = ex.source_stopped(self.id);
        let started = ex.timer(self.id);
        let pull = self
            .feed
            .shared
            .inlet
            .pull(max, stopped, || ex.hold(self.id));
        match pull {
            Pull::Batch { items, seq, more } => {
                if more {
                    ex.schedule(Task::unclaimed(self.id));
                }
                let len = items.len();
                ex.record(self.id, (0, len), 0, started);
                self.outlets
                    .emit(ex, items, Tag::origin(seq, len), len, false);
                ex.complete(self.id); // the hold taken by `pull`
            }
            Pull::End { dropped } => {
                let n = dropped.len();
                drop(dropped); // user drops, outside the feed's lock
                ex.release(n);
                ex.complete(self.id); // the production token
            }
            Pull::Idle | Pull::Over => {}
        }
    }

    fn wake(&self, ex: &mut Executor<'_, '_>) {
        ex.schedule(Task::unclaimed(self.id));
    }

    fn on_delivered(&self, _ex: &mut Executor<'_, '_>) {
        unreachable!("para internal error: a source has no input");
    }
}
