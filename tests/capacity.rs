//! `Options::capacity(N)`: the number of items alive inside the graph (from
//! the moment the source yields an item until its last descendant has been
//! through its last stage) never exceeds `N`, however long the input.
//!
//! The tests count liveness themselves: +1 when the source iterator yields
//! (`Iterator::inspect`, which runs after the runtime reserved room), -1 when
//! the sink has seen the last descendant of an item (before the runtime
//! releases its room), so their count can only be below the runtime's.

use para::{Graph, Options};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Items alive by the tests' own count, and the highest count seen.
#[derive(Default)]
struct Alive {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Alive {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// `source -> map -> sink` over `n` items with capacity `capacity`.
fn bounded_chain(n: u64, capacity: usize, threads: usize) {
    let alive = Alive::default();
    let mut count = 0u64;
    let mut sum = 0u64;
    let mut g = Graph::new();
    let src = g.source((0..n).inspect(|_| alive.enter()));
    let m = g.map(src, |x| x ^ 1);
    g.sink(m, |x| {
        alive.leave();
        count += 1;
        sum = sum.wrapping_add(x);
    });
    let report = g.run_with(Options::new().threads(threads).capacity(capacity));
    assert_eq!(count, n);
    assert_eq!(sum, (0..n).fold(0u64, |s, x| s.wrapping_add(x ^ 1)));
    assert_eq!(alive.now.load(Ordering::SeqCst), 0);
    assert!(
        alive.peak() <= capacity,
        "{} items alive at once, capacity {capacity} (threads {threads})",
        alive.peak()
    );
    assert!(
        report.peak_alive() <= capacity,
        "report.peak_alive() {} > capacity {capacity}",
        report.peak_alive()
    );
    assert!(report.peak_alive() >= 1 || n == 0);
}

#[test]
fn ten_million_items_never_exceed_the_capacity() {
    bounded_chain(10_000_000, 1_000, 2);
}

#[test]
fn a_million_items_with_small_capacities() {
    for (capacity, threads) in [(1, 2), (7, 3), (64, 2), (4_096, 4)] {
        bounded_chain(
            1_000_000 / (1 + (capacity < 8) as u64 * 9),
            capacity,
            threads,
        );
    }
}

/// SplitMix64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many copies branch `branch` makes of source item `x` (1 to 3, so
/// every item reaches the sink, which is where the test sees it leave).
fn copies(x: u64, branch: usize) -> u64 {
    1 + mix(x ^ (branch as u64) << 32) % 3
}

/// How the sink of a fan-out case is built.
#[derive(Clone, Copy, Debug)]
enum SinkKind {
    Serial,
    Parallel,
    Ordered,
}

/// `source -> fan_out(branches) -> [flat_map (-> device)] -> fan_in ->
/// sink`: every source item has `sum(copies)` descendants at the sink.
fn fan_out_case(
    n: u64,
    branches: usize,
    capacity: usize,
    threads: usize,
    batch: usize,
    device: bool,
    sink: SinkKind,
) {
    let what = format!(
        "n {n}, branches {branches}, capacity {capacity}, threads {threads}, batch {batch}, \
         device {device}, sink {sink:?}"
    );
    let alive = Alive::default();
    // Descendants of each source item still to reach the sink.
    let remaining: Vec<AtomicU32> = (0..n)
        .map(|x| AtomicU32::new((0..branches).map(|b| copies(x, b) as u32).sum()))
        .collect();
    let seen = AtomicUsize::new(0);
    let arrive = |x: u64| {
        seen.fetch_add(1, Ordering::SeqCst);
        let before = remaining[x as usize].fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "more descendants of {x} than made");
        if before == 1 {
            alive.leave();
        }
    };
    let mut g = Graph::new();
    let src = g.source((0..n).inspect(|_| alive.enter()));
    let ports = g.fan_out(src, branches);
    let outs: Vec<_> = ports
        .into_iter()
        .enumerate()
        .map(|(b, port)| {
            let expanded = g.flat_map(port, move |x| (0..copies(x, b)).map(move |_| x));
            if device && b == 0 {
                g.device(expanded, 1 + b * 5 + capacity % 7, 1, |xs: Vec<u64>| xs)
            } else {
                expanded
            }
        })
        .collect();
    let joined = g.fan_in(outs);
    let sink_id = match sink {
        SinkKind::Serial => g.sink(joined, arrive),
        SinkKind::Parallel => g.parallel_sink(joined, arrive),
        SinkKind::Ordered => {
            let mut last = 0;
            g.ordered_sink(joined, move |x| {
                assert!(x >= last, "ordered sink: {x} after {last}");
                last = x;
                arrive(x)
            })
        }
    };
    let report = g.run_with(
        Options::new()
            .threads(threads)
            .capacity(capacity)
            .batch(batch),
    );
    let expected: u64 = (0..n)
        .map(|x| (0..branches).map(|b| copies(x, b)).sum::<u64>())
        .sum();
    assert_eq!(seen.into_inner() as u64, expected, "{what}");
    assert_eq!(
        report.nodes()[sink_id.index()].items_in(),
        expected,
        "{what}"
    );
    assert!(
        remaining.iter().all(|r| r.load(Ordering::SeqCst) == 0),
        "{what}"
    );
    assert_eq!(alive.now.load(Ordering::SeqCst), 0, "{what}");
    assert!(
        alive.peak() <= capacity,
        "{what}: {} source items alive at once",
        alive.peak()
    );
}

#[test]
fn fan_out_and_flat_map_at_random_capacities() {
    let mut state = 0xCAFE_u64;
    let mut next = move || {
        state = mix(state);
        state
    };
    for case in 0..60 {
        let capacity = 1 + (next() % 64) as usize;
        let threads = 1 + (next() % 8) as usize;
        let branches = 1 + (next() % 3) as usize;
        let batch = 1 + (next() % 300) as usize;
        let device = next() % 3 == 0;
        let sink = match case % 3 {
            0 => SinkKind::Serial,
            1 => SinkKind::Parallel,
            _ => SinkKind::Ordered,
        };
        let n = [0, 1, 2, 5_000, 5_000][(next() % 5) as usize];
        fan_out_case(n, branches, capacity, threads, batch, device, sink);
    }
}

/// Without `capacity`, a run is bounded at `4 * threads * batch` items: a
/// fast source in front of a slow serial sink does not queue its whole
/// input.
#[test]
fn default_capacity_is_four_batches_per_worker() {
    for (threads, batch) in [(1, 16), (2, 64), (4, 32), (3, 1024)] {
        let n = 200_000u64;
        let alive = Alive::default();
        let mut count = 0u64;
        let mut g = Graph::new();
        let src = g.source((0..n).inspect(|_| alive.enter()));
        let m = g.map(src, |x| x + 1);
        g.sink(m, |x| {
            alive.leave();
            count += 1;
            // A slow sink: the source would run far ahead without a bound.
            std::hint::black_box((0..20).fold(x, |a, b| a.wrapping_mul(b | 1)));
        });
        let report = g.run_with(Options::new().threads(threads).batch(batch));
        assert_eq!(count, n);
        let bound = 4 * threads * batch;
        assert!(
            alive.peak() <= bound && report.peak_alive() <= bound,
            "{} items alive at once (report: {}), default bound {bound} \
             (threads {threads}, batch {batch})",
            alive.peak(),
            report.peak_alive()
        );
    }
}
