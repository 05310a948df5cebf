//! The capacity bound: sources park when the graph is full and are
//! rescheduled when room appears.
//!
//! # Capacity
//!
//! `alive` counts items inside the graph (see `Batch::weight`). Sources
//! reserve room before yielding; a source that finds none *parks* (sets its
//! flag, then re-checks), and whoever releases room afterwards unparks it.
//! Both sides write one location and then read the other, so at least one
//! of them sees the other: the source re-checks with a read-modify-write of
//! `alive`, so either it reads the release's decrement, or the decrement
//! comes after it in `alive`'s modification order and acquires it, and so
//! sees the flag. (Sequentially consistent loads and stores alone would do
//! in the language's memory model, but loom treats them as acquire/release
//! and could not check that.)
//!
//! ```text
//!   source (reserve)                      sink (release)
//!   try_reserve: full                     alive -= n          (RMW)
//!   parked.swap(true)     (RMW)           if parked.swap(false):
//!   alive += 0, try again  (RMW)              reschedule the source
//!     room:    if parked.swap(false): produce
//!              else: a releaser took the flag and rescheduled us; that
//!                    task produces, give the room back (release)
//!     no room: stay parked; the release that makes room will see the flag
//! ```
//!
//! Exactly one party takes the flag back (`swap`), so a parked source is
//! rescheduled once, and a source never stays parked while room is free and
//! nobody was told to reschedule it. A stopped source (`take`) is unparked
//! the same way ([`Capacity::unpark`]) so that it runs once more and closes.
//!
//! Items that enter without a reservation (fan-out copies, the items a
//! flat-map made before a regrouping stage) are added with [`Capacity::add`]
//! and may take `alive` past the bound; the bound is kept on what sources let
//! in.
//!
//! # Partial state
//!
//! Items waiting in a partial group (a `batch(n)` stage, a `#[gpu]`
//! accumulator) stay in `alive`: they are alive. They can only leave when
//! their group is emitted, so once the units held in partial state reach the
//! bound the sources stay parked and nothing else can fill those groups:
//! [`Capacity::hold_partial`] tells the node that just added to its group,
//! which then emits it partial. `partial` is only that hint (relaxed, no
//! pairing): a run that stalls anyway (fan-out copies held in several groups
//! below the bound, say) is unblocked by the stall flush, once every worker
//! is idle.

use crate::api::id::NodeId;
use crate::sync::{AtomicBool, AtomicUsize, CachePadded, Ordering};

/// The parked flag of one source.
struct Source {
    node: NodeId,
    parked: CachePadded<AtomicBool>,
}

/// The capacity bound of one run: the `alive` count and the sources' parked
/// flags.
pub(crate) struct Capacity {
    alive: CachePadded<AtomicUsize>,
    /// Most items alive (`usize::MAX`: in effect unbounded).
    capacity: usize,
    /// Highest `alive` seen (for tests and reports of bounded runs). On a
    /// line of its own: `alive` changes with every batch.
    peak: CachePadded<AtomicUsize>,
    /// Units held in partial state (see the module doc): a hint.
    partial: CachePadded<AtomicUsize>,
    /// Sorted by node id.
    sources: Box<[Source]>,
}

impl Capacity {
    /// `capacity` items at most, fed by the source nodes `sources`
    /// (ascending node ids).
    pub(crate) fn new(capacity: usize, sources: impl IntoIterator<Item = NodeId>) -> Self {
        let sources: Box<[Source]> = sources
            .into_iter()
            .map(|node| Source {
                node,
                parked: CachePadded::new(AtomicBool::new(false)),
            })
            .collect();
        assert!(
            sources.windows(2).all(|w| w[0].node < w[1].node),
            "para internal error: sources out of order"
        );
        Capacity {
            alive: CachePadded::new(AtomicUsize::new(0)),
            capacity,
            peak: CachePadded::new(AtomicUsize::new(0)),
            partial: CachePadded::new(AtomicUsize::new(0)),
            sources,
        }
    }

    fn bounded(&self) -> bool {
        self.capacity != usize::MAX
    }

    fn parked(&self, source: NodeId) -> &AtomicBool {
        let i = self
            .sources
            .binary_search_by_key(&source, |s| s.node)
            .expect("para internal error: not a source");
        &self.sources[i].parked
    }

    /// Highest `alive` seen.
    /// Raises `peak` to `alive`. Relaxed: a statistic, read after the run.
    /// Read first: once the peak is reached, most batches write nothing.
    fn note_peak(&self, alive: usize) {
        if alive > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(alive, Ordering::Relaxed);
        }
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Items inside the graph now, as a sample for the trace and the
    /// progress line. Relaxed: it orders nothing, and a value a moment old
    /// draws the same curve.
    pub(crate) fn sample_alive(&self) -> usize {
        self.alive.load(Ordering::Relaxed)
    }

    /// The bound (`usize::MAX`: in effect unbounded).
    #[cfg(feature = "progress")]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items inside the graph now.
    #[cfg(test)]
    pub(crate) fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }

    /// `n` more units wait in partial state (a group, a device accumulator).
    /// Returns whether the units held in partial state have reached the
    /// bound: nothing can then fill a group any more (see the module doc),
    /// and the caller should emit its own partial state now. Relaxed: a
    /// hint (a stale value only delays the flush to the stall flush, or
    /// cuts one group early).
    pub(crate) fn hold_partial(&self, n: usize) -> bool {
        if !self.bounded() {
            return false;
        }
        let now = self.partial.fetch_add(n, Ordering::Relaxed) + n;
        now >= self.capacity
    }

    /// `n` units left partial state (their group was emitted).
    pub(crate) fn drop_partial(&self, n: usize) {
        if self.bounded() && n > 0 {
            self.partial.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Reserves room for up to `want` items for source `source`. Returns 0
    /// if the graph is full: the source is then parked and will be
    /// rescheduled (by a release or [`Capacity::unpark`]), or was already
    /// rescheduled meanwhile. Calls `unparked` for every source to
    /// reschedule (when the reservation gives room back).
    pub(crate) fn reserve(
        &self,
        source: NodeId,
        want: usize,
        unparked: impl FnMut(NodeId),
    ) -> usize {
        if !self.bounded() {
            return want;
        }
        // A plain load first: a stale value only costs a failed CAS, or a
        // park and the re-check below.
        if let Some(k) = self.try_reserve(want, self.alive.load(Ordering::SeqCst)) {
            return k;
        }
        let parked = self.parked(source);
        // Park, then re-check with an RMW of `alive` (release and acquire).
        // That RMW reads the latest `alive`: it either sees the decrement of
        // a concurrent `release`, or precedes it in `alive`'s modification
        // order, and then that decrement (an acquire RMW, reading our RMW
        // or a later one of the chain) synchronises with it and its read of
        // the flag sees our store. The pairing needs no store-load
        // sequential consistency; the operations are SeqCst all the same.
        //
        // Parking is a swap, not a store: an RMW, so it is in one
        // modification order with the swaps that take the flag back. (The
        // same as a SeqCst store in the memory model, and the same `xchg` on
        // x86; but loom does not order a plain store after a concurrent RMW
        // that read the older value, and reports a lost unpark that cannot
        // happen.) The flag was clear: only this source's task sets it.
        parked.swap(true, Ordering::SeqCst);
        let current = self.alive.fetch_add(0, Ordering::SeqCst);
        match self.try_reserve(want, current) {
            // Took the flag back (an RMW, in one modification order with the
            // releasers' swaps): nobody rescheduled us, we produce.
            Some(k) if parked.swap(false, Ordering::SeqCst) => k,
            Some(k) => {
                // Someone released room and rescheduled us meanwhile: that
                // task produces, this one gives its room back.
                self.release(k, unparked);
                0
            }
            None => 0,
        }
    }

    /// Takes up to `want` of the room left, starting from `current`, a
    /// recent value of `alive`.
    fn try_reserve(&self, want: usize, mut current: usize) -> Option<usize> {
        loop {
            let room = self.capacity.saturating_sub(current);
            if room == 0 {
                return None;
            }
            let k = want.min(room);
            // SeqCst (AcqRel is what the pairing with `release` needs: the
            // CAS is part of the RMW chain of `alive`, see `reserve`).
            match self.alive.compare_exchange(
                current,
                current + k,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    self.note_peak(current + k);
                    return Some(k);
                }
                Err(now) => current = now,
            }
        }
    }

    /// Adds items that entered the graph without a source's reservation
    /// (fan-out copies, regrouped items).
    pub(crate) fn add(&self, n: usize) {
        if self.bounded() && n > 0 {
            // An increment never makes room, so it pairs with nothing; SeqCst
            // only keeps every write of `alive` in the one total order.
            let now = self.alive.fetch_add(n, Ordering::SeqCst) + n;
            self.note_peak(now);
        }
    }

    /// Items left the graph: makes room and calls `unparked` for every
    /// parked source, which the caller must reschedule.
    pub(crate) fn release(&self, n: usize, mut unparked: impl FnMut(NodeId)) {
        if !self.bounded() || n == 0 {
            return;
        }
        // An RMW of `alive` (acquire and release), then reads of the flags:
        // pairs with `reserve`'s flag store then RMW re-check (see there).
        self.alive.fetch_sub(n, Ordering::SeqCst);
        for source in self.sources.iter() {
            let parked = &source.parked;
            // The load skips the RMW (a cache-line write) when not parked;
            // the swap decides, in one total order with the source's own
            // swap, who takes the flag back.
            if parked.load(Ordering::SeqCst) && parked.swap(false, Ordering::SeqCst) {
                unparked(source.node);
            }
        }
    }

    /// Unparks `source` regardless of room (it was stopped and must run once
    /// more to see it). Returns whether it was parked: the caller must then
    /// reschedule it.
    pub(crate) fn unpark(&self, source: NodeId) -> bool {
        if !self.bounded() {
            return false;
        }
        // SeqCst RMW: one total order with the source's store and swap and
        // the releasers' swaps, so exactly one party takes the flag back. The
        // caller's `stopped` store comes before it, so the rescheduled task
        // sees the stop.
        self.parked(source).swap(false, Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn id(index: usize) -> NodeId {
        NodeId::new(index)
    }

    fn ids<const N: usize>(indices: [usize; N]) -> [NodeId; N] {
        indices.map(NodeId::new)
    }

    #[test]
    fn park_and_unpark() {
        let cap = Capacity::new(4, ids([0, 2]));
        let mut woken = Vec::new();
        assert_eq!(cap.reserve(id(0), 3, |s| woken.push(s)), 3);
        assert_eq!(cap.reserve(id(2), 3, |s| woken.push(s)), 1);
        assert_eq!(cap.reserve(id(0), 3, |s| woken.push(s)), 0); // parked
        assert_eq!(cap.reserve(id(2), 1, |s| woken.push(s)), 0); // parked
        assert!(woken.is_empty());
        cap.release(2, |s| woken.push(s));
        assert_eq!(woken, ids([0, 2]));
        assert_eq!(cap.alive(), 2);
        assert!(!cap.unpark(id(0)));
        assert_eq!(cap.reserve(id(0), 9, |s| woken.push(s)), 2);
        assert_eq!(cap.reserve(id(0), 9, |s| woken.push(s)), 0);
        assert!(cap.unpark(id(0)));
        assert!(!cap.unpark(id(0)));
        cap.add(5);
        assert_eq!(cap.peak(), 9);
    }

    #[test]
    fn partial_units_reach_the_bound() {
        let cap = Capacity::new(4, ids([0]));
        assert!(!cap.hold_partial(3));
        assert!(cap.hold_partial(1));
        cap.drop_partial(2);
        assert!(!cap.hold_partial(1));
        let unbounded = Capacity::new(usize::MAX, ids([0]));
        assert!(!unbounded.hold_partial(usize::MAX / 2));
    }

    #[test]
    fn unbounded_never_parks() {
        let cap = Capacity::new(usize::MAX, ids([0]));
        assert_eq!(cap.reserve(id(0), 1000, |_| unreachable!()), 1000);
        cap.add(10);
        cap.release(10, |_| unreachable!());
        assert!(!cap.unpark(id(0)));
        assert_eq!(cap.peak(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;

    fn id(index: usize) -> NodeId {
        NodeId::new(index)
    }

    fn ids<const N: usize>(indices: [usize; N]) -> [NodeId; N] {
        indices.map(NodeId::new)
    }
    use crate::sync::Arc;
    use loom::thread;

    use crate::sync::loom_model as model;

    /// Counts reschedules of source 0 (exact totals: RMWs).
    fn counter() -> Arc<AtomicUsize> {
        Arc::new(AtomicUsize::new(0))
    }

    /// A source reserving in a full graph while a sink releases: either the
    /// source gets room, or the sink is told to reschedule it; never
    /// neither (a source parked for good) and never both (two producers).
    #[test]
    fn parked_source_is_rescheduled() {
        model(|| {
            let cap = Arc::new(Capacity::new(1, ids([0])));
            cap.add(1); // the item the sink holds
            let rescheduled = counter();
            let source = {
                let (cap, rescheduled) = (cap.clone(), rescheduled.clone());
                thread::spawn(move || {
                    let k = cap.reserve(id(0), 1, |_| {
                        rescheduled.fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(cap.alive() <= 1);
                    k
                })
            };
            let sink = {
                let (cap, rescheduled) = (cap.clone(), rescheduled.clone());
                thread::spawn(move || {
                    cap.release(1, |s| {
                        assert_eq!(s, id(0));
                        rescheduled.fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(cap.alive() <= 1);
                })
            };
            let k = source.join().unwrap();
            sink.join().unwrap();
            let r = rescheduled.load(Ordering::Relaxed);
            assert_eq!(usize::from(k > 0) + r, 1, "got {k} items, {r} reschedules");
            assert_eq!(cap.alive(), k);
            if r == 1 {
                // The rescheduled task finds the room it was woken for.
                assert_eq!(cap.reserve(id(0), 1, |_| unreachable!()), 1);
            }
        });
    }

    /// Two sinks release one item each while the source wants two, and a
    /// `take` stops the source: the source gets room or is rescheduled
    /// exactly once, and `alive` never exceeds the capacity.
    #[test]
    fn two_releasers_and_a_stop() {
        model(|| {
            let cap = Arc::new(Capacity::new(2, ids([0])));
            cap.add(2);
            let stopped = Arc::new(AtomicBool::new(false));
            let rescheduled = counter();
            let source = {
                let (cap, stopped, rescheduled) =
                    (cap.clone(), stopped.clone(), rescheduled.clone());
                thread::spawn(move || {
                    if stopped.load(Ordering::Acquire) {
                        return None; // closes instead of producing
                    }
                    let k = cap.reserve(id(0), 2, |_| {
                        rescheduled.fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(cap.alive() <= 2);
                    Some(k)
                })
            };
            let sink = || {
                let (cap, rescheduled) = (cap.clone(), rescheduled.clone());
                thread::spawn(move || {
                    cap.release(1, |_| {
                        rescheduled.fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(cap.alive() <= 2);
                })
            };
            let a = sink();
            let b = sink();
            // The `take` (here: the main thread) stops the source.
            stopped.store(true, Ordering::Release);
            if cap.unpark(id(0)) {
                rescheduled.fetch_add(1, Ordering::Relaxed);
            }
            let k = source.join().unwrap();
            a.join().unwrap();
            b.join().unwrap();
            let r = rescheduled.load(Ordering::Relaxed);
            match k {
                None => assert_eq!(r, 0),
                Some(k) => {
                    assert_eq!(usize::from(k > 0) + r, 1, "got {k} items, {r} reschedules");
                    assert_eq!(cap.alive(), k);
                }
            }
        });
    }
}
