//! Items waiting in a partial group are alive (SPEC section 1: "an item is
//! alive from the moment its source yields it until its last stage
//! returns"), so `capacity` bounds them too: a `batch(n)` stage or a
//! `#[gpu(batch = n)]` stage with `n` above the capacity emits its group
//! partial instead of holding `n` items.
//!
//! The items count themselves: +1 when made (inside the source iterator,
//! after the runtime reserved room for it), -1 when dropped (inside the
//! sink, before the runtime releases the room), so their count can only be
//! below the runtime's and must never exceed the capacity. No allowance:
//! these graphs have no fan-out and no flat-map (the only ways more units
//! than source items enter a graph).
//!
//! Environment: `PARA_GROUPS_ITEMS` (items per run, default 20,000) and
//! `PARA_GROUPS_ROUNDS` (how many times each case runs, default 1) for long
//! local runs.

use para::prelude::*;
use para::{Graph, Options};
use para_tests::{env_usize, watchdog};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Items alive by their own count, and the highest count seen.
#[derive(Default)]
struct Live {
    now: AtomicUsize,
    peak: AtomicUsize,
    made: AtomicUsize,
}

/// An item that counts itself in a [`Live`].
struct Item<'a> {
    live: &'a Live,
    id: usize,
}

impl<'a> Item<'a> {
    fn new(live: &'a Live) -> Self {
        let now = live.now.fetch_add(1, Ordering::SeqCst) + 1;
        live.peak.fetch_max(now, Ordering::SeqCst);
        let id = live.made.fetch_add(1, Ordering::SeqCst);
        Item { live, id }
    }
}

impl Drop for Item<'_> {
    fn drop(&mut self) {
        self.live.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks a finished run: every item arrived once, the groups add up to
/// the input, and no more than `capacity` were alive at once.
fn check(what: &str, live: &Live, seen: &[bool], grouped: usize, capacity: usize) {
    let n = seen.len();
    assert_eq!(live.made.load(Ordering::SeqCst), n, "{what}");
    assert_eq!(live.now.load(Ordering::SeqCst), 0, "{what}: items leaked");
    assert_eq!(grouped, n, "{what}: the groups' total");
    assert!(seen.iter().all(|&s| s), "{what}: an item never arrived");
    let peak = live.peak.load(Ordering::SeqCst);
    assert!(
        peak <= capacity,
        "{what}: {peak} items alive at once, capacity {capacity}"
    );
}

const CAPACITIES: [usize; 3] = [4, 16, 1000];
const GROUPS: [usize; 6] = [1, 3, 16, 100, 1000, 100_000];

/// The reproducer, as written (`pipeline!`, two threads).
#[test]
fn the_reproducer_keeps_the_bound() {
    let n = env_usize("PARA_GROUPS_ITEMS", 20_000);
    for capacity in CAPACITIES {
        let live = Live::default();
        let mut groups = 0;
        let what = format!("pipeline! capacity {capacity}, batch(100_000)");
        watchdog(&what, || {
            pipeline!(threads = 2, capacity = capacity,
                (0..n).map(|_| Item::new(&live)) => batch(100_000) => |g: Vec<Item>| groups += g.len());
        });
        let peak = live.peak.load(Ordering::SeqCst);
        assert_eq!(groups, n, "{what}");
        assert!(peak <= capacity, "{what}: {peak} alive");
    }
}

/// `batch(size)` at every capacity, thread count and group size: the
/// bound holds, each item arrives once, and no group exceeds its size.
#[test]
fn batch_groups_keep_the_bound() {
    let n = env_usize("PARA_GROUPS_ITEMS", 20_000);
    for _ in 0..env_usize("PARA_GROUPS_ROUNDS", 1) {
        for threads in [1, 2, 5] {
            for capacity in CAPACITIES {
                for size in GROUPS {
                    let what = format!("threads {threads}, capacity {capacity}, batch({size})");
                    let live = Live::default();
                    let mut seen = vec![false; n];
                    let mut grouped = 0;
                    watchdog(&what, || {
                        let mut g = Graph::new();
                        let src = g.source((0..n).map(|_| Item::new(&live)));
                        let groups = g.batch(src, size);
                        g.sink(groups, |group: Vec<Item>| {
                            assert!(!group.is_empty() && group.len() <= size);
                            grouped += group.len();
                            for item in group {
                                assert!(!std::mem::replace(&mut seen[item.id], true));
                            }
                        });
                        g.run_with(Options::new().threads(threads).capacity(capacity));
                    });
                    check(&what, &live, &seen, grouped, capacity);
                }
            }
        }
    }
}

/// The same through `unbatch` and an ordered sink: the regrouped batches
/// keep their sequence numbers, so the ordered sink sees source order.
#[test]
fn groups_cut_at_the_bound_stay_in_order() {
    let n = env_usize("PARA_GROUPS_ITEMS", 20_000);
    for threads in [1, 3] {
        for capacity in CAPACITIES {
            for size in [7, 5_000] {
                let what = format!("threads {threads}, capacity {capacity}, batch({size})");
                let live = Live::default();
                let mut seen = vec![false; n];
                let mut next = 0;
                watchdog(&what, || {
                    let mut g = Graph::new();
                    let src = g.source((0..n).map(|_| Item::new(&live)));
                    let groups = g.batch(src, size);
                    let items = g.unbatch(groups);
                    g.ordered_sink(items, |item: Item| {
                        assert_eq!(item.id, next, "out of order");
                        next += 1;
                        seen[item.id] = true;
                    });
                    g.run_with(Options::new().threads(threads).capacity(capacity));
                });
                check(&what, &live, &seen, next, capacity);
            }
        }
    }
}

/// `#[gpu(batch = N)]`: items in the accumulator and in jobs waiting for a
/// lane are alive too.
#[test]
fn device_batches_keep_the_bound() {
    let n = env_usize("PARA_GROUPS_ITEMS", 20_000) / 2;
    for threads in [1, 2, 4] {
        for capacity in CAPACITIES {
            for size in GROUPS {
                for lanes in [1, 2] {
                    let what = format!(
                        "threads {threads}, capacity {capacity}, device batch {size}, \
                         lanes {lanes}"
                    );
                    let live = Live::default();
                    let mut seen = vec![false; n];
                    let mut count = 0;
                    watchdog(&what, || {
                        let mut g = Graph::new();
                        let src = g.source((0..n).map(|_| Item::new(&live)));
                        let out = g.device(src, size, lanes, move |xs: Vec<Item>| {
                            assert!(!xs.is_empty() && xs.len() <= size);
                            xs
                        });
                        g.sink(out, |item: Item| {
                            count += 1;
                            assert!(!std::mem::replace(&mut seen[item.id], true));
                        });
                        g.run_with(Options::new().threads(threads).capacity(capacity));
                    });
                    check(&what, &live, &seen, count, capacity);
                }
            }
        }
    }
}

/// `#[gpu(batch = N)]` through the macro, as users write it.
#[test]
fn gpu_attribute_keeps_the_bound() {
    let n = env_usize("PARA_GROUPS_ITEMS", 20_000) / 2;
    for capacity in CAPACITIES {
        let live = Live::default();
        let mut count = 0;
        let what = format!("pipeline! capacity {capacity}, #[gpu(batch = 100_000)]");
        watchdog(&what, || {
            pipeline!(threads = 2, capacity = capacity,
                (0..n).map(|_| Item::new(&live))
                => #[gpu(batch = 100_000)] |xs: Vec<Item>| xs
                => |_item: Item| count += 1);
        });
        let peak = live.peak.load(Ordering::SeqCst);
        assert_eq!(count, n, "{what}");
        assert!(peak <= capacity, "{what}: {peak} alive");
    }
}

/// A stage that panics while groups are partial (below the bound and at
/// it) ends the run with its payload, and every item, the ones waiting in a
/// group included, is dropped once.
#[test]
fn a_panic_with_partial_groups_drops_every_item() {
    for threads in [1, 2, 8] {
        for capacity in [4, 1000] {
            let live = Live::default();
            let what = format!("panic: threads {threads}, capacity {capacity}");
            let caught = watchdog(&what, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut groups = 0;
                    pipeline!(threads = threads, capacity = capacity,
                        (0..10_000).map(|_| Item::new(&live))
                            => |item: Item| {
                                if item.id == 5_000 {
                                    panic!("item 5000");
                                }
                                item
                            }
                            => batch(7) => |g: Vec<Item>| groups += g.len());
                }))
            });
            let payload = caught.expect_err(&what);
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"item 5000"), "{what}");
            assert_eq!(live.now.load(Ordering::SeqCst), 0, "{what}: items leaked");
            let peak = live.peak.load(Ordering::SeqCst);
            assert!(peak <= capacity, "{what}: {peak} alive at once");
        }
    }
}
