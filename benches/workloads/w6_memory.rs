//! W6 `memory`: source `0..N` (N = 2,000,000) yielding a fresh 4 KiB
//! `Vec<u8>` each; parallel stage: the byte sum; serial sink adds. Measures
//! peak memory (VmHWM), which must not grow with N; the table binary measures
//! it in a child process per implementation, at N and 10 N.

use super::Workload;
use super::{batch_channel, item_channel, rayon_pool, scaled, send_batches, spawn_stage};
use para::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;

/// Bytes per item.
const ITEM_BYTES: usize = 4096;

/// Item `i`: a fresh 4 KiB buffer. `black_box` keeps the allocation and the
/// fill from being folded into the byte sum.
fn fresh(i: u64) -> Vec<u8> {
    black_box(vec![i as u8; ITEM_BYTES])
}

/// The parallel stage: the sum of the bytes.
fn byte_sum(v: &[u8]) -> u64 {
    v.iter().map(|&b| u64::from(b)).sum()
}

/// W6 at a given size.
pub struct Memory {
    n: u64,
}

impl Memory {
    /// W6 with `N = 2,000,000 * scale` (at least 100).
    pub fn new(scale: f64) -> Self {
        Memory {
            n: scaled(2_000_000, scale, 100),
        }
    }

    /// W6 with exactly `n` items (the memory child process).
    pub fn with_items(n: u64) -> Self {
        Memory { n }
    }
}

impl Workload for Memory {
    fn id(&self) -> &'static str {
        "W6"
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn items(&self) -> u64 {
        self.n
    }

    fn sequential(&self) -> u64 {
        let mut sum = 0u64;
        for i in 0..self.n {
            sum += byte_sum(&fresh(i));
        }
        sum
    }

    fn rayon(&self, threads: usize) -> u64 {
        // Idiomatic rayon has no serial source: each worker makes its items.
        rayon_pool(threads).install(|| {
            (0..self.n)
                .into_par_iter()
                .map(|i| byte_sum(&fresh(i)))
                .sum()
        })
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let n = self.n;
        let (src_tx, work_rx) = item_channel::<Vec<u8>>();
        let (work_tx, sink_rx) = item_channel::<u64>();
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..n {
                    src_tx.send(fresh(i)).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, work_rx, work_tx, |v: Vec<u8>| byte_sum(&v));
            let sink = s.spawn(move || sink_rx.into_iter().sum());
            sink.join().expect("sink")
        })
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let n = self.n;
        let (src_tx, work_rx) = batch_channel::<(u64, Vec<Vec<u8>>)>(threads);
        let (work_tx, sink_rx) = batch_channel::<u64>(threads);
        std::thread::scope(|s| {
            s.spawn(move || send_batches((0..n).map(fresh), &src_tx));
            spawn_stage(
                s,
                threads,
                work_rx,
                work_tx,
                |(_, batch): (u64, Vec<Vec<u8>>)| batch.iter().map(|v| byte_sum(v)).sum::<u64>(),
            );
            let sink = s.spawn(move || sink_rx.into_iter().sum());
            sink.join().expect("sink")
        })
    }

    fn para(&self, threads: usize) -> u64 {
        let mut sum = 0u64;
        pipeline!(threads = threads, (0..self.n).map(fresh) => |v| byte_sum(&v) => |s| sum += s);
        sum
    }
}
