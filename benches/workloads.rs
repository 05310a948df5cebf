//! Criterion benchmarks of the reference workloads (W1..W7 and W6b, defined
//! in benches/README.md): one group per workload, one benchmark per
//! implementation (sequential, rayon, crossbeam, crossbeam-batch, para) at
//! the thread count given by
//! `PARA_BENCH_THREADS` (default 2), sizes scaled by `PARA_BENCH_SCALE`
//! (default 1.0). W1, W2 and W3 also run their stream variants (Para ending
//! in `yield`, consumed by a `for` loop; W2 as an iterator with dpc-pariter
//! and rayon's `par_bridge`), W7 (Para with `fold`) its counting-sink
//! variant. Checksums are asserted equal across implementations and
//! variants before anything is timed.
//!
//! Run: `cargo bench --bench workloads` (add `-- W3` to run one group). For one
//! table with speed-ups, ratios and peak memory, see `examples/bench_table.rs`.

#[path = "workloads/mod.rs"]
#[allow(dead_code)] // shared with examples/bench_table.rs, which uses the rest
mod workloads;

/// `--features mimalloc`: the allocator study (benches/README.md, W6b).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use workloads::{Impl, Workload};

fn threads_from_env() -> usize {
    match std::env::var("PARA_BENCH_THREADS") {
        Ok(t) => t
            .parse()
            .expect("PARA_BENCH_THREADS: a thread count, e.g. 2"),
        Err(_) => 2,
    }
}

fn bench_workload(c: &mut Criterion, w: &dyn Workload, threads: usize) {
    let checksum = workloads::agreed_checksum(w, threads);
    workloads::agreed_variants(w, threads, checksum);
    w.verify(threads);

    let mut group = c.benchmark_group(format!("{}_{}", w.id(), w.name()));
    group.throughput(Throughput::Elements(w.items()));
    // Every workload at full size runs for 0.1 s to several seconds per
    // iteration (per-item crossbeam on W1 and W4 is the slowest): ten samples
    // and a short target keep `cargo bench` to a few minutes on 2 cores.
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for imp in Impl::ALL {
        group.bench_with_input(BenchmarkId::new(imp.name(), threads), &threads, |b, &t| {
            b.iter(|| w.run(imp, t))
        });
    }
    for &variant in w.variants() {
        group.bench_with_input(
            BenchmarkId::new(variant.name(), threads),
            &threads,
            |b, &t| b.iter(|| w.run_variant(variant, t)),
        );
    }
    group.finish();
}

fn workloads(c: &mut Criterion) {
    let threads = threads_from_env();
    let scale = workloads::scale_from_env();
    for id in workloads::IDS {
        // Built one at a time, so only one input (W3's 64 MiB or W7's 50 MB of
        // text) is alive.
        let w = workloads::build(id, scale).expect("known workload");
        bench_workload(c, w.as_ref(), threads);
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
