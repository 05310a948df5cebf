//! [`SourceNode`]: the one node kind that starts items, over a [`Supply`]:
//! a serial iterator ([`IterSupply`]) or a splittable source
//! ([`SplitSupply`], `#[split]`) several workers produce from at once.
//!
//! A source has at most one *production* task queued or cutting at any
//! time. The task reserves room for its piece under the capacity bound,
//! cuts the piece off the supply under the source's lock, releases the
//! lock, reschedules itself if anything is left (so another worker can cut
//! the next piece meanwhile), then produces and emits its piece. So the lock
//! is never contended, and an iterator is read by one worker at a time
//! (it is read while cutting, under the lock), while the pieces of a split
//! source are produced by several workers at once, outside it. A source
//! that finds the graph full parks instead of rescheduling (see
//! `protocol::park`); the release that makes room reschedules it. Room
//! reserved but not filled (the iterator ended early) is released at once.
//!
//! Pieces are sized by `Executor::source_batch_size`: a time target's worth
//! of work by the measured cost per source item (100 µs down to about 3 µs, chosen
//! per source by a hill-climb on its throughput: `exec::sizing`), one item
//! until a cost is known (at
//! `threads = 1`, where no timing may decide, sizes double from one
//! instead), at most the run's `batch` and never past what a split source
//! has left. Each non-empty piece gets the next sequence number, which
//! ordered stages sort by.
//!
//! Completion tokens: the production token (the initial `pending` of 1) is
//! given back when the supply is exhausted or the source is stopped (a
//! `take` was satisfied, or the run was cancelled); the supply is then
//! dropped outside the lock, as it may run user code. A piece being
//! produced while the next task may already run holds one more token, so
//! the source cannot close (and let downstream nodes finish) before that
//! piece is emitted.

use crate::api::id::NodeId;
use crate::api::split::Split;
use crate::data::batch::Tag;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::sizing::SourceSizing;
use crate::exec::task::Task;
use crate::exec::trace::Mark;
use crate::nodes::outlets::{take_outlets, Outlets, Wire};
use crate::sync::{lock, Mutex};
use std::time::{Duration, Instant};

/// What a source node draws its items from.
pub(crate) trait Supply: Send {
    /// The items the source yields.
    type Item: Send;
    /// A piece cut off the supply under the source's lock and produced
    /// outside it.
    type Piece;
    /// At most how many items are left (`usize::MAX`: unknown); 0 ends the
    /// source without another read.
    fn left(&self) -> usize;
    /// Cuts a piece of at most `room` items off the front, reading them into
    /// `items` if they must be read under the lock; with a `budget`, a piece
    /// whose reading takes longer is cut short (see [`IterSupply`]).
    /// Returns the piece, its length, and whether the supply is exhausted
    /// after it.
    fn cut(
        &mut self,
        room: usize,
        items: &mut Vec<Self::Item>,
        budget: Option<Duration>,
    ) -> (Self::Piece, usize, bool);
    /// Moves the piece's `len` items into `items` (outside the lock).
    fn produce(piece: Self::Piece, len: usize, items: &mut Vec<Self::Item>);
    /// How many items are left, if that is known exactly (the progress
    /// line's ETA).
    #[cfg(feature = "progress")]
    fn known_len(&self) -> Option<u64>;
}

/// A serial iterator: pieces are read under the lock, straight into the
/// batch buffer (an iterator cannot be divided), so one worker at a time
/// reads.
///
/// The items the iterator promises (`size_hint().0`: a range, a `Vec`, a
/// `map` over them) are read in one tight loop. Beyond them an item may
/// have to be waited for (a channel, a socket, a file being written), so
/// the rest of the piece is read one item at a time, and with a `budget`
/// the piece is cut once reading it has taken longer than the budget (a
/// batch's time target; the clock is read at the points
/// [`budget_check_due`] names): a slow iterator then costs about one item's
/// latency, not a batch's, and a panic downstream reaches the caller after
/// about one item, not when the iterator ends. Without a budget (one
/// worker thread, which must be deterministic) pieces are never cut by
/// time.
pub(crate) struct IterSupply<I>(pub(crate) I);

impl<I: Iterator + Send> Supply for IterSupply<I>
where
    I::Item: Send,
{
    type Item = I::Item;
    type Piece = ();

    fn left(&self) -> usize {
        usize::MAX
    }

    #[cfg(feature = "progress")]
    fn known_len(&self) -> Option<u64> {
        match self.0.size_hint() {
            (low, Some(high)) if low == high => Some(low as u64),
            _ => None,
        }
    }

    fn cut(
        &mut self,
        room: usize,
        items: &mut Vec<I::Item>,
        budget: Option<Duration>,
    ) -> ((), usize, bool) {
        let promised = self.0.size_hint().0.min(room);
        items.extend(self.0.by_ref().take(promised));
        if items.len() < promised {
            // The iterator broke its promise: it is exhausted.
            return ((), items.len(), true);
        }
        if items.len() == room {
            return ((), room, false);
        }
        let started = budget.map(|_| Instant::now());
        let mut read = 0usize;
        while items.len() < room {
            let Some(item) = self.0.next() else {
                return ((), items.len(), true);
            };
            items.push(item);
            read += 1;
            if let (Some(budget), Some(started)) = (budget, started) {
                if budget_check_due(read) && started.elapsed() > budget {
                    break;
                }
            }
        }
        ((), items.len(), false)
    }

    fn produce((): (), _len: usize, _items: &mut Vec<I::Item>) {}
}

/// Whether a serial source reading items one at a time should look at the
/// clock after its `read`-th item: after items 1, 2, 4 and 8, then every
/// 16th. An iterator whose items are slow from the start is cut after its
/// first (its first item alone takes longer than the budget), while a fast
/// one, such as `str::lines` (which promises nothing), no longer reads the
/// clock once per item: that was about 4% of W7's profile, on its serial
/// source. A fast iterator that turns slow waits for at most 15 more items.
fn budget_check_due(read: usize) -> bool {
    read.is_power_of_two() || read & 15 == 0
}

/// A splittable source: a piece is an O(1) cut, and its items are produced
/// outside the lock, so several workers produce at once.
pub(crate) struct SplitSupply<S>(pub(crate) Option<S>);

impl<S: Split> Supply for SplitSupply<S> {
    type Item = S::Item;
    type Piece = S;

    fn left(&self) -> usize {
        self.0.as_ref().map_or(0, Split::split_len)
    }

    #[cfg(feature = "progress")]
    fn known_len(&self) -> Option<u64> {
        Some(self.left() as u64)
    }

    fn cut(
        &mut self,
        room: usize,
        _items: &mut Vec<S::Item>,
        _budget: Option<Duration>,
    ) -> (S, usize, bool) {
        let rest = self
            .0
            .take()
            .expect("para internal error: cut an empty split source");
        let len = rest.split_len();
        let (part, rest) = rest.split_at(room);
        let (part_len, rest_len) = (part.split_len(), rest.split_len());
        if part_len != room || rest_len != len - room {
            drop((part, rest));
            panic!(
                "para: Split::split_at({room}) on a part of length {len} returned parts of \
                 lengths {part_len} and {rest_len}; they must be {room} and {}",
                len - room
            );
        }
        let exhausted = rest_len == 0;
        if !exhausted {
            self.0 = Some(rest);
        }
        (part, room, exhausted)
    }

    fn produce(piece: S, len: usize, items: &mut Vec<S::Item>) {
        let before = items.len();
        items.extend(piece.into_items());
        let got = items.len() - before;
        if got != len {
            panic!(
                "para: a Split part of length {len} yielded {got} items; \
                 Split::split_len and Split::into_items must agree"
            );
        }
    }
}

struct SourceState<P> {
    /// `None` once exhausted or stopped.
    supply: Option<P>,
    /// Sequence number of the next non-empty batch (ordered stages).
    seq: u64,
    /// The batch-size policy's state (see `exec::sizing`).
    sizing: SourceSizing,
}

/// A source node over supply `P`.
pub(crate) struct SourceNode<P: Supply> {
    id: NodeId,
    state: Mutex<SourceState<P>>,
    wire: Wire<P::Item>,
    outlets: Outlets<P::Item>,
}

impl<P: Supply> SourceNode<P> {
    pub(crate) fn new(id: NodeId, supply: P, wire: Wire<P::Item>) -> Self {
        SourceNode {
            id,
            state: Mutex::new(SourceState {
                supply: Some(supply),
                seq: 0,
                sizing: SourceSizing::for_items::<P::Item>(),
            }),
            wire,
            outlets: Outlets::default(),
        }
    }
}

impl<P: Supply> Node for SourceNode<P> {
    fn prepare(&mut self, _plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
    }

    fn start(&self, ex: &mut Executor<'_, '_>) {
        ex.schedule(Task::unclaimed(self.id));
    }

    #[cfg(feature = "progress")]
    fn known_len(&self) -> Option<u64> {
        lock(&self.state).supply.as_ref()?.known_len()
    }

    fn run(&self, ex: &mut Executor<'_, '_>, _slot: u32) {
        let mut state = lock(&self.state);
        let Some(supply) = state.supply.as_ref() else {
            return;
        };
        let left = supply.left();
        if left == 0 || ex.source_stopped(self.id) {
            let supply = state.supply.take();
            drop(state);
            drop(supply); // a user's drop runs outside the lock
            ex.complete(self.id); // the production token
            return;
        }
        let want = ex.source_batch_size(&mut state.sizing).min(left);
        let room = ex.reserve(self.id, want);
        if room == 0 {
            ex.mark(self.id, Mark::Park);
            return; // parked: a release reschedules us
        }
        let started = ex.timer(self.id);
        let mut items = self.outlets.spare(ex);
        items.reserve(room);
        let supply = state.supply.as_mut().expect("checked above");
        let budget = ex.source_read_budget();
        let (piece, len, exhausted) = supply.cut(room, &mut items, budget);
        ex.release(room - len);
        state.sizing.cut(len);
        let seq = state.seq;
        if len > 0 {
            state.seq += 1;
        }
        if exhausted {
            state.supply = None;
        }
        drop(state);
        if !exhausted {
            // The piece keeps the node open: the task scheduled here may run
            // on another worker before this emit, find the supply exhausted
            // and close the source, which would let the downstream node
            // finish (a `batch` stage flushing its last group, say) before
            // this piece reaches it.
            ex.hold(self.id);
            ex.schedule(Task::unclaimed(self.id));
        }
        P::produce(piece, len, &mut items);
        // Recorded before emitting: the emit may run downstream stages
        // inline (`Executor::run_or_schedule`), which is not this node's time.
        ex.record(self.id, (0, len), 0, started);
        if len > 0 {
            self.outlets
                .emit(ex, items, Tag::origin(seq, len), len, false);
        }
        // Gives back the production token (exhausted) or the hold above.
        ex.complete(self.id);
    }

    fn on_delivered(&self, _ex: &mut Executor<'_, '_>) {
        unreachable!("para internal error: a source has no input");
    }
}
