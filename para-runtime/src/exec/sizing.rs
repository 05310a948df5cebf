//! How many items a source yields per batch: the batch-size policy.
//!
//! Every node keeps a moving average of its measured cost per item
//! ([`note_cost`]); a source sizes its next batch so that one batch costs
//! about [`TARGET_BATCH_NS`] summed over the stages it passes through,
//! within `1..=batch`. Until a cost is measured a source yields one item at
//! a time, and with one thread it doubles from 1 to `batch` instead, since
//! no timing may influence a single-thread run (it must be deterministic).
//! A serial source also stops reading a batch once reading it has taken
//! longer than the target ([`read_budget`]), so a slow iterator's items are
//! not held back for a whole batch.

use crate::exec::run::Run;
use crate::sync::{AtomicU64, Ordering};
use std::time::Duration;

/// A batch's target duration in one stage: long enough that scheduling (a few
/// hundred ns per batch) is a small fraction, short enough to spread work.
const TARGET_BATCH_NS: u64 = 50_000;

/// Feeds a measured cost per item (ns) into a node's moving average (0 =
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

/// How many items a source of `run` should yield next; `next_doubling` is
/// the source's own doubling state.
pub(crate) fn source_batch_size(run: &Run<'_>, next_doubling: &mut usize) -> usize {
    let doubling = *next_doubling;
    *next_doubling = (doubling * 2).min(run.batch);
    if run.threads == 1 {
        // Deterministic: no timing may influence a single-thread run.
        return doubling;
    }
    let cost: u64 = run
        .cores
        .iter()
        .map(|c| c.cost_ns.load(Ordering::Relaxed))
        .sum();
    if cost == 0 {
        // Nothing measured yet: one item at a time. Doubling here let
        // idle workers take ever larger batches of coarse items before
        // the first one finished (64 zlib chunks at 8 threads: batches
        // of 1, 2, 4, .., 32, and a 1.6x speed-up instead of 2x).
        return 1;
    }
    ((TARGET_BATCH_NS / cost) as usize).clamp(1, run.batch)
}

/// How long a serial source may spend reading one batch before it emits
/// what it has (see `nodes::source::IterSupply`): the batch time target, or
/// `None` with one thread, whose batches must not depend on timing.
pub(crate) fn read_budget(run: &Run<'_>) -> Option<Duration> {
    (run.threads > 1).then_some(Duration::from_nanos(TARGET_BATCH_NS))
}
