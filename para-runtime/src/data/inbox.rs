//! A node's inbox: the queue of batches delivered to it, and the spare
//! buffers its consumed batches leave behind for its producers to fill.
//!
//! Every batch is a `Vec`. Allocating a fresh one per stage per batch and
//! freeing it on whichever worker consumed it made the allocator the largest
//! per-batch cost on fine-grained graphs: glibc frees a buffer into the
//! arena of the thread that allocated it (taking that arena's lock, with
//! futex wake-ups under contention) and trims the arena with `madvise`,
//! whose TLB shootdowns interrupt every core (about a tenth of the W4
//! diamond's time at 2 threads). So a stage that has consumed a batch hands
//! the empty buffer back to its inbox, and whoever next sends a batch there
//! takes it. Buffers circulate instead of being freed; with batches handed
//! on inline, the same few stay hot in one core's cache.

//!
//! Spares are kept per worker (worker `i` uses shelf `i % SHELVES`): one
//! shared list made every worker's every batch move the list's cache line
//! between cores, which cost more than the allocations it saved (W1 at 2
//! threads went from 0.50 to 0.64 ns/item). Device lanes and the caller
//! neither take nor give spares.

use crate::data::batch::Batch;
use crate::data::queue::SharedQueue;
use crate::sync::CachePadded;
use crate::sync::Mutex;

/// Spare buffers kept per shelf; more are freed. A batch is usually handed
/// on inline and its buffer comes straight back, so a few suffice.
const MAX_SPARES: usize = 4;

/// Shelves per inbox: workers beyond this share (through `try_lock`).
const SHELVES: usize = 8;

/// One worker's spare buffers for one inbox.
type Shelf<T> = CachePadded<Mutex<Vec<Vec<T>>>>;

/// The batches waiting for one node, and spare buffers for new ones.
pub(crate) struct Inbox<T> {
    queue: SharedQueue<Batch<T>>,
    shelves: Box<[Shelf<T>]>,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox {
            queue: SharedQueue::new(),
            shelves: (0..SHELVES)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
        }
    }

    pub(crate) fn push(&self, batch: Batch<T>) {
        self.queue.push(batch);
    }

    pub(crate) fn pop(&self) -> Option<Batch<T>> {
        self.queue.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// An empty buffer for a batch bound for this inbox, made by `worker`
    /// (`None`: not a worker): a spare one if its shelf has one, else a new
    /// (unallocated) `Vec`.
    pub(crate) fn spare(&self, worker: Option<usize>) -> Vec<T> {
        let Some(worker) = worker else {
            return Vec::new();
        };
        // `try_lock`: contention means another worker shares the shelf and
        // is at the same spot; allocating beats waiting for it.
        match self.shelves[worker % SHELVES].try_lock() {
            Ok(mut spares) => spares.pop().unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Takes back the buffer of a batch that `worker` consumed (its items
    /// already moved out or dropped).
    pub(crate) fn recycle(&self, worker: Option<usize>, buffer: Vec<T>) {
        debug_assert!(buffer.is_empty(), "a recycled buffer must be empty");
        let Some(worker) = worker else {
            return;
        };
        if buffer.capacity() == 0 || std::mem::size_of::<T>() == 0 {
            return; // nothing allocated
        }
        if let Ok(mut spares) = self.shelves[worker % SHELVES].try_lock() {
            if spares.len() < MAX_SPARES {
                spares.push(buffer);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buffers_circulate_up_to_the_limit() {
        let inbox = Inbox::<u64>::new();
        let me = Some(3);
        assert_eq!(inbox.spare(me).capacity(), 0, "no spare yet");
        let mut buffers: Vec<Vec<u64>> = (0..MAX_SPARES + 3)
            .map(|i| Vec::with_capacity(16 + i))
            .collect();
        let addresses: Vec<*const u64> = buffers.iter().map(|b| b.as_ptr()).collect();
        for b in buffers.drain(..) {
            inbox.recycle(me, b);
        }
        // The first MAX_SPARES were kept (handed out last in, first out),
        // the rest freed.
        for i in (0..MAX_SPARES).rev() {
            assert_eq!(inbox.spare(Some(4)).capacity(), 0, "another shelf");
            assert_eq!(inbox.spare(None).capacity(), 0, "not a worker");
            let spare = inbox.spare(me);
            assert_eq!(spare.as_ptr(), addresses[i]);
            assert!(spare.is_empty() && spare.capacity() >= 16 + i);
        }
        assert_eq!(inbox.spare(me).capacity(), 0);
    }

    #[test]
    fn empty_and_zero_sized_buffers_are_not_kept() {
        let inbox = Inbox::<u64>::new();
        inbox.recycle(Some(0), Vec::new());
        assert_eq!(inbox.spare(Some(0)).capacity(), 0);
        inbox.recycle(None, Vec::with_capacity(10));
        assert_eq!(
            inbox.spare(Some(0)).capacity(),
            0,
            "not kept from a non-worker"
        );
        let units = Inbox::<()>::new();
        units.recycle(Some(0), Vec::with_capacity(10));
        assert!(units.spare(Some(0)).is_empty());
    }
}
