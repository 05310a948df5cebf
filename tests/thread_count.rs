//! `threads = N` does not cost N new threads per run: runs inside a pool
//! use that pool, runs from other threads share one process-wide pool per
//! size (see `Options::threads`). Counted from `/proc/self/status`, so
//! Linux only; a test binary of its own, since the count is per process.

#![cfg(target_os = "linux")]

use para::prelude::*;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The process's current thread count.
fn threads_now() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

#[test]
fn runs_reuse_threads() {
    // Start rayon's global pool first: it is not Para's cost.
    let global = rayon::current_num_threads();
    (0..global).into_par_iter().for_each(|_| {});
    let before = threads_now();
    let peak = Arc::new(AtomicUsize::new(before));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(threads_now(), Ordering::Relaxed);
                std::thread::yield_now();
            }
        })
    };

    // From rayon jobs: the runs are jobs of the global pool (no thread).
    for _ in 0..20 {
        let total: u64 = (0..64u64)
            .into_par_iter()
            .map(|x| {
                let mut s = 0u64;
                pipeline!(threads = 2, 0..50u64 => |y| y * x => |y| s += y);
                s
            })
            .sum();
        assert_eq!(total, (0..64u64).sum::<u64>() * (0..50u64).sum::<u64>());
    }
    let after_nested = threads_now();

    // From a plain thread: one shared pool of 3 threads for all 50 runs.
    for _ in 0..50 {
        let mut n = 0;
        pipeline!(threads = 3, 0..100u32 => |x| x + 1 => |_x| n += 1);
        assert_eq!(n, 100);
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let after = threads_now();

    // The sampler thread itself is one more while it runs.
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak <= before + 1 + 3,
        "{before} threads before, peak {peak}: runs inside rayon jobs must not start threads, \
         and 50 runs with threads = 3 at most 3"
    );
    assert_eq!(after_nested, before + 1, "nested runs started threads");
    assert_eq!(after, before + 3, "the shared pool of 3 threads stays");
}
