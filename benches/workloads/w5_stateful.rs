//! W5 `stateful`: source `0..N` (N = 200,000); a parallel stage of ~2 µs of
//! arithmetic; a stateful serial stage `h = (h ^ x) * 0x100000001b3` plus
//! ~0.5 µs of arithmetic; a serial sink. Measures whether the serial stage
//! is kept busy: the bound is max(2 µs / threads, 0.5 µs, 2.5 µs / cores)
//! per item.
//!
//! The arithmetic is a spin loop whose iteration counts are calibrated once
//! when the workload is built, so every implementation in a run does exactly
//! the same work. The serial stage is `#[serial]`, not ordered, so the final
//! `h` depends on the order items reach it: it is computed (and kept alive
//! with `black_box`) but not checksummed. The checksum is the wrapping sum of
//! the serial stage's outputs, each a function of its item alone.

use super::Workload;
use super::{batch_channel, item_channel, rayon_pool, scaled, send_batches, spawn_stage};
use para::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Instant;

/// The parallel stage's nominal cost (benches/README.md: ~2 µs).
pub const PARALLEL_NS: f64 = 2000.0;
/// The serial stage's nominal cost (benches/README.md: ~0.5 µs).
pub const SERIAL_NS: f64 = 500.0;

/// The FNV-1a 64 prime of the stateful stage's update.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// `iters` rounds of a 64-bit LCG step and an xorshift: a dependent chain the
/// compiler cannot shorten.
fn spin(mut v: u64, iters: u32) -> u64 {
    for _ in 0..iters {
        v = v
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(0x1405_7b7e_f767_814f);
        v ^= v >> 29;
    }
    v
}

/// Nanoseconds per [`spin`] iteration on this machine: the fastest of a few
/// timed runs (the least disturbed by other processes).
fn calibrate() -> f64 {
    const ITERS: u32 = 1_000_000;
    (0..7)
        .map(|_| {
            let started = Instant::now();
            black_box(spin(black_box(1), black_box(ITERS)));
            started.elapsed().as_secs_f64() * 1e9 / f64::from(ITERS)
        })
        .fold(f64::INFINITY, f64::min)
}

/// W5 at a given size, with its calibrated spin counts.
pub struct Stateful {
    n: u64,
    /// Spin iterations of the parallel stage (~2 µs).
    parallel_iters: u32,
    /// Spin iterations of the serial stage (~0.5 µs).
    serial_iters: u32,
}

impl Stateful {
    /// W5 with `N = 200,000 * scale` (at least 100); calibrates the spin loop.
    pub fn new(scale: f64) -> Self {
        let ns_per_iter = calibrate();
        Stateful {
            n: scaled(200_000, scale, 100),
            parallel_iters: (PARALLEL_NS / ns_per_iter).round().max(1.0) as u32,
            serial_iters: (SERIAL_NS / ns_per_iter).round().max(1.0) as u32,
        }
    }

    /// The calibrated iteration counts (parallel stage, serial stage).
    fn iterations(&self) -> (u32, u32) {
        (self.parallel_iters, self.serial_iters)
    }

    /// The per-item bound in ns: max(2 µs / threads, 0.5 µs, 2.5 µs /
    /// min(threads, cores)). benches/README.md writes the last term with
    /// `cores`, for runs with at least as many threads as cores; with fewer
    /// threads the 2.5 µs of work per item are shared by `threads` only
    /// (at 1 thread the bound is the sequential loop's 2.5 µs, not 2).
    pub fn bound_ns(threads: usize, cores: usize) -> f64 {
        (PARALLEL_NS / threads as f64)
            .max(SERIAL_NS)
            .max((PARALLEL_NS + SERIAL_NS) / threads.min(cores) as f64)
    }
}

impl Workload for Stateful {
    fn id(&self) -> &'static str {
        "W5"
    }

    fn name(&self) -> &'static str {
        "stateful"
    }

    fn items(&self) -> u64 {
        self.n
    }

    fn sequential(&self) -> u64 {
        let (a, b) = self.iterations();
        let (mut h, mut sum) = (0u64, 0u64);
        for x in 0..self.n {
            let p = spin(x, a);
            h = (h ^ p).wrapping_mul(PRIME);
            sum = sum.wrapping_add(spin(p, b));
        }
        black_box(h);
        sum
    }

    fn rayon(&self, threads: usize) -> u64 {
        // The idiomatic rayon version: the parallel stage with par_iter over a
        // chunk of the input, then the stateful stage as a plain loop over the
        // chunk's results. Chunks keep memory bounded; the serial loop does not
        // overlap the next chunk's parallel work (rayon has no pipeline), so
        // its bound is 2 µs / threads + 0.5 µs per item.
        const CHUNK: u64 = 4096;
        let (a, b) = self.iterations();
        let pool = rayon_pool(threads);
        let (mut h, mut sum) = (0u64, 0u64);
        let mut start = 0;
        while start < self.n {
            let end = (start + CHUNK).min(self.n);
            let ps: Vec<u64> =
                pool.install(|| (start..end).into_par_iter().map(|x| spin(x, a)).collect());
            for p in ps {
                h = (h ^ p).wrapping_mul(PRIME);
                sum = sum.wrapping_add(spin(p, b));
            }
            start = end;
        }
        black_box(h);
        sum
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let (a, b) = self.iterations();
        let n = self.n;
        let (src_tx, work_rx) = item_channel();
        let (work_tx, serial_rx) = item_channel();
        let (serial_tx, sink_rx) = item_channel::<u64>();
        std::thread::scope(|s| {
            s.spawn(move || {
                for x in 0..n {
                    src_tx.send(x).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, work_rx, work_tx, move |x| spin(x, a));
            s.spawn(move || {
                let mut h = 0u64;
                for p in serial_rx {
                    h = (h ^ p).wrapping_mul(PRIME);
                    serial_tx.send(spin(p, b)).expect("pipeline alive");
                }
                black_box(h);
            });
            let sink = s.spawn(move || sink_rx.into_iter().fold(0, u64::wrapping_add));
            sink.join().expect("sink")
        })
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let (a, b) = self.iterations();
        let n = self.n;
        let (src_tx, work_rx) = batch_channel(threads);
        let (work_tx, serial_rx) = batch_channel::<(u64, Vec<u64>)>(threads);
        let (serial_tx, sink_rx) = batch_channel::<Vec<u64>>(threads);
        std::thread::scope(|s| {
            s.spawn(move || send_batches(0..n, &src_tx));
            spawn_stage(
                s,
                threads,
                work_rx,
                work_tx,
                move |(seq, mut batch): (u64, Vec<u64>)| {
                    batch.iter_mut().for_each(|x| *x = spin(*x, a));
                    (seq, batch)
                },
            );
            s.spawn(move || {
                let mut h = 0u64;
                for (_, mut batch) in serial_rx {
                    for p in batch.iter_mut() {
                        h = (h ^ *p).wrapping_mul(PRIME);
                        *p = spin(*p, b);
                    }
                    serial_tx.send(batch).expect("pipeline alive");
                }
                black_box(h);
            });
            let sink = s.spawn(move || {
                let mut sum = 0u64;
                for batch in sink_rx {
                    sum = batch.iter().fold(sum, |s, &x| s.wrapping_add(x));
                }
                sum
            });
            sink.join().expect("sink")
        })
    }

    fn para(&self, threads: usize) -> u64 {
        let (a, b) = self.iterations();
        let (mut h, mut sum) = (0u64, 0u64);
        pipeline!(threads = threads,
            0..self.n
            => |x| spin(x, a)
            => #[serial] |p| {
                h = (h ^ p).wrapping_mul(PRIME);
                spin(p, b)
            }
            => |s| sum = sum.wrapping_add(s));
        black_box(h);
        sum
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "spin loop calibrated to {} iterations (~2 µs) and {} (~0.5 µs)",
            self.parallel_iters, self.serial_iters
        ))
    }
}
