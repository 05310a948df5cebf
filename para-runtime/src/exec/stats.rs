//! Per-node statistics: one row per node per thread, filled without
//! synchronisation and merged when the thread stops, and the sampling that
//! keeps the clock off the hot path.

use std::time::{Duration, Instant};

/// Counters of one node, one row per worker or lane, merged at the end.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeStats {
    pub(crate) items_in: u64,
    pub(crate) items_out: u64,
    pub(crate) batches: u64,
    /// Time measured in the batches that were timed (see [`NodeStats::timer`]).
    pub(crate) busy: Duration,
    pub(crate) timed_batches: u64,
    /// The last timed batch was long: time every batch (the clock is then
    /// cheap next to the work, and coarse batches vary the most).
    slow: bool,
}

/// A batch's start time, when the batch is one of those timed.
pub(crate) struct Timer(Option<Instant>);

/// A timed batch: when it started and how long it took.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) started: Instant,
    pub(crate) busy: Duration,
}

impl Timer {
    /// Times this batch whatever the sampling (device jobs: few and long).
    pub(crate) fn always() -> Self {
        Timer(Some(Instant::now()))
    }
}

/// Fine batches are timed one in `TIME_EVERY` (after the first
/// `TIME_EVERY`): reading the clock costs about 25 ns here, twice per batch
/// per stage, which was a tenth of a 3-stage chain's per-batch cost.
const TIME_EVERY: u64 = 8;
const _: () = assert!(TIME_EVERY.is_power_of_two());

/// A timed batch at least this long makes the next one timed too.
const SLOW_BATCH: Duration = Duration::from_micros(20);

impl NodeStats {
    /// Starts timing the node's next batch if it is one of those sampled.
    pub(crate) fn timer(&self) -> Timer {
        // `TIME_EVERY` is a power of two: the mask is `% TIME_EVERY`.
        let timed = self.slow || self.batches < TIME_EVERY || self.batches & (TIME_EVERY - 1) == 0;
        Timer(timed.then(Instant::now))
    }

    /// Records a batch; returns its start and duration when it was timed.
    pub(crate) fn record(
        &mut self,
        items_in: usize,
        items_out: usize,
        timer: Timer,
    ) -> Option<Sample> {
        self.items_in += items_in as u64;
        self.items_out += items_out as u64;
        self.batches += 1;
        let Timer(Some(started)) = timer else {
            return None;
        };
        let busy = started.elapsed();
        self.busy += busy;
        self.timed_batches += 1;
        self.slow = busy >= SLOW_BATCH;
        Some(Sample { started, busy })
    }

    /// Times every batch of this node from now on (a traced run: every
    /// batch is a slice of the trace).
    pub(crate) fn time_every_batch(&mut self) {
        self.slow = true;
    }

    /// Busy time over all batches, extrapolated from the timed ones.
    pub(crate) fn busy_estimate(&self) -> Duration {
        if self.timed_batches == 0 || self.timed_batches == self.batches {
            return self.busy;
        }
        let scale = self.batches as f64 / self.timed_batches as f64;
        self.busy.mul_f64(scale)
    }

    /// Adds another thread's row of the same node.
    pub(crate) fn merge(&mut self, other: &NodeStats) {
        self.items_in += other.items_in;
        self.items_out += other.items_out;
        self.batches += other.batches;
        self.busy += other.busy_estimate();
    }
}
