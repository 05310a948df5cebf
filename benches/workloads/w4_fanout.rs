//! W4 `fanout`: the SPEC's seed example, scaled. Source `0..N` (i64,
//! N = 5,000,000); fan-out to `x -> (x*2, x) -> x2 - x` and `x -> -x`; fan-in
//! to a serial sink that sums and counts (the count must be 2N). Measures the
//! fan-out/fan-in cost per item.

use super::{batch_channel, item_channel, rayon_pool, scaled, spawn_stage};
use super::{Workload, BATCH};
use para::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;

/// W4 at a given size.
pub struct Fanout {
    n: i64,
}

impl Fanout {
    /// W4 with `N = 5,000,000 * scale` (at least 1,000).
    pub fn new(scale: f64) -> Self {
        Fanout {
            n: scaled(5_000_000, scale, 1_000) as i64,
        }
    }

    /// The checksum of a (sum, count) result; asserts the count is 2N.
    fn checksum(&self, sum: i64, count: u64) -> u64 {
        assert_eq!(
            count,
            2 * self.n as u64,
            "W4: every item reaches the sink from both branches"
        );
        (sum as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(count)
    }
}

impl Workload for Fanout {
    fn id(&self) -> &'static str {
        "W4"
    }

    fn name(&self) -> &'static str {
        "fanout"
    }

    fn items(&self) -> u64 {
        self.n as u64
    }

    fn sequential(&self) -> u64 {
        let (mut sum, mut count) = (0i64, 0u64);
        for x in 0..self.n {
            // The two branches sum to zero: without `black_box` the compiler
            // folds the loop away and there is no per-item work left to time.
            let (x2, x1) = (x * 2, x);
            sum += black_box(x2 - x1);
            sum += black_box(-x);
            count += 2;
        }
        self.checksum(sum, count)
    }

    fn rayon(&self, threads: usize) -> u64 {
        let (sum, count) = rayon_pool(threads).install(|| {
            (0..self.n)
                .into_par_iter()
                .flat_map_iter(|x| {
                    // `black_box` as in the sequential loop: the branches sum
                    // to zero, and rayon's fused loops would fold them away.
                    let (x2, x1) = (x * 2, x);
                    [black_box(x2 - x1), black_box(-x)]
                })
                .map(|x| (x, 1u64))
                .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        self.checksum(sum, count)
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let n = self.n;
        let (left_tx, left_rx) = item_channel::<i64>();
        let (right_tx, right_rx) = item_channel::<i64>();
        let (pair_tx, pair_rx) = item_channel::<(i64, i64)>();
        let (sink_tx, sink_rx) = item_channel::<i64>();
        let (sum, count) = std::thread::scope(|s| {
            s.spawn(move || {
                for x in 0..n {
                    left_tx.send(x).expect("pipeline alive");
                    right_tx.send(x).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, left_rx, pair_tx, |x| (x * 2, x));
            spawn_stage(s, threads, pair_rx, sink_tx.clone(), |(x2, x)| x2 - x);
            spawn_stage(s, threads, right_rx, sink_tx, |x: i64| -x);
            let sink = s.spawn(move || {
                let (mut sum, mut count) = (0i64, 0u64);
                for x in sink_rx {
                    sum += x;
                    count += 1;
                }
                (sum, count)
            });
            sink.join().expect("sink")
        });
        self.checksum(sum, count)
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let n = self.n;
        let (left_tx, left_rx) = batch_channel::<Vec<i64>>(threads);
        let (right_tx, right_rx) = batch_channel::<Vec<i64>>(threads);
        let (pair_tx, pair_rx) = batch_channel::<Vec<(i64, i64)>>(threads);
        let (sink_tx, sink_rx) = batch_channel::<Vec<i64>>(threads);
        let (sum, count) = std::thread::scope(|s| {
            s.spawn(move || {
                let mut start = 0;
                while start < n {
                    let end = (start + BATCH as i64).min(n);
                    let batch: Vec<i64> = (start..end).collect();
                    // Fan-out: a copy to the first branch, the original to the last.
                    left_tx.send(batch.clone()).expect("pipeline alive");
                    right_tx.send(batch).expect("pipeline alive");
                    start = end;
                }
            });
            spawn_stage(s, threads, left_rx, pair_tx, |b: Vec<i64>| {
                b.into_iter().map(|x| (x * 2, x)).collect()
            });
            spawn_stage(
                s,
                threads,
                pair_rx,
                sink_tx.clone(),
                |b: Vec<(i64, i64)>| b.into_iter().map(|(x2, x)| x2 - x).collect(),
            );
            spawn_stage(s, threads, right_rx, sink_tx, |mut b: Vec<i64>| {
                b.iter_mut().for_each(|x| *x = -*x);
                b
            });
            let sink = s.spawn(move || {
                let (mut sum, mut count) = (0i64, 0u64);
                for batch in sink_rx {
                    sum += batch.iter().sum::<i64>();
                    count += batch.len() as u64;
                }
                (sum, count)
            });
            sink.join().expect("sink")
        });
        self.checksum(sum, count)
    }

    fn para(&self, threads: usize) -> u64 {
        let (mut sum, mut count) = (0i64, 0u64);
        pipeline!(threads = threads,
            0..self.n => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| { sum += x; count += 1 });
        self.checksum(sum, count)
    }
}
