//! `fold(init, op)` (SPEC section 1): one accumulator per worker that
//! received items, emitted when the input ends and merged by a serial sink.

use para::prelude::*;
use para_tests::watchdog;
use std::collections::HashMap;

fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split_whitespace()
}

fn count<'a>(mut m: HashMap<&'a str, usize>, w: &'a str) -> HashMap<&'a str, usize> {
    *m.entry(w).or_default() += 1;
    m
}

fn text(lines: usize) -> Vec<String> {
    (0..lines)
        .map(|i| format!("w{} w{} common w{}", i % 7, i % 13, i % 3))
        .collect()
}

/// The word count of the SPEC, with function paths, at 1 to 8 threads: the
/// merged counts equal the sequential ones, and the sink sees at most one
/// accumulator per worker.
#[test]
fn word_count_equals_the_sequential_one() {
    let lines = text(20_000);
    let mut expected: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        for w in words(line) {
            *expected.entry(w).or_default() += 1;
        }
    }
    for threads in [1, 2, 4, 8] {
        let mut total: HashMap<&str, usize> = HashMap::new();
        let mut merged = 0;
        let report = watchdog("word count", || {
            pipeline!(threads = threads,
                lines.iter() => flat_map(|l| words(l)) => fold(HashMap::new, count)
                    => |m| { merged += 1; for (w, n) in m { *total.entry(w).or_default() += n; } })
        });
        assert_eq!(total, expected, "threads = {threads}");
        assert!(
            (1..=threads + 1).contains(&merged),
            "threads = {threads}: {merged} accumulators"
        );
        let fold = &report.nodes()[2];
        assert_eq!(fold.kind(), "fold");
        assert_eq!(fold.items_in(), 4 * 20_000);
        assert_eq!(fold.items_out(), merged as u64);
    }
}

/// A closure `op` takes its parameter types from the upstream stage and the
/// initialiser, as the closure combinators do.
#[test]
fn closure_parameters_are_inferred() {
    let mut sum = 0u64;
    let mut largest = 0u64;
    pipeline!(threads = 4,
        #[split] 0..100_000u64 => |x| x * 3
            => fold(|| (0u64, 0u64), |(s, m), x| (s + x, m.max(x)))
            => |(s, m)| { sum += s; largest = largest.max(m); });
    assert_eq!(sum, 3 * (0..100_000u64).sum::<u64>());
    assert_eq!(largest, 3 * 99_999);
}

/// A fold's accumulators are a new origin: an ordered sink after it sees
/// them (in the builder, even when several sources feed the fold); an
/// empty input makes no accumulator.
#[test]
fn ordered_after_a_fold_and_an_empty_input() {
    let mut out = Vec::new();
    pipeline!(threads = 2, 0..1000u32 => fold(|| 0u32, |a, x| a + x) => #[ordered] |s| out.push(s));
    assert_eq!(out.iter().sum::<u32>(), (0..1000u32).sum::<u32>());
    let mut out = Vec::new();
    let mut g = Graph::new();
    let a = g.source(0..1000u32);
    let b = g.source(1000..2000u32);
    let both = g.fan_in([a, b]);
    let sums = g.fold(both, || 0u32, |a, x| a + x);
    g.ordered_sink(sums, |s| out.push(s));
    g.run_with(Options::new().threads(2));
    assert_eq!(out.iter().sum::<u32>(), (0..2000u32).sum::<u32>());
    let mut seen = 0;
    pipeline!(Vec::<u32>::new() => fold(|| 0u32, |a, x| a + x) => |_s| seen += 1);
    assert_eq!(seen, 0);
}

/// Under a small capacity the fold gives its items' room back as it folds
/// them, so a long input never stalls.
#[test]
fn a_small_capacity_does_not_stall() {
    for threads in [1, 2, 4] {
        let mut total = 0u64;
        watchdog("fold under capacity 4", || {
            pipeline!(threads = threads, capacity = 4,
                0..200_000u64 => fold(|| 0u64, |a, x| a + x) => |s| total += s)
        });
        assert_eq!(total, (0..200_000u64).sum::<u64>());
    }
}

/// A panic in `op` ends the run with its payload; the pool works after.
#[test]
fn a_panic_in_op_reaches_the_caller() {
    let caught = std::panic::catch_unwind(|| {
        pipeline!(threads = 2, 0..10_000u32 => fold(|| 0u32, |a, x| {
            if x == 5_000 { panic!("bad item {x}") }
            a.wrapping_add(x)
        }) => |_s| ())
    });
    let payload = caught.expect_err("the fold panicked");
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "bad item 5000");
    let mut n = 0;
    pipeline!(threads = 2, 0..100u32 => fold(|| 0u32, |a, _x| a + 1) => |s| n += s);
    assert_eq!(n, 100);
}

/// A fold into a stream: the accumulators come out of the iterator.
#[test]
fn a_fold_can_end_in_a_stream() {
    let sums: Vec<u64> =
        pipeline!(threads = 4, 0..10_000u64 => fold(|| 0u64, |a, x| a + x) => yield).collect();
    assert_eq!(sums.iter().sum::<u64>(), (0..10_000u64).sum::<u64>());
}

/// A fold inside a stage of another pipeline and inside a rayon job, at 1
/// and 8 threads with a small capacity: each inner run gives its sum.
#[test]
fn a_fold_inside_a_stage_and_inside_a_rayon_job() {
    fn sum_to(n: u64, threads: usize) -> u64 {
        let mut total = 0;
        pipeline!(threads = threads, capacity = 8,
            0..n => fold(|| 0u64, |a, x| a + x) => |s| total += s);
        total
    }
    for threads in [1, 8] {
        let mut total = 0;
        watchdog("fold inside a stage", || {
            pipeline!(threads = threads, 1..=6u64 => |k| sum_to(k * 1000, threads) => |s| total += s);
        });
        let expected: u64 = (1..=6u64).map(|k| (0..k * 1000).sum::<u64>()).sum();
        assert_eq!(total, expected, "threads = {threads}");
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (a, b) = watchdog("fold inside a rayon job", || {
            pool.install(|| {
                rayon_core::join(|| sum_to(10_000, threads), || sum_to(20_000, threads))
            })
        });
        assert_eq!((a, b), ((0..10_000).sum(), (0..20_000).sum()));
    }
}

/// What a word splits into, as a function path (a non-closure `flat_map`
/// argument).
fn letters(word: &str) -> std::str::Chars<'_> {
    word.chars()
}

/// Adds a letter's code to a sum (a non-closure `fold` operation).
fn add_code(sum: u64, c: char) -> u64 {
    sum + c as u64
}

/// A per-item stage right before a `fold` runs fused with it (one loop, no
/// batch between them): every such pair, with closures and with function
/// paths, gives what the same two stages give unfused through the builder
/// (`Graph::flat_map` then `Graph::fold`), at 1 to 8 threads; both stages
/// keep their own rows in the report, with the same counts.
#[test]
fn fused_pairs_give_what_the_unfused_stages_give() {
    let words: Vec<String> = (0..5_000)
        .map(|i| format!("w{}x{}", i % 97, i % 5))
        .collect();
    let unfused = |threads: usize| {
        let mut sum = 0u64;
        let mut g = Graph::new();
        let src = g.source(words.iter());
        let letters = g.flat_map(src, |w: &String| letters(w));
        let sums = g.fold(letters, || 0u64, add_code);
        g.sink(sums, |s| sum += s);
        let report = g.run_with(Options::new().threads(threads));
        (sum, report)
    };
    for threads in [1, 2, 4, 8] {
        let (want, unfused_report) = unfused(threads);
        let mut runs = Vec::new();
        let mut sum = 0;
        let report = pipeline!(threads = threads,
            words.iter() => 'split: flat_map(|w: &String| letters(w)) => 'total: fold(|| 0u64, add_code)
                => |s| sum += s);
        runs.push(("flat_map closure", sum, report));
        let mut sum = 0;
        let report = pipeline!(threads = threads,
            words.iter() => |w: &String| w.as_str() => 'split: flat_map(letters)
                => 'total: fold(|| 0u64, |a, c| a + c as u64) => |s| sum += s);
        runs.push(("flat_map path", sum, report));
        for (what, sum, report) in &runs {
            assert_eq!(*sum, want, "{what}, threads = {threads}");
            let split = report.node("split").expect("the flat_map keeps its row");
            let total = report.node("total").expect("the fold keeps its row");
            assert_eq!(split.kind(), "flat_map");
            assert_eq!(total.kind(), "fold");
            assert_eq!(split.items_in(), words.len() as u64, "{what}");
            assert_eq!(split.items_out(), unfused_report.nodes()[1].items_out());
            assert_eq!(total.items_in(), split.items_out(), "{what}");
            // One more: the batch of accumulators it emits at the end.
            assert_eq!(total.batches(), split.batches() + 1, "{what}");
            assert!(report.edges().contains(&(split.id(), total.id())));
        }
    }
    // The other per-item stages, against the sequential loop.
    let xs: Vec<u64> = (0..50_000).collect();
    for threads in [1, 3] {
        let mut got = [0u64; 5];
        let mut seen = std::sync::atomic::AtomicU64::new(0);
        pipeline!(threads = threads, xs.clone() => |x| x * 2 => fold(|| 0u64, |a, x| a + x) => |s| got[0] += s);
        pipeline!(threads = threads, xs.clone() => filter(|x| x % 3 == 0) => fold(|| 0u64, |a, x| a + x) => |s| got[1] += s);
        pipeline!(threads = threads, xs.clone()
            => filter_map(|x| (x % 5 == 0).then_some(x / 5)) => fold(|| 0u64, |a, x| a + x) => |s| got[2] += s);
        let report = pipeline!(threads = threads, xs.clone()
            => inspect(|x| { seen.fetch_add(*x, std::sync::atomic::Ordering::Relaxed); })
            => fold(|| 0u64, |a, x| a + x) => |s| got[3] += s);
        got[4] = *seen.get_mut();
        let n = xs.len() as u64;
        let sum: u64 = xs.iter().sum();
        assert_eq!(got[0], 2 * sum, "map, threads = {threads}");
        assert_eq!(
            got[1],
            xs.iter().filter(|x| *x % 3 == 0).sum::<u64>(),
            "filter"
        );
        assert_eq!(
            got[2],
            xs.iter()
                .filter(|x| *x % 5 == 0)
                .map(|x| x / 5)
                .sum::<u64>(),
            "filter_map"
        );
        assert_eq!((got[3], got[4]), (sum, sum), "inspect");
        let kinds: Vec<&str> = report.nodes().iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, ["source", "inspect", "fold", "sink"]);
        assert_eq!(
            (report.nodes()[1].items_out(), report.nodes()[2].items_in()),
            (n, n)
        );
    }
}

/// A fused pair whose fold ends in `yield`: the accumulators come out of
/// the stream, and the report (after the last one) has both stages.
#[test]
fn a_fused_pair_can_end_in_a_stream() {
    let mut sums = pipeline!(threads = 3,
        0..10_000u64 => 'odd: filter(|x| x % 2 == 1) => 'sum: fold(|| 0u64, |a, x| a + x) => yield);
    let total: u64 = sums.by_ref().sum();
    assert_eq!(total, (0..10_000u64).filter(|x| x % 2 == 1).sum::<u64>());
    let report = sums.report().expect("the run ended");
    let odd = report.node("odd").unwrap();
    assert_eq!((odd.kind(), odd.items_out()), ("filter", 5_000));
    assert_eq!(report.node("sum").unwrap().items_in(), 5_000);
}

/// Pairs that are not fused still fold what they should: a fold fed by a
/// fan-in, a stage whose output also goes elsewhere, and a stage with an
/// attribute.
#[test]
fn pairs_that_are_not_fused_still_fold() {
    let mut sums = [0u64; 3];
    let mut copies = 0u64;
    pipeline!(threads = 2,
        0..1000u64 => |x| x + 1 => 'f: fold(|| 0u64, |a, x| a + x) => |s| sums[0] += s;
        0..10u64 => 'f);
    pipeline!(threads = 2,
        0..1000u64 => |x| x + 1 => (fold(|| 0u64, |a, x| a + x) => |s| sums[1] += s, |x| copies += x));
    pipeline!(threads = 2,
        0..1000u64 => #[replicate(1)] |x| x + 1 => fold(|| 0u64, |a, x| a + x) => |s| sums[2] += s);
    let ones: u64 = (1..=1000u64).sum();
    assert_eq!(sums, [ones + 45, ones, ones]);
    assert_eq!(copies, ones);
}

/// Child half of [`a_panic_in_a_fused_pair_names_both_stages`]: runs the
/// pipeline the variable names, which panics in the `flat_map` or in the
/// fold's `op`.
#[test]
fn fused_panic_child() {
    let Ok(which) = std::env::var("PARA_FUSED_PANIC") else {
        return; // run as the child only
    };
    let result = std::panic::catch_unwind(|| {
        pipeline!(threads = 2,
            0..10_000u32 => 'split: flat_map(|x| {
                if which == "split" && x == 5_000 { panic!("split failed") }
                [x, x]
            }) => 'add: fold(|| 0u32, |a, x| {
                if which == "add" && x == 7_000 { panic!("add failed") }
                a.wrapping_add(x)
            }) => |_s| ())
    });
    let payload = result.expect_err("the run panicked");
    let message = payload.downcast_ref::<&str>().expect("a literal payload");
    assert_eq!(*message, format!("{which} failed"));
}

/// A panic in either closure of a fused pair reaches the caller with its
/// payload, and the runtime's message on stderr names both stages (the
/// fused loop does not mark which closure is running: see `nodes::fold`).
#[test]
fn a_panic_in_a_fused_pair_names_both_stages() {
    for which in ["split", "add"] {
        let stderr = para_tests::child_test_stderr("fused_panic_child", "PARA_FUSED_PANIC", which);
        let line = "para: stage 'split' (flat_map #1, run fused with 'add' (fold #2)) panicked";
        assert!(stderr.contains(line), "no {line:?} in: {stderr}");
        assert_eq!(stderr.matches("para: stage").count(), 1, "{stderr}");
    }
}

/// A fused pair under many sizes, thread counts and capacities (a
/// capacity of 1 makes every batch a single item, and the fold's
/// accumulators wait for room): the sum and the counts are always exact.
#[test]
fn fused_pairs_under_many_sizes_threads_and_capacities() {
    for threads in [1, 2, 3, 8] {
        for capacity in [1, 7, 1 << 14] {
            for n in [0u64, 1, 999, 30_000] {
                let mut total = 0u64;
                let report = watchdog("fused pair", || {
                    pipeline!(threads = threads, capacity = capacity,
                        0..n => 'pairs: flat_map(|x| [x, x + 1]) => 'sum: fold(|| 0u64, |a, x| a + x)
                            => |s| total += s)
                });
                let want: u64 = (0..n).map(|x| 2 * x + 1).sum();
                let at = format!("threads {threads}, capacity {capacity}, n {n}");
                assert_eq!(total, want, "{at}");
                assert_eq!(report.node("pairs").unwrap().items_out(), 2 * n, "{at}");
                assert_eq!(report.node("sum").unwrap().items_in(), 2 * n, "{at}");
            }
        }
    }
}

/// A fused pair inside a stage of another pipeline and inside a rayon job,
/// at 1 and 8 threads with a small capacity: each inner run gives its sum,
/// and a panic in an inner fused loop reaches the outer caller.
#[test]
fn a_fused_pair_inside_a_stage_and_inside_a_rayon_job() {
    fn doubled_sum(n: u64, threads: usize) -> u64 {
        let mut total = 0;
        pipeline!(threads = threads, capacity = 8,
            0..n => flat_map(|x| [x, x]) => fold(|| 0u64, |a, x| a + x) => |s| total += s);
        total
    }
    for threads in [1, 8] {
        let mut total = 0;
        watchdog("fused pair inside a stage", || {
            pipeline!(threads = threads, 1..=6u64 => |k| doubled_sum(k * 1000, threads) => |s| total += s);
        });
        let expected: u64 = (1..=6u64).map(|k| 2 * (0..k * 1000).sum::<u64>()).sum();
        assert_eq!(total, expected, "threads = {threads}");
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (a, b) = watchdog("fused pair inside a rayon job", || {
            pool.install(|| {
                rayon_core::join(
                    || doubled_sum(10_000, threads),
                    || doubled_sum(20_000, threads),
                )
            })
        });
        assert_eq!(
            (a, b),
            (2 * (0..10_000).sum::<u64>(), 2 * (0..20_000).sum::<u64>())
        );
        para_tests::quiet_panics_of::<&str>();
        let caught = std::panic::catch_unwind(|| {
            pipeline!(threads = threads, 0..4u32 => |k| {
                let mut inner = 0u32;
                pipeline!(threads = threads, 0..1000u32 => filter(|x| x % 2 == 0)
                    => fold(|| 0u32, |a, x| if k == 2 && x == 500 { panic!("inner fold") } else { a + x })
                    => |s| inner += s);
                inner
            } => |_s| ())
        });
        let payload = caught.expect_err("the inner fold panicked");
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "inner fold");
    }
}
