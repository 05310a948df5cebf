//! W1 `fine`: source `0..N` (u64, N = 20,000,000), two parallel maps of about
//! 1 ns each, a serial sink taking the wrapping sum. Measures the per-item
//! scheduling cost. Variant: the same stages ending in a bare stream, summed
//! by a `for` loop.

use super::{batch_channel, item_channel, rayon_pool, scaled, send_batches, spawn_stage};
use super::{Variant, Workload};
use para::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;

/// Stage a of benches/README.md W1.
fn stage_a(x: u64) -> u64 {
    x.wrapping_mul(2654435761).wrapping_add(1)
}

/// Stage b of benches/README.md W1.
fn stage_b(x: u64) -> u64 {
    x ^ (x >> 7)
}

/// W1 at a given size.
pub struct Fine {
    n: u64,
}

impl Fine {
    /// W1 with `N = 20,000,000 * scale` (at least 1,000).
    pub fn new(scale: f64) -> Self {
        Fine {
            n: scaled(20_000_000, scale, 1_000),
        }
    }
}

impl Fine {
    /// W1 ending in a bare stream (`yield`): the stages run in the
    /// background and a `for` loop on the calling thread takes the sum. The
    /// stages borrow nothing, so the run needs no scope (`Graph::spawn`).
    /// (The builder form of `pipeline!(threads = T, 0..n => a => b => yield)`.)
    fn para_stream(&self, threads: usize) -> u64 {
        let mut g = Graph::new();
        let src = g.source(0..self.n);
        let a = g.map(src, stage_a);
        let b = g.map(a, stage_b);
        let out = g.stream(b);
        let mut sum = 0u64;
        for x in g.spawn_with(out, Options::new().threads(threads)) {
            sum = sum.wrapping_add(x);
        }
        sum
    }
}

impl Workload for Fine {
    fn id(&self) -> &'static str {
        "W1"
    }

    fn name(&self) -> &'static str {
        "fine"
    }

    fn items(&self) -> u64 {
        self.n
    }

    fn sequential(&self) -> u64 {
        let mut sum = 0u64;
        for x in 0..black_box(self.n) {
            sum = sum.wrapping_add(stage_b(stage_a(x)));
        }
        sum
    }

    fn rayon(&self, threads: usize) -> u64 {
        rayon_pool(threads).install(|| {
            (0..self.n)
                .into_par_iter()
                .map(stage_a)
                .map(stage_b)
                .reduce(|| 0, u64::wrapping_add)
        })
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let n = self.n;
        let (src_tx, a_rx) = item_channel();
        let (a_tx, b_rx) = item_channel();
        let (b_tx, sink_rx) = item_channel();
        std::thread::scope(|s| {
            s.spawn(move || {
                for x in 0..n {
                    src_tx.send(x).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, a_rx, a_tx, stage_a);
            spawn_stage(s, threads, b_rx, b_tx, stage_b);
            let sink = s.spawn(move || sink_rx.into_iter().fold(0, u64::wrapping_add));
            sink.join().expect("sink")
        })
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let n = self.n;
        let (src_tx, a_rx) = batch_channel(threads);
        let (a_tx, b_rx) = batch_channel(threads);
        let (b_tx, sink_rx) = batch_channel::<(u64, Vec<u64>)>(threads);
        std::thread::scope(|s| {
            s.spawn(move || send_batches(0..n, &src_tx));
            spawn_stage(
                s,
                threads,
                a_rx,
                a_tx,
                |(seq, mut batch): (u64, Vec<u64>)| {
                    batch.iter_mut().for_each(|x| *x = stage_a(*x));
                    (seq, batch)
                },
            );
            spawn_stage(
                s,
                threads,
                b_rx,
                b_tx,
                |(seq, mut batch): (u64, Vec<u64>)| {
                    batch.iter_mut().for_each(|x| *x = stage_b(*x));
                    (seq, batch)
                },
            );
            let sink = s.spawn(move || {
                let mut sum = 0u64;
                for (_, batch) in sink_rx {
                    sum = batch.iter().fold(sum, |s, &x| s.wrapping_add(x));
                }
                sum
            });
            sink.join().expect("sink")
        })
    }

    fn para(&self, threads: usize) -> u64 {
        let mut sum = 0u64;
        pipeline!(threads = threads, 0..self.n
            => |x| x.wrapping_mul(2654435761).wrapping_add(1)
            => |x| x ^ (x >> 7)
            => |x| sum = sum.wrapping_add(x));
        sum
    }

    fn variants(&self) -> &'static [Variant] {
        &[Variant::ParaStream]
    }

    fn run_variant(&self, variant: Variant, threads: usize) -> u64 {
        match variant {
            Variant::ParaStream => self.para_stream(threads),
            other => panic!("W1 has no {} variant", other.name()),
        }
    }
}
