//! Panic injection: a stage (source iterator, map, filter, flat-map, serial
//! and ordered maps, a fan-out's `Clone`, a device body, serial, ordered and
//! parallel sinks) panics at a chosen item. The run must end, the caller must
//! get the original payload, every item ever created must be dropped exactly
//! once, and the same thread pool must run the next graph normally.

use para::{Graph, Options};
use para_tests::quiet_panics_of;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the injected panic happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    Source,
    Map,
    Filter,
    FlatMap,
    SerialMap,
    OrderedMap,
    Clone,
    Device,
    OrderedSink,
    Sink,
    ParallelSink,
}

const SITES: [Site; 11] = [
    Site::Source,
    Site::Map,
    Site::Filter,
    Site::FlatMap,
    Site::SerialMap,
    Site::OrderedMap,
    Site::Clone,
    Site::Device,
    Site::OrderedSink,
    Site::Sink,
    Site::ParallelSink,
];

/// The payload every injected panic carries (through `panic_any`).
#[derive(Debug, PartialEq, Eq)]
struct Boom {
    site: Site,
    item: u64,
}

/// Per-run counters (tests of this binary run in parallel, so nothing global).
#[derive(Default)]
struct Counters {
    created: AtomicUsize,
    dropped: AtomicUsize,
    sunk: AtomicUsize,
}

/// The plan of one run: where it panics, and from which item on.
struct Plan {
    site: Site,
    /// Items with `v == at` panic at `site`; with `from_on`, every `v >= at`.
    at: u64,
    from_on: bool,
}

impl Plan {
    fn hits(&self, site: Site, v: u64) -> bool {
        self.site == site && (v == self.at || (self.from_on && v > self.at))
    }

    fn check(&self, site: Site, v: u64) {
        if self.hits(site, v) {
            panic_any(Boom { site, item: v });
        }
    }
}

/// An item whose creations (and clones) and drops are counted.
struct Tracked<'c> {
    v: u64,
    counters: &'c Counters,
    plan: &'c Plan,
}

impl<'c> Tracked<'c> {
    fn new(v: u64, counters: &'c Counters, plan: &'c Plan) -> Self {
        counters.created.fetch_add(1, Ordering::SeqCst);
        Tracked { v, counters, plan }
    }
}

impl Clone for Tracked<'_> {
    fn clone(&self) -> Self {
        self.plan.check(Site::Clone, self.v);
        Tracked::new(self.v, self.counters, self.plan)
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.counters.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// SplitMix64, for seeded choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Builds `source -> map -> filter -> flat_map -> serial_map -> ordered_map
/// -> device -> fan_out(2) -> [ordered sink, sink or parallel sink]` over
/// `n` tracked items, every stage checking the plan.
fn build<'c>(n: u64, counters: &'c Counters, plan: &'c Plan, lanes: usize) -> Graph<'c> {
    let mut g = Graph::new();
    let src = g.source((0..n).map(move |v| {
        plan.check(Site::Source, v);
        Tracked::new(v, counters, plan)
    }));
    let m = g.map(src, move |t: Tracked<'c>| {
        plan.check(Site::Map, t.v);
        t
    });
    let f = g.filter(m, move |t| {
        plan.check(Site::Filter, t.v);
        true
    });
    let fm = g.flat_map(f, move |t: Tracked<'c>| {
        plan.check(Site::FlatMap, t.v);
        Some(t)
    });
    let s = g.serial_map(fm, move |t: Tracked<'c>| {
        plan.check(Site::SerialMap, t.v);
        t
    });
    let o = g.ordered_map(s, move |t: Tracked<'c>| {
        plan.check(Site::OrderedMap, t.v);
        t
    });
    let d = g.device(o, 16, lanes, move |ts: Vec<Tracked<'c>>| {
        for t in &ts {
            plan.check(Site::Device, t.v);
        }
        ts
    });
    let mut branches = g.fan_out(d, 2).into_iter();
    let (a, b) = (branches.next().unwrap(), branches.next().unwrap());
    let mut next = 0;
    g.ordered_sink(a, move |t: Tracked<'c>| {
        assert_eq!(t.v, next, "ordered sink out of order");
        next += 1;
        plan.check(Site::OrderedSink, t.v);
        counters.sunk.fetch_add(1, Ordering::SeqCst);
    });
    if plan.site == Site::ParallelSink {
        g.parallel_sink(b, move |t: Tracked<'c>| {
            plan.check(Site::ParallelSink, t.v);
            counters.sunk.fetch_add(1, Ordering::SeqCst);
        });
    } else {
        g.sink(b, move |t: Tracked<'c>| {
            plan.check(Site::Sink, t.v);
            counters.sunk.fetch_add(1, Ordering::SeqCst);
        });
    }
    g
}

/// A normal run on `pool` after a failed one: it must see every item.
fn healthy_run(pool: &rayon_core::ThreadPool, n: u64) {
    let mut sum = 0u64;
    let mut ordered = Vec::new();
    let mut g = Graph::new();
    let src = g.source(0..n);
    let m = g.map(src, |x| x * 2);
    let mut branches = g.fan_out(m, 2).into_iter();
    let (a, b) = (branches.next().unwrap(), branches.next().unwrap());
    g.sink(a, |x| sum += x);
    g.ordered_sink(b, |x| ordered.push(x));
    let report = g.run_with(Options::new().pool(pool).batch(32));
    assert_eq!(sum, n * n.saturating_sub(1));
    assert_eq!(ordered, (0..n).map(|x| x * 2).collect::<Vec<_>>());
    assert_eq!(report.threads(), pool.current_num_threads());
}

/// One injected panic: checks the payload, the drops and the pool.
fn inject(site: Site, threads: usize, seed: u64) {
    let mut rng = Rng(seed);
    let n = 1 + rng.below(3_000);
    let plan = Plan {
        site,
        at: rng.below(n),
        from_on: rng.below(3) == 0,
    };
    let lanes = 1 + rng.below(2) as usize;
    let batch = 1 + rng.below(256) as usize;
    let capacity = (rng.below(2) == 0).then(|| 1 + rng.below(100) as usize);
    let what = format!(
        "site {site:?}, threads {threads}, seed {seed}: n {n}, panic at {}{}, \
         lanes {lanes}, batch {batch}, capacity {capacity:?}",
        plan.at,
        if plan.from_on { " and after" } else { "" }
    );
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let counters = Counters::default();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let g = build(n, &counters, &plan, lanes);
        let mut options = Options::new().pool(&pool).batch(batch);
        if let Some(capacity) = capacity {
            options = options.capacity(capacity);
        }
        g.run_with(options)
    }));
    let payload = match result {
        Ok(_) => panic!("{what}: the run returned normally"),
        Err(payload) => payload,
    };
    let boom = payload
        .downcast::<Boom>()
        .unwrap_or_else(|_| panic!("{what}: the payload is not the stage's"));
    assert_eq!(boom.site, site, "{what}");
    assert!(
        plan.hits(site, boom.item),
        "{what}: payload for item {}",
        boom.item
    );
    let created = counters.created.load(Ordering::SeqCst);
    let dropped = counters.dropped.load(Ordering::SeqCst);
    assert_eq!(
        created, dropped,
        "{what}: {created} items created (clones included), {dropped} dropped"
    );
    assert!(
        counters.sunk.load(Ordering::SeqCst) < 2 * n as usize,
        "{what}"
    );
    healthy_run(&pool, 1 + rng.below(5_000));
}

#[test]
fn every_site_at_every_thread_count() {
    quiet_panics_of::<Boom>();
    let mut seeds = Rng(0xB00B);
    for site in SITES {
        for threads in [1, 2, 3, 4, 8] {
            for _ in 0..3 {
                inject(site, threads, seeds.next());
            }
        }
    }
}

/// The same graph without a panic: every item is sunk twice and dropped, so
/// the counting in the other tests is sound.
#[test]
fn without_a_panic_every_item_is_sunk_and_dropped() {
    for threads in [1, 2, 4] {
        let counters = Counters::default();
        let plan = Plan {
            site: Site::Map,
            at: u64::MAX,
            from_on: false,
        };
        let g = build(2_000, &counters, &plan, 2);
        g.run_with(Options::new().threads(threads).batch(64).capacity(50));
        assert_eq!(counters.sunk.load(Ordering::SeqCst), 4_000);
        // 2,000 from the source and 2,000 clones for the fan-out.
        assert_eq!(counters.created.load(Ordering::SeqCst), 4_000);
        assert_eq!(counters.dropped.load(Ordering::SeqCst), 4_000);
    }
}

/// A one-item run whose only item panics, at the source, in a map, in the
/// ordered sink and in the device body.
#[test]
fn panics_at_the_edges() {
    quiet_panics_of::<Boom>();
    for threads in [1, 2, 5] {
        for site in [Site::Source, Site::Map, Site::OrderedSink, Site::Device] {
            let counters = Counters::default();
            let plan = Plan {
                site,
                at: 0,
                from_on: false,
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                build(1, &counters, &plan, 1).run_with(Options::new().threads(threads))
            }));
            let boom = result
                .expect_err("must panic")
                .downcast::<Boom>()
                .expect("the original payload");
            assert_eq!(*boom, Boom { site, item: 0 });
            assert_eq!(
                counters.created.load(Ordering::SeqCst),
                counters.dropped.load(Ordering::SeqCst)
            );
        }
    }
}

/// Payloads that are not `Boom`: a `&str` and a `String` reach the caller
/// unchanged too (the common `panic!` forms).
#[test]
fn string_payloads_are_resumed_unchanged() {
    quiet_panics_of::<Boom>();
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut g = Graph::new();
        let src = g.source(0..1_000u32);
        let m = g.map(src, |x| {
            if x == 500 {
                std::panic::panic_any("static message");
            }
            x
        });
        g.sink(m, drop);
        g.run_with(Options::new().pool(&pool));
    }));
    let payload = result.expect_err("must panic");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"static message"),
        "a &str payload"
    );
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut g = Graph::new();
        let src = g.source(0..1_000u32);
        let mut seen = 0;
        g.sink(src, |x| {
            seen += 1;
            if x == 999 {
                panic!("formatted {x} after {seen}");
            }
        });
        g.run_with(Options::new().pool(&pool));
    }));
    let payload = result.expect_err("must panic");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("formatted 999 after 1000")
    );
    healthy_run(&pool, 10_000);
}
