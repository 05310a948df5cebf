//! Every feature of the runtime, driven through the public `para::Graph`
//! builder, at several thread counts.

use para::{Graph, Options};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const THREADS: [usize; 4] = [1, 2, 3, 8];

#[test]
fn three_stage_chain_sums_every_item_once() {
    for threads in THREADS {
        let mut sum = 0u64;
        let mut count = 0;
        let mut g = Graph::new();
        let src = g.source(0..100_000u64);
        let a = g.map(src, |x| x * 3);
        let b = g.map(a, |x| x + 1);
        g.sink(b, |x| {
            sum += x;
            count += 1
        });
        let report = g.run_with(Options::new().threads(threads));
        assert_eq!(count, 100_000);
        assert_eq!(sum, (0..100_000u64).map(|x| x * 3 + 1).sum());
        assert_eq!(report.nodes()[3].items_in(), 100_000);
        assert_eq!(report.threads(), threads);
    }
}

#[test]
fn seed_diamond_fans_out_and_in() {
    for threads in THREADS {
        let data = vec![0i64, 1, 2];
        let mut sum = 0;
        let mut seen = 0;
        let mut g = Graph::new();
        let src = g.source(data);
        let mut branches = g.fan_out(src, 2).into_iter();
        let a = g.map(branches.next().unwrap(), |x| (x * 2, x));
        let a = g.map(a, |(x2, x)| x2 - x);
        let b = g.map(branches.next().unwrap(), |x: i64| -x);
        let joined = g.fan_in([a, b]);
        g.sink(joined, |x| {
            sum += x;
            seen += 1;
        });
        g.run_with(Options::new().threads(threads));
        assert_eq!((sum, seen), (0, 6));
    }
}

#[test]
fn ordered_sink_sees_source_order_after_filter_and_flat_map() {
    for threads in THREADS {
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source(0..20_000u32);
        let slow = g.map(src, |x| {
            if x % 97 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            x
        });
        let kept = g.filter(slow, |x| x % 3 != 0);
        let expanded = g.flat_map(kept, |x| (0..x % 4).map(move |k| (x, k)));
        g.ordered_sink(expanded, |item| out.push(item));
        g.run_with(Options::new().threads(threads).batch(64));
        let expected: Vec<(u32, u32)> = (0..20_000u32)
            .filter(|x| x % 3 != 0)
            .flat_map(|x| (0..x % 4).map(move |k| (x, k)))
            .collect();
        assert_eq!(out, expected, "threads = {threads}");
    }
}

#[test]
fn ordered_through_a_diamond_interleaves_branches_per_item() {
    for threads in THREADS {
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source(0..5_000i64);
        let mut b = g.fan_out(src, 3).into_iter();
        let left = g.filter(b.next().unwrap(), |x| x % 2 == 0);
        let mid = g.flat_map(b.next().unwrap(), |x| vec![x * 10; (x % 3) as usize]);
        let right = g.map(b.next().unwrap(), |x| -x);
        let joined = g.fan_in([left, mid, right]);
        g.ordered_sink(joined, |x| out.push(x));
        g.run_with(Options::new().threads(threads).batch(32));
        let mut expected = Vec::new();
        for x in 0..5_000i64 {
            if x % 2 == 0 {
                expected.push(x);
            }
            expected.extend(vec![x * 10; (x % 3) as usize]);
            expected.push(-x);
        }
        assert_eq!(out, expected, "threads = {threads}");
    }
}

#[test]
fn ordered_map_then_ordered_sink() {
    let mut out = Vec::new();
    let mut g = Graph::new();
    let src = g.source(0..10_000u32);
    let m = g.map(src, |x| x + 1);
    let mut last = 0;
    let checked = g.ordered_map(m, move |x| {
        assert!(x > last);
        last = x;
        x
    });
    let evens = g.filter(checked, |x| x % 2 == 0);
    g.ordered_sink(evens, |x| out.push(x));
    g.run_with(Options::new().threads(4).batch(16));
    assert_eq!(out, (1..=10_000).filter(|x| x % 2 == 0).collect::<Vec<_>>());
}

#[test]
fn take_passes_exactly_the_first_n_and_stops_the_source() {
    for threads in THREADS {
        let produced = AtomicUsize::new(0);
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source((0..u64::MAX).inspect(|_| {
            produced.fetch_add(1, Ordering::Relaxed);
        }));
        let doubled = g.map(src, |x| x * 2);
        let first = g.take(doubled, 1000);
        g.sink(first, |x| out.push(x));
        g.run_with(Options::new().threads(threads));
        out.sort_unstable();
        assert_eq!(out, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        assert!(produced.load(Ordering::Relaxed) < 1_000_000);
    }
}

#[test]
fn take_while_is_ordered() {
    let mut out = Vec::new();
    let mut g = Graph::new();
    let src = g.source(0..1_000_000u32);
    let small = g.take_while(src, |&x| x < 5000);
    g.ordered_sink(small, |x| out.push(x));
    g.run_with(Options::new().threads(4));
    assert_eq!(out, (0..5000).collect::<Vec<_>>());
}

#[test]
fn batch_and_unbatch_round_trip_in_order() {
    let mut groups = Vec::new();
    let mut g = Graph::new();
    let src = g.source(0..1003u32);
    let grouped = g.batch(src, 10);
    let sizes = g.inspect(grouped, |v| assert!(!v.is_empty() && v.len() <= 10));
    let mut fan = g.fan_out(sizes, 2).into_iter();
    g.ordered_sink(fan.next().unwrap(), |v: Vec<u32>| groups.push(v));
    let flat = g.unbatch(fan.next().unwrap());
    let mut total = 0;
    g.sink(flat, |x| total += x);
    g.run_with(Options::new().threads(3));
    let flat: Vec<u32> = groups.concat();
    assert_eq!(flat, (0..1003).collect::<Vec<_>>());
    assert_eq!(groups.iter().filter(|g| g.len() < 10).count(), 1);
    assert_eq!(total, (0..1003).sum());
}

#[test]
fn split_sources_of_every_kind() {
    for threads in THREADS {
        let mut g = Graph::new();
        let mut sum = 0u64;
        let src = g.split_source(0..50_000u64);
        g.sink(src, |x| sum += x);
        g.run_with(Options::new().threads(threads));
        assert_eq!(sum, (0..50_000u64).sum());

        let data: Vec<u32> = (0..10_000).collect();
        let mut sum = 0u64;
        let mut g = Graph::new();
        let src = g.split_source(&data[..]);
        let m = g.map(src, |x: &u32| *x as u64);
        g.sink(m, |x| sum += x);
        g.run_with(Options::new().threads(threads));
        assert_eq!(sum, (0..10_000u64).sum());

        let owned: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.split_source(owned);
        let lens = g.map(src, |s: String| s.parse::<u32>().unwrap());
        g.ordered_sink(lens, |x| out.push(x));
        g.run_with(Options::new().threads(threads));
        assert_eq!(out, (0..5_000).collect::<Vec<_>>());
    }
}

/// `#[split] -100i8..100`: a signed range across zero has 200 items (its
/// length once overflowed `i8`), and the parts the workers produce are the
/// sequential range cut up, whatever the batch size.
#[test]
fn split_signed_ranges_across_zero_and_at_the_ends_of_the_type() {
    for threads in THREADS {
        for batch in [1, 7, 2048] {
            let mut sum = 0i64;
            let mut order = Vec::new();
            let mut g = Graph::new();
            let src = g.split_source(-100i8..100);
            let fanned = g.fan_out(src, 2);
            let [to_sum, to_order] = <[_; 2]>::try_from(fanned).unwrap();
            g.sink(to_sum, |x: i8| sum += i64::from(x));
            g.ordered_sink(to_order, |x: i8| order.push(x));
            g.run_with(Options::new().threads(threads).batch(batch));
            assert_eq!(sum, (-100i64..100).sum());
            assert_eq!(order, (-100i8..100).collect::<Vec<_>>());
        }

        let mut top = Vec::new();
        let mut g = Graph::new();
        let src = g.split_source(i64::MAX - 1000..i64::MAX);
        g.ordered_sink(src, |x| top.push(x));
        g.run_with(Options::new().threads(threads).batch(16));
        assert_eq!(top, (i64::MAX - 1000..i64::MAX).collect::<Vec<_>>());
    }
}

#[test]
fn serial_map_keeps_state_and_never_runs_twice_at_once() {
    let inside = AtomicUsize::new(0);
    let mut g = Graph::new();
    let src = g.source(0..20_000u32);
    let mut running_total = 0u64;
    let prefix = g.serial_map(src, |x| {
        assert_eq!(
            inside.fetch_add(1, Ordering::SeqCst),
            0,
            "two workers in a serial stage"
        );
        running_total += x as u64;
        inside.fetch_sub(1, Ordering::SeqCst);
        running_total
    });
    let mut max = 0;
    g.sink(prefix, |t| max = max.max(t));
    g.run_with(Options::new().threads(8));
    assert_eq!(max, (0..20_000u64).sum());
}

#[test]
fn replicate_bounds_concurrency() {
    let inside = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let mut g = Graph::new();
    let src = g.source(0..2_000u32);
    let work = g.map(src, |x| {
        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_micros(20));
        inside.fetch_sub(1, Ordering::SeqCst);
        x
    });
    g.replicate(work.node(), 2);
    let mut n = 0;
    g.sink(work, |_| n += 1);
    g.run_with(Options::new().threads(6).batch(4));
    assert_eq!(n, 2_000);
    assert!(peak.load(Ordering::SeqCst) <= 2);
}

#[test]
fn parallel_sink_and_several_sources() {
    let total = AtomicUsize::new(0);
    let mut g = Graph::new();
    let a = g.source(0..1000usize);
    let b = g.source(vec![5usize; 100]);
    let c = g.split_source(0..10usize);
    let all = g.fan_in([a, b, c]);
    g.parallel_sink(all, |x| total.fetch_add(x, Ordering::Relaxed));
    g.run_with(Options::new().threads(4));
    assert_eq!(total.into_inner(), (0..1000).sum::<usize>() + 500 + 45);
}

#[test]
fn device_stage_batches_and_keeps_order_downstream() {
    for threads in THREADS {
        let sizes = Mutex::new(Vec::new());
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source(0..10_000u32);
        let dev = g.device(src, 100, 2, |xs: Vec<u32>| {
            sizes.lock().unwrap().push(xs.len());
            xs.into_iter().map(|x| x as u64 * 2).collect()
        });
        g.ordered_sink(dev, |x| out.push(x));
        g.run_with(Options::new().threads(threads).batch(256));
        assert_eq!(out, (0..10_000u64).map(|x| x * 2).collect::<Vec<_>>());
        let sizes = sizes.into_inner().unwrap();
        assert!(sizes.iter().all(|&s| s > 0 && s <= 100));
        assert_eq!(sizes.iter().sum::<usize>(), 10_000);
    }
}

#[test]
fn device_stage_with_state_and_partial_batches() {
    let mut calls = 0;
    let mut total = 0;
    let mut g = Graph::new();
    let src = g.source(0..1_001u32);
    let dev = g.device_mut(src, 1024, |xs: Vec<u32>| {
        calls += 1;
        xs
    });
    g.sink(dev, |x| total += x);
    g.run_with(Options::new().threads(2).capacity(10));
    assert_eq!(total, (0..1_001).sum());
    assert!(calls >= 1);
}

#[test]
#[should_panic(expected = "returned 0 items for a batch of")]
fn device_stage_losing_items_is_an_error() {
    let mut g = Graph::new();
    let src = g.source(0..100u32);
    let dev = g.device(src, 10, 1, |_xs: Vec<u32>| Vec::<u32>::new());
    g.sink(dev, drop);
    g.run_with(Options::new().threads(2));
}

#[test]
fn capacity_bounds_items_alive() {
    for threads in [1, 2, 4] {
        let alive = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut g = Graph::new();
        let src = g.source((0..200_000u32).inspect(|_| {
            let now = alive.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
        }));
        let m = g.map(src, |x| x ^ 1);
        g.sink(m, |_| {
            alive.fetch_sub(1, Ordering::SeqCst);
        });
        let report = g.run_with(Options::new().threads(threads).capacity(100));
        assert!(
            peak.load(Ordering::SeqCst) <= 100,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
        assert!(report.peak_alive() <= 100);
    }
}

#[test]
fn runs_in_a_given_pool_and_the_current_pool() {
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut n = 0;
    let mut g = Graph::new();
    let src = g.source(0..1000);
    g.sink(src, |_| n += 1);
    let report = g.run_with(Options::new().pool(&pool));
    assert_eq!((n, report.threads()), (1000, 3));

    // From inside the pool, with the default options: the current pool.
    let n = pool.install(|| {
        let mut n = 0;
        let mut g = Graph::new();
        let src = g.source(0..1000);
        g.sink(src, |_| n += 1);
        let report = g.run();
        assert_eq!(report.threads(), 3);
        n
    });
    assert_eq!(n, 1000);
}

#[test]
fn one_thread_is_deterministic() {
    let trace = || {
        let log = Mutex::new(Vec::new());
        let mut g = Graph::new();
        let src = g.source(0..3_000u32);
        let a = g.map(src, |x| {
            log.lock().unwrap().push(('a', x));
            x
        });
        let mut f = g.fan_out(a, 2).into_iter();
        let b = g.filter(f.next().unwrap(), |x| {
            log.lock().unwrap().push(('b', *x));
            x % 2 == 0
        });
        let c = g.device(f.next().unwrap(), 7, 2, |xs: Vec<u32>| {
            log.lock().unwrap().push(('d', xs.len() as u32));
            xs
        });
        let j = g.fan_in([b, c]);
        g.sink(j, |x| log.lock().unwrap().push(('s', x)));
        g.run_with(Options::new().threads(1));
        log.into_inner().unwrap()
    };
    let first = trace();
    assert_eq!(
        first.len(),
        3_000 * 2 + 1_500 + 3_000 + 3_000usize.div_ceil(7)
    );
    for _ in 0..5 {
        assert_eq!(trace(), first);
    }
}

#[test]
fn priorities_are_accepted_and_runs_complete() {
    let mut out = 0;
    let mut g = Graph::new();
    let src = g.source(0..10_000u32);
    let a = g.map(src, |x| x + 1);
    g.priority(a.node(), 5).label(a.node(), "plus one");
    let b = g.map(a, |x| x * 2);
    g.priority(b.node(), -3);
    g.sink(b, |x| out += x as u64);
    let report = g.run_with(Options::new().threads(3));
    assert_eq!(out, (1..=10_000u64).map(|x| x * 2).sum());
    assert_eq!(report.node("plus one").unwrap().items_in(), 10_000);
}

#[test]
fn stages_borrow_the_callers_stack() {
    let words = ["alpha".to_string(), "beta".to_string(), "gamma".to_string()];
    let lookup = std::collections::HashMap::from([("alpha", 1), ("beta", 2), ("gamma", 3)]);
    let mut total = 0;
    let mut g = Graph::new();
    let src = g.source(words.iter());
    let vals = g.map(src, |w: &String| lookup[w.as_str()]);
    g.sink(vals, |v| total += v);
    g.run_with(Options::new().threads(2));
    assert_eq!(total, 6);
    assert_eq!(words.len(), 3);
}

#[test]
fn empty_sources_and_empty_graphs_end() {
    let mut g = Graph::new();
    let src = g.source(Vec::<u8>::new());
    let m = g.map(src, |x| x);
    g.ordered_sink(m, |_| panic!("no items"));
    g.run_with(Options::new().threads(2));
    Graph::new().run_with(Options::new().threads(2));
    let mut g = Graph::new();
    let s = g.split_source(0..0u8);
    g.sink(s, |_| panic!("no items"));
    g.run();
}

#[test]
fn report_counts_and_draws() {
    let mut g = Graph::new();
    let src = g.source(0..500u32);
    g.label(src.node(), "numbers");
    let f = g.filter(src, |x| x % 5 == 0);
    g.sink(f, drop);
    let report = g.run_with(Options::new().threads(2));
    let filter = &report.nodes()[1];
    assert_eq!((filter.items_in(), filter.items_out()), (500, 100));
    assert_eq!(report.nodes()[0].items_out(), 500);
    let text = report.to_string();
    assert!(text.contains("numbers") && text.contains("filter"));
    assert!(report.to_dot().contains("n0 -> n1"));
}

#[test]
#[should_panic(expected = "reached from several sources")]
fn ordered_after_two_sources_is_rejected() {
    let mut g = Graph::new();
    let a = g.source(0..10);
    let b = g.source(0..10);
    let j = g.fan_in([a, b]);
    g.ordered_sink(j, drop);
    g.run();
}

#[test]
#[should_panic(expected = "threads = 0")]
fn zero_threads_is_rejected() {
    let mut g = Graph::new();
    let a = g.source(0..10);
    g.sink(a, drop);
    g.run_with(Options::new().threads(0));
}

#[test]
#[should_panic(expected = "capacity = 0")]
fn zero_capacity_is_rejected() {
    let mut g = Graph::new();
    let a = g.source(0..10);
    g.sink(a, drop);
    g.run_with(Options::new().capacity(0));
}

#[test]
fn batch_size_adapts_to_the_cost_of_items() {
    // Cheap items: batches grow to the `batch` bound.
    let mut g = Graph::new();
    let src = g.source(0..200_000u32);
    let m = g.map(src, |x| x.wrapping_mul(3));
    g.sink(m, drop);
    let report = g.run_with(Options::new().threads(2).batch(512));
    let cheap = &report.nodes()[1];
    assert!(
        cheap.batches() * 100 < cheap.items_in(),
        "{} batches for {} cheap items",
        cheap.batches(),
        cheap.items_in()
    );
    // Costly items (1 ms each): batches stay small so workers share them.
    let mut g = Graph::new();
    let src = g.source(0..40u32);
    let m = g.map(src, |x| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        x
    });
    g.sink(m, drop);
    let report = g.run_with(Options::new().threads(2).batch(512));
    let costly = &report.nodes()[1];
    assert!(
        costly.batches() * 2 >= costly.items_in(),
        "{} batches for {} costly items",
        costly.batches(),
        costly.items_in()
    );
}

/// A `Split` whose `split_at` lies about the lengths of its parts.
struct LyingSplit(u32);

impl para::Split for LyingSplit {
    type Item = u32;
    type Iter = std::ops::Range<u32>;
    fn split_len(&self) -> usize {
        self.0 as usize
    }
    fn split_at(self, index: usize) -> (Self, Self) {
        // Wrong: the front part should hold `index` items.
        (
            LyingSplit(index as u32 + 1),
            LyingSplit(self.0 - index as u32),
        )
    }
    fn into_items(self) -> Self::Iter {
        0..self.0
    }
}

#[test]
#[should_panic(expected = "Split::split_at")]
fn inconsistent_split_lengths_are_a_clear_panic() {
    let mut g = Graph::new();
    let src = g.split_source(LyingSplit(1000));
    g.sink(src, drop);
    g.run_with(Options::new().threads(2));
}

/// A chain deeper than a worker nests stages inline (they hand batches on
/// inline up to a depth, then queue them): every item still arrives once.
#[test]
fn long_chains_past_the_inline_depth_lose_nothing() {
    for threads in THREADS {
        for batch in [1, 7, 2048] {
            let mut g = Graph::new();
            let mut port = g.source(0..20_000u64);
            for _ in 0..40 {
                port = g.map(port, |x: u64| x + 1);
            }
            let mut sum = 0u64;
            let mut count = 0u64;
            g.sink(port, |x| {
                sum += x;
                count += 1;
            });
            g.run_with(Options::new().threads(threads).batch(batch));
            assert_eq!(count, 20_000, "threads {threads}, batch {batch}");
            assert_eq!(sum, (0..20_000u64).map(|x| x + 40).sum::<u64>());
        }
    }
}

/// Batch buffers are reused across stages and fan-out copies: owned,
/// heap-allocated items come through intact, each exactly once, and every
/// one is dropped.
#[test]
fn recycled_batch_buffers_keep_owned_items_intact() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Tracked(String);
    impl Clone for Tracked {
        fn clone(&self) -> Self {
            Tracked(self.0.clone())
        }
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    for threads in THREADS {
        DROPPED.store(0, Ordering::Relaxed);
        let n = 30_000usize;
        let mut seen = vec![0u8; 2 * n];
        let mut g = Graph::new();
        let src = g.source((0..n).map(|i| Tracked(format!("item-{i}"))));
        let [a, b] = <[_; 2]>::try_from(g.fan_out(src, 2)).unwrap();
        let a = g.map(a, |t: Tracked| Tracked(format!("{}-a", t.0)));
        let b = g.map(b, |t: Tracked| Tracked(format!("{}-b", t.0)));
        let both = g.fan_in([a, b]);
        g.sink(both, |t: Tracked| {
            let (body, branch) = t.0.rsplit_once('-').expect("suffix");
            let i: usize = body["item-".len()..].parse().expect("index");
            let slot = if branch == "a" { 2 * i } else { 2 * i + 1 };
            seen[slot] += 1;
        });
        g.run_with(Options::new().threads(threads).batch(64));
        assert!(seen.iter().all(|&c| c == 1), "threads {threads}");
        // n sources, n clones, 2n map outputs: every one dropped once.
        assert_eq!(DROPPED.load(Ordering::Relaxed), 4 * n, "threads {threads}");
    }
}
