//! Two closure maps in a row run as one loop (`Graph::map_then`, what
//! `pipeline!` builds for `|x| .. => |y| ..`): the same items, order and
//! report as two maps, no batch written out between them.

use para::prelude::*;
use para_tests::watchdog;

/// A fused pair gives what the same two maps give unfused through the
/// builder (`Graph::map` twice), at 1 to 8 threads: the same sum, and both
/// maps keep their own rows (kind, items in and out, batches) and the edge
/// between them.
#[test]
fn fused_maps_give_what_the_unfused_maps_give() {
    let n = 50_000u64;
    for threads in [1, 2, 4, 8] {
        let mut want = 0u64;
        let mut g = Graph::new();
        let src = g.source(0..n);
        let doubled = g.map(src, |x: u64| x * 2);
        let shifted = g.map(doubled, |y: u64| y ^ (y >> 3));
        g.sink(shifted, |s| want = want.wrapping_add(s));
        let unfused = g.run_with(Options::new().threads(threads));

        let mut got = 0u64;
        let report = pipeline!(threads = threads,
            0..n => 'double: |x: u64| x * 2 => 'shift: |y: u64| y ^ (y >> 3) => |s| got = got.wrapping_add(s));
        assert_eq!(got, want, "threads = {threads}");
        let double = report.node("double").expect("the first map keeps its row");
        let shift = report.node("shift").expect("the second map keeps its row");
        for (map, row) in [(double, &unfused.nodes()[1]), (shift, &unfused.nodes()[2])] {
            assert_eq!(map.kind(), "map");
            assert_eq!(
                (map.items_in(), map.items_out()),
                (n, n),
                "threads = {threads}"
            );
            assert_eq!((row.items_in(), row.items_out()), (n, n));
        }
        assert_eq!(double.batches(), shift.batches(), "threads = {threads}");
        assert!(report.edges().contains(&(double.id(), shift.id())));
        let kinds: Vec<&str> = report.nodes().iter().map(|r| r.kind()).collect();
        assert_eq!(kinds, ["source", "map", "map", "sink"]);
    }
}

/// Chains of maps are fused in pairs from the front; with an odd count the
/// last map runs on its own. Every map counts every item, and the result is
/// the sequential one, with function paths between closures too.
#[test]
fn chains_of_maps_fuse_in_pairs_and_keep_every_row() {
    fn inc(x: u64) -> u64 {
        x + 1
    }
    let n = 20_000u64;
    let want = |k: u64| (0..n).map(|x| (x + k) * 3).sum::<u64>();
    for threads in [1, 3] {
        let mut sums = [0u64; 4];
        let three = pipeline!(threads = threads,
            0..n => |x| x + 1 => |x| x * 3 => |x| x + 3 - 3 => |s| sums[0] += s);
        let four = pipeline!(threads = threads,
            0..n => |x| x + 1 => |x| x + 1 => |x| x * 3 => |x| x => |s| sums[1] += s);
        let five = pipeline!(threads = threads,
            0..n => |x| x + 1 => |x| x + 1 => |x| x + 1 => |x| x * 3 => |x| x => |s| sums[2] += s);
        // A function path is a map on its own, between two pairs.
        pipeline!(threads = threads,
            0..n => |x| x + 1 => |x| x => inc => |x| x * 3 => |x| x => |s| sums[3] += s);
        assert_eq!(
            sums,
            [want(1), want(2), want(3), want(2)],
            "threads = {threads}"
        );
        for report in [&three, &four, &five] {
            let maps = &report.nodes()[1..report.nodes().len() - 1];
            assert!(maps.iter().all(|m| m.kind() == "map"));
            assert!(
                maps.iter().all(|m| (m.items_in(), m.items_out()) == (n, n)),
                "threads = {threads}"
            );
        }
    }
}

/// A fused pair between a fan-in and a fan-out, feeding an ordered sink on
/// one branch: every item arrives, the ordered branch in source order.
#[test]
fn a_fused_pair_between_a_fan_in_and_a_fan_out_keeps_order() {
    for threads in [1, 2, 8] {
        let mut ordered = Vec::new();
        let mut total = 0u64;
        pipeline!(threads = threads,
            0..5_000u64 => |x| x * 2 => |x| x + 1 => (#[ordered] |x| ordered.push(x), |x| total += x));
        let expected: Vec<u64> = (0..5_000u64).map(|x| x * 2 + 1).collect();
        assert_eq!(ordered, expected, "threads = {threads}");
        assert_eq!(total, expected.iter().sum::<u64>());

        let mut joined = 0u64;
        let mut count = 0u64;
        pipeline!(threads = threads,
            0..3_000u64 => 'join: |x| x + 1 => |x| x * 2 => |x| { joined += x; count += 1 };
            10_000..10_500u64 => 'join);
        let want: u64 = (0..3_000u64)
            .chain(10_000..10_500)
            .map(|x| (x + 1) * 2)
            .sum();
        assert_eq!((joined, count), (want, 3_500), "threads = {threads}");
    }
}

/// A fused pair of large items (4 KiB buffers, made by the first map and
/// consumed by the second) under many sizes, thread counts and capacities:
/// the sum and the counts are always exact.
#[test]
fn fused_pairs_of_large_items_under_many_sizes_threads_and_capacities() {
    for threads in [1, 2, 3, 8] {
        for capacity in [1, 7, 1 << 14] {
            for n in [0u64, 1, 999, 20_000] {
                let mut total = 0u64;
                let report = watchdog("fused maps", || {
                    pipeline!(threads = threads, capacity = capacity,
                        #[split] 0..n => 'make: |i| vec![i as u8; 4096]
                            => 'sum: |v: Vec<u8>| v.iter().map(|&b| u64::from(b)).sum::<u64>()
                            => |s| total += s)
                });
                let want: u64 = (0..n).map(|i| 4096 * u64::from(i as u8)).sum();
                let at = format!("threads {threads}, capacity {capacity}, n {n}");
                assert_eq!(total, want, "{at}");
                assert_eq!(report.node("make").unwrap().items_out(), n, "{at}");
                assert_eq!(report.node("sum").unwrap().items_in(), n, "{at}");
            }
        }
    }
}

/// Child half of [`a_panic_in_a_fused_pair_of_maps_names_both`]: runs the
/// pipeline, which panics in the first or the second map.
#[test]
fn fused_maps_panic_child() {
    let Ok(which) = std::env::var("PARA_FUSED_MAPS_PANIC") else {
        return; // run as the child only
    };
    let result = std::panic::catch_unwind(|| {
        pipeline!(threads = 2,
            0..10_000u32 => 'double: |x| {
                if which == "double" && x == 5_000 { panic!("double failed") }
                x * 2
            } => 'add: |x| {
                if which == "add" && x == 7_000 { panic!("add failed") }
                x + 1
            } => |_s| ())
    });
    let payload = result.expect_err("the run panicked");
    let message = payload.downcast_ref::<&str>().expect("a literal payload");
    assert_eq!(*message, format!("{which} failed"));
}

/// A panic in either map of a fused pair reaches the caller with its
/// payload, and the runtime's message on stderr names both maps (the fused
/// loop does not mark which closure is running, as a fused fold's does not).
#[test]
fn a_panic_in_a_fused_pair_of_maps_names_both() {
    for which in ["double", "add"] {
        let stderr =
            para_tests::child_test_stderr("fused_maps_panic_child", "PARA_FUSED_MAPS_PANIC", which);
        let line = "para: stage 'double' (map #1, run fused with 'add' (map #2)) panicked";
        assert!(stderr.contains(line), "no {line:?} in: {stderr}");
        assert_eq!(stderr.matches("para: stage").count(), 1, "{stderr}");
    }
}

/// A fused pair inside a stage of another pipeline and inside a rayon job,
/// at 1 and 8 threads with a small capacity: each inner run gives its sum,
/// and a panic in an inner fused loop reaches the outer caller.
#[test]
fn a_fused_pair_of_maps_inside_a_stage_and_inside_a_rayon_job() {
    fn odd_sum(n: u64, threads: usize) -> u64 {
        let mut total = 0;
        pipeline!(threads = threads, capacity = 8,
            0..n => |x| x * 2 => |x| x + 1 => |s| total += s);
        total
    }
    let want = |n: u64| (0..n).map(|x| 2 * x + 1).sum::<u64>();
    for threads in [1, 8] {
        let mut total = 0;
        watchdog("fused maps inside a stage", || {
            pipeline!(threads = threads, 1..=6u64 => |k| odd_sum(k * 1000, threads) => |s| total += s);
        });
        assert_eq!(total, (1..=6u64).map(|k| want(k * 1000)).sum::<u64>());
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (a, b) = watchdog("fused maps inside a rayon job", || {
            pool.install(|| {
                rayon_core::join(|| odd_sum(10_000, threads), || odd_sum(20_000, threads))
            })
        });
        assert_eq!((a, b), (want(10_000), want(20_000)));
        para_tests::quiet_panics_of::<&str>();
        let caught = std::panic::catch_unwind(|| {
            pipeline!(threads = threads, 0..4u32 => |k| {
                let mut inner = 0u32;
                pipeline!(threads = threads, 0..1000u32 => |x| x + 1
                    => |x| if k == 2 && x == 500 { panic!("inner map") } else { x }
                    => |s| inner += s);
                inner
            } => |_s| ())
        });
        let payload = caught.expect_err("the inner map panicked");
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "inner map");
    }
}
