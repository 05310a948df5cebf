//! Throughput of a 3-stage chain (benches/README.md W1 `fine`): source `0..N`,
//! two parallel maps of about 1 ns each, a serial sink summing. Prints the
//! median of several runs for Para and for a sequential loop.
//!
//! Run: `cargo run --release --example throughput [N] [THREADS] [RUNS] [BATCH]`

use para::prelude::*;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn stage_a(x: u64) -> u64 {
    x.wrapping_mul(2654435761).wrapping_add(1)
}

fn stage_b(x: u64) -> u64 {
    x ^ (x >> 7)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(20_000_000, |a| a.parse().expect("N"));
    let threads: usize = args.next().map_or(2, |a| a.parse().expect("THREADS"));
    let runs: usize = args.next().map_or(5, |a| a.parse().expect("RUNS"));
    // Without BATCH, the runtime's default batch size.
    let batch: Option<usize> = args.next().map(|a| a.parse().expect("BATCH"));

    let mut expected = 0u64;
    let sequential = median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let mut sum = 0u64;
                for x in 0..black_box(n) {
                    sum = sum.wrapping_add(stage_b(stage_a(x)));
                }
                expected = black_box(sum);
                started.elapsed()
            })
            .collect(),
    );

    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let para = median(
        (0..runs)
            .map(|_| {
                let mut sum = 0u64;
                let mut g = Graph::new();
                let src = g.source(0..n);
                let a = g.map(src, stage_a);
                let b = g.map(a, stage_b);
                g.sink(b, |x| sum = sum.wrapping_add(x));
                let options = Options::new().pool(&pool);
                let options = batch.map_or(options, |batch| options.batch(batch));
                let report = g.run_with(options);
                assert_eq!(sum, expected, "checksum");
                report.elapsed()
            })
            .collect(),
    );

    let per_item = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
    println!("3-stage chain, N = {n}, {threads} threads, median of {runs} runs");
    println!(
        "  sequential loop: {:>8.3} ns/item  {:>8.1} M items/s",
        per_item(sequential),
        n as f64 / sequential.as_secs_f64() / 1e6
    );
    println!(
        "  para:            {:>8.3} ns/item  {:>8.1} M items/s",
        per_item(para),
        n as f64 / para.as_secs_f64() / 1e6
    );
}
