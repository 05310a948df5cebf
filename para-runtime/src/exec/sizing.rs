//! How many items a source yields per batch: the batch-size policy.
//!
//! Every stage keeps a moving average of its measured cost per *source*
//! item ([`note_cost`]): a batch's time divided by the source items it
//! descends from (its capacity weight), so a stage behind a `flat_map`
//! counts all the items one source item became, and a stage behind a
//! filter only the share that passed. A source sizes its next batch so that
//! one batch costs about a *time target* summed over the stages it passes
//! through, within `1..=batch`. (Sources and feeds note no cost of their
//! own: reading is not part of the sum.) Until a cost is measured a source
//! yields one item at a time.
//!
//! The time target is chosen per source by a bounded hill-climb on the
//! source's measured throughput ([`SourceSizing`]). It starts at the
//! ceiling, [`TARGET_BATCH_NS`] (100 µs: scheduling, about 1 µs of CPU
//! per batch at 2 threads, is then about 1%), and may halve down to
//! [`LEVELS`] - 1 times (about 3 µs). For items that own heap memory (their
//! type needs a drop: `Vec`, `String`, `Box`) the ceiling is half that
//! (the ladder starts one level down): a batch of them is a batch of
//! allocations alive together. Time alone cannot tell what a batch of
//! large items costs beyond its own stages: a batch of 4 KiB buffers sized
//! for 50 µs
//! holds hundreds of them, more than a core's L2, and once they are freed
//! together glibc gives the top of the heap back to the kernel (its trim
//! threshold is 128 KiB) and the next batch faults it back in
//! (benches/README.md, the allocator study). A smaller batch avoids both.
//! So the source measures items per second over windows of about
//! [`WINDOW_NS`] of work per thread, now and then tries the neighbouring
//! target for one window, and moves there when it was faster by more than
//! [`MARGIN`]. A probe that loses doubles the wait before the next one (up
//! to [`MAX_WAIT`] windows), so on a workload where the ceiling is best the
//! probing costs next to nothing; a move resets the wait. After each change
//! of target one window is not measured, as the items already inside were
//! cut at the old size. Where every target gives the same size (cheap items
//! capped at `batch`, or items dearer than the ceiling, one per batch) the
//! source does not climb, and reads no clock for it.
//!
//! With one thread a source doubles its size from 1 to `batch` instead,
//! since no timing may influence a single-thread run (it must be
//! deterministic). A serial source also stops reading a batch once reading
//! it has taken longer than [`READ_BUDGET_NS`] ([`read_budget`]), so a
//! slow iterator's items are not held back for a whole batch.

use crate::exec::run::Run;
use crate::sync::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The ceiling of a batch's time target in one stage: long enough that
/// scheduling is a small fraction, short enough to spread work. The
/// hill-climb starts here. At 2 threads a batch costs about 1 µs of CPU in
/// cache lines the workers share (the source's lock and state, counters,
/// deques), so 50 µs left W5 (a serial stage behind a parallel one, where
/// every cycle counts) 3-5% over its bound; 100 µs took 2-4% off it in
/// alternating runs (`bench_table --only W5`: 1.047, 1.067, 1.028x the
/// bound against 1.044, 1.000, 0.992x) and left W7 where it was.
///
/// Not for items that own heap memory ([`SourceSizing::for_items`]): W6b's
/// climb settled now and then at 50 µs, where 100 µs and 50 µs gave the
/// same throughput, and its peak memory grew with the batches (5.3 MiB at
/// N and 7.1 MiB at 10 N in one run: the bar is the same at both).
const TARGET_BATCH_NS: u64 = 100_000;

/// How many time targets the climb moves between: the ceiling and its
/// halvings, down to `TARGET_BATCH_NS >> (LEVELS - 1)` (about 3 µs, where
/// the per-batch cost is still under a tenth).
const LEVELS: u32 = 6;

/// How long a serial source reads one batch before it emits what it has
/// (more than one thread): a slow iterator's item waits for about this long
/// at most, and a panic downstream is seen that much later.
const READ_BUDGET_NS: u64 = 50_000;

/// A throughput window: about this much measured work per thread (2 ms),
/// long enough that a window's rate is not one batch's noise.
const WINDOW_NS: u64 = 2_000_000;

/// A probe moves the target only when it was faster than the current
/// target by this fraction: less is within a shared machine's noise.
const MARGIN: f64 = 0.05;

/// The longest wait between probes, in windows, after probes that lost.
const MAX_WAIT: u32 = 64;

/// Feeds a measured cost per source item (ns) into a node's moving average (0 =
/// not measured yet). Relaxed: the average is a hint, read racily by
/// sources; a lost update only delays the adaptation by a batch.
pub(crate) fn note_cost(cost_ns: &AtomicU64, per_item: u64) {
    let old = cost_ns.load(Ordering::Relaxed);
    let new = if old == 0 {
        per_item
    } else {
        (old * 3 + per_item) / 4
    };
    cost_ns.store(new, Ordering::Relaxed);
}

/// One source's batch-size state: the doubling of a single-thread run, and
/// the hill-climb on its time target (see the module docs). Kept under the
/// source's lock, so it needs no synchronisation of its own.
pub(crate) struct SourceSizing {
    /// The next size while doubling (one thread).
    next_doubling: usize,
    /// The top of the ladder: 0, or 1 for items that own heap memory.
    top: u32,
    /// The settled target: `TARGET_BATCH_NS >> level`.
    level: u32,
    /// The level being tried for one window, if any.
    trial: Option<u32>,
    /// Which way the next probe goes: towards smaller batches or not.
    smaller: bool,
    /// The window now running is not measured (the target just changed).
    settling: bool,
    /// Windows to measure at the settled level before the next probe.
    until_probe: u32,
    /// The wait after the last probe that lost (doubles, up to `MAX_WAIT`).
    wait: u32,
    /// Items per second at the settled level (0: not measured yet).
    rate: f64,
    /// The running window: when it started (`None`: not started), the
    /// items cut in it, and their estimated work in ns.
    window_started: Option<Instant>,
    window_items: u64,
    window_work_ns: u64,
    /// The cost per item the last size was computed from (ns, summed over
    /// the stages), kept to estimate the window's work when the batch is cut.
    cost_ns: u64,
    /// The run's worker count: a window holds `WINDOW_NS` of work per thread.
    threads: u64,
    /// Whether the last size came from a target that matters (the levels
    /// give different sizes), so its batch counts towards a window.
    climbing: bool,
}

impl SourceSizing {
    /// The sizing of a source of items of type `T`: the ladder starts one
    /// level down for items that own heap memory (`T` needs a drop; see
    /// [`TARGET_BATCH_NS`]).
    pub(crate) fn for_items<T>() -> Self {
        let top = u32::from(std::mem::needs_drop::<T>());
        SourceSizing {
            top,
            level: top,
            ..Self::new()
        }
    }

    /// The sizing with the ladder's top at the ceiling.
    fn new() -> Self {
        SourceSizing {
            next_doubling: 1,
            top: 0,
            level: 0,
            trial: None,
            smaller: true,
            settling: false,
            until_probe: 1,
            wait: 1,
            rate: 0.0,
            window_started: None,
            window_items: 0,
            window_work_ns: 0,
            cost_ns: 0,
            threads: 1,
            climbing: false,
        }
    }

    /// The settled level, for tests and the docs' claims.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn level(&self) -> u32 {
        self.level
    }

    /// How many items the source of `run` should cut next.
    pub(crate) fn next_size(&mut self, run: &Run<'_>) -> usize {
        let doubling = self.next_doubling;
        self.next_doubling = (doubling * 2).min(run.batch);
        if run.threads == 1 {
            // Deterministic: no timing may influence a single-thread run.
            return doubling;
        }
        let cost: u64 = run
            .cores
            .iter()
            .map(|c| c.cost_ns.load(Ordering::Relaxed))
            .sum();
        self.cost_ns = cost;
        self.threads = run.threads as u64;
        if cost == 0 {
            // Nothing measured yet: one item at a time. Doubling here let
            // idle workers take ever larger batches of coarse items before
            // the first one finished (64 zlib chunks at 8 threads: batches
            // of 1, 2, 4, .., 32, and a 1.6x speed-up instead of 2x).
            self.climbing = false;
            return 1;
        }
        let size_at = |level: u32| ((TARGET_BATCH_NS >> level) / cost).clamp(1, run.batch as u64);
        self.climbing = size_at(self.top) != size_at(LEVELS - 1);
        size_at(self.trial.unwrap_or(self.level)) as usize
    }

    /// The source cut `len` items of the size [`next_size`](Self::next_size)
    /// gave: counts them towards the running window, and at the window's end
    /// takes the climb's next step.
    pub(crate) fn cut(&mut self, len: usize) {
        if !self.climbing || len == 0 {
            return;
        }
        let Some(started) = self.window_started else {
            self.window_started = Some(Instant::now());
            return; // the window starts after this batch
        };
        self.window_items += len as u64;
        self.window_work_ns += len as u64 * self.cost_ns;
        if self.window_work_ns < WINDOW_NS * self.threads {
            return;
        }
        let now = Instant::now();
        let secs = now.duration_since(started).as_secs_f64();
        let rate = self.window_items as f64 / secs.max(1e-9);
        self.window_started = Some(now);
        self.window_items = 0;
        self.window_work_ns = 0;
        self.step(rate);
    }

    /// One step of the climb at the end of a window measured at `rate`
    /// items per second.
    fn step(&mut self, rate: f64) {
        if self.settling {
            self.settling = false;
            return;
        }
        if let Some(trial) = self.trial.take() {
            if rate > self.rate * (1.0 + MARGIN) {
                // The probe won: settle there and probe on the same way.
                self.level = trial;
                self.rate = rate;
                self.wait = 1;
                self.until_probe = 0;
            } else {
                // Back to the settled level (its first window is not
                // measured); the next probe tries the other way, later.
                self.settling = true;
                self.smaller = !self.smaller;
                self.wait = (self.wait * 2).min(MAX_WAIT);
                self.until_probe = self.wait;
            }
            return;
        }
        self.rate = if self.rate == 0.0 {
            rate
        } else {
            (self.rate + rate) / 2.0
        };
        if self.until_probe > 0 {
            self.until_probe -= 1;
            return;
        }
        // Probe a neighbour: the way `smaller` points, or the other way at
        // either end of the ladder.
        let down = self.level + 1 < LEVELS;
        let up = self.level > self.top;
        self.smaller = (self.smaller && down) || !up;
        self.trial = Some(if self.smaller {
            self.level + 1
        } else {
            self.level - 1
        });
        self.settling = true;
    }
}

/// How long a serial source may spend reading one batch before it emits
/// what it has (see `nodes::source::IterSupply`): [`READ_BUDGET_NS`], or
/// `None` with one thread, whose batches must not depend on timing.
pub(crate) fn read_budget(run: &Run<'_>) -> Option<Duration> {
    (run.threads > 1).then_some(Duration::from_nanos(READ_BUDGET_NS))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Drives the climb's steps directly with a rate per level.
    fn settle_on(rates: [f64; LEVELS as usize], windows: usize) -> SourceSizing {
        let mut s = SourceSizing::new();
        s.climbing = true;
        for _ in 0..windows {
            let level = s.trial.unwrap_or(s.level);
            s.step(rates[level as usize]);
        }
        s
    }

    #[test]
    fn climbs_down_to_the_fastest_target() {
        let s = settle_on([1.0, 1.5, 2.0, 2.5, 2.2, 2.0], 200);
        assert_eq!(s.level(), 3);
    }

    #[test]
    fn stays_at_the_ceiling_when_it_is_fastest() {
        let s = settle_on([3.0, 2.0, 1.5, 1.2, 1.0, 0.8], 200);
        assert_eq!(s.level(), 0);
        // Losing probes back off: the wait has grown to its bound.
        assert_eq!(s.wait, MAX_WAIT);
    }

    #[test]
    fn ignores_differences_within_the_margin() {
        let s = settle_on([1.0, 1.03, 1.04, 1.04, 1.04, 1.04], 200);
        assert_eq!(s.level(), 0);
    }

    #[test]
    fn items_that_own_heap_memory_start_one_level_down_and_stay_below() {
        assert_eq!(SourceSizing::for_items::<u64>().level(), 0);
        assert_eq!(SourceSizing::for_items::<&str>().level(), 0);
        let mut s = SourceSizing::for_items::<Vec<u8>>();
        assert_eq!(s.level(), 1);
        // The ceiling would be fastest, but it is off the ladder.
        s.climbing = true;
        let rates = [9.0, 3.0, 2.0, 1.5, 1.2, 1.0];
        for _ in 0..200 {
            let level = s.trial.unwrap_or(s.level);
            s.step(rates[level as usize]);
        }
        assert_eq!(s.level(), 1);
    }

    #[test]
    fn climbs_back_up_when_smaller_batches_become_slower() {
        let mut s = settle_on([1.0, 1.5, 2.0, 2.5, 2.2, 2.0], 200);
        assert_eq!(s.level(), 3);
        // The workload changes: the ceiling is best now.
        let rates = [4.0, 3.0, 2.0, 1.0, 0.5, 0.3];
        for _ in 0..2000 {
            let level = s.trial.unwrap_or(s.level);
            s.step(rates[level as usize]);
        }
        assert_eq!(s.level(), 0);
    }
}
