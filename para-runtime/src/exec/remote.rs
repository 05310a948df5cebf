//! [`Remote`]: a handle on a run for threads that are not part of it: the
//! consumer of a stream (which gives capacity back as it takes items) and
//! the producers of a feed (which take capacity, wake the feed's source
//! and learn that the run is over).
//!
//! A remote holds only the parts of a run that borrow nothing (the
//! injectors, the crew, the capacity bound and the end flags, each behind
//! an `Arc`), never the nodes: it is `'static` whatever the stages borrow,
//! so a stream or a feeder may outlive the run, and even the scope its
//! stages borrow from, without reaching anything the run borrowed. After
//! the run, what it does is harmless: a task pushed then is never run, and
//! capacity given back then wakes nobody.

use crate::api::id::NodeId;
use crate::data::queue::SharedQueue;
use crate::exec::task::Task;
use crate::protocol::crew::Crew;
use crate::protocol::park::Capacity;
use crate::sync::{Arc, AtomicBool, CachePadded, Ordering};

/// The end-of-run flags.
pub(crate) struct Flags {
    pub(crate) cancelled: AtomicBool,
    pub(crate) done: AtomicBool,
}

/// Cancels a run: its workers stop at their next task and its keeper
/// ends it (the one way a run is cancelled, by a panic or a [`Remote`]).
pub(crate) fn cancel(flags: &Flags, crew: &Crew) {
    flags.cancelled.store(true, Ordering::Release);
    crew.wake_keeper();
}

/// A `'static` handle on a run for threads outside it (see the module doc).
#[derive(Clone)]
pub(crate) struct Remote {
    injectors: Arc<Vec<SharedQueue<Task>>>,
    crew: Arc<Crew>,
    room: Arc<Capacity>,
    flags: Arc<CachePadded<Flags>>,
    /// The priority level of every node (which injector its tasks go to).
    levels: Arc<Vec<usize>>,
}

impl Remote {
    pub(crate) fn new(
        injectors: Arc<Vec<SharedQueue<Task>>>,
        crew: Arc<Crew>,
        room: Arc<Capacity>,
        flags: Arc<CachePadded<Flags>>,
        levels: Vec<usize>,
    ) -> Self {
        Remote {
            injectors,
            crew,
            room,
            flags,
            levels: Arc::new(levels),
        }
    }

    /// Queues a task of node `node` (a source: it takes no claim slot) and
    /// asks the keeper for a worker if a slot is free.
    pub(crate) fn schedule(&self, node: NodeId) {
        self.injectors[self.levels[node.index()]].push(Task::unclaimed(node));
        self.crew.notify_work(None);
    }

    /// Reserves room for up to `want` items of source `source`; 0 when the
    /// graph is full (the source is then parked: see `protocol::park`).
    pub(crate) fn reserve(&self, source: NodeId, want: usize) -> usize {
        self.room
            .reserve(source, want, |unparked| self.schedule(unparked))
    }

    /// `n` items left the graph: makes room and reschedules parked sources.
    pub(crate) fn release(&self, n: usize) {
        self.room.release(n, |unparked| self.schedule(unparked));
    }

    /// Cancels the run (a stream dropped before its end).
    pub(crate) fn cancel(&self) {
        cancel(&self.flags, &self.crew);
    }

    /// Whether the run was cancelled (a panic, or a dropped stream).
    pub(crate) fn is_cancelled(&self) -> bool {
        self.flags.cancelled.load(Ordering::Acquire)
    }
}
