//! Heap allocations of a run, counted by a global allocator (so this file is
//! its own test binary): per item there must be none (the spec: "no heap
//! allocation ... per item"), only per batch; and runs must not leak.
//!
//! Run with `--nocapture` to see the figures.

use para::{Graph, Options};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Counts allocation calls and the bytes currently allocated.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE_BYTES` since the last reset.
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

fn grow(bytes: isize) {
    let now = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees hold; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(layout.size() as isize);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(layout.size() as isize);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests of this binary run one at a time, so one does not count the
/// other's allocations.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `source -> map -> map -> sink` over `n` items; returns the sum.
fn chain(n: u64, options: Options<'_>) -> u64 {
    let mut sum = 0u64;
    let mut g = Graph::new();
    let src = g.source(0..n);
    let a = g.map(src, |x| x.wrapping_mul(3));
    let b = g.map(a, |x| x ^ 0x55);
    g.sink(b, |x| sum = sum.wrapping_add(x));
    g.run_with(options);
    sum
}

#[test]
fn a_million_items_allocate_per_batch_not_per_item() {
    let _serial = serial();
    const N: u64 = 1_000_000;
    let expected = (0..N).fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(3) ^ 0x55));
    chain(1_000, Options::new().threads(2)); // warm up lazy statics
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let sum = chain(N, Options::new().threads(2));
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(sum, expected);
    eprintln!(
        "alloc_count: {allocations} allocations for {N} items through 3 stages at 2 threads \
         ({:.4} per item)",
        allocations as f64 / N as f64
    );
    assert!(
        allocations < (N / 100) as usize,
        "{allocations} allocations for {N} items: more than 1 per 100 items"
    );
}

/// A small graph using most features: fan-out, fan-in, ordered sink, filter,
/// flat-map, batch/unbatch, device stage, capacity.
fn short_run(options: Options<'_>, round: u64) {
    let n = 500 + round % 7;
    let mut ordered = Vec::new();
    let mut total = 0u64;
    let mut g = Graph::new();
    let src = g.source(0..n);
    let groups = g.batch(src, 16);
    let items = g.unbatch(groups);
    let mut branches = g.fan_out(items, 3).into_iter();
    let a = g.filter(branches.next().unwrap(), |x| x % 3 != 0);
    let b = g.flat_map(branches.next().unwrap(), |x| 0..x % 3);
    let c = g.device(branches.next().unwrap(), 32, 2, |xs: Vec<u64>| xs);
    let joined = g.fan_in([a, b, c]);
    let mut out = g.fan_out(joined, 2).into_iter();
    g.ordered_sink(out.next().unwrap(), |x| ordered.push(x));
    g.sink(out.next().unwrap(), |x| total += x);
    g.run_with(options);
    let expected: u64 =
        (0..n).filter(|x| x % 3 != 0).sum::<u64>() + (0..n).flat_map(|x| 0..x % 3).sum::<u64>();
    assert_eq!(total, expected + (0..n).sum::<u64>());
    assert_eq!(ordered.iter().sum::<u64>(), total);
}

/// Bytes still allocated now, after giving threads that are exiting (a
/// private pool's workers are not joined when it is dropped) a moment to
/// free what they hold, until it is at most `limit` or a few seconds passed.
fn settled_live_bytes(limit: isize) -> isize {
    let mut live = LIVE_BYTES.load(Ordering::SeqCst);
    for _ in 0..200 {
        if live <= limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        live = LIVE_BYTES.load(Ordering::SeqCst);
    }
    live
}

/// Bytes allocated after `runs` calls of `run` minus before, after a warm-up
/// of `run` itself.
fn growth(runs: u64, mut run: impl FnMut(u64)) -> isize {
    for round in 0..10 {
        run(round);
    }
    let before = settled_live_bytes(isize::MAX);
    for round in 0..runs {
        run(round);
    }
    settled_live_bytes(before + SLACK) - before
}

/// What a run may leave allocated for good (lazy statics, buffers kept for
/// reuse), whatever the number of runs.
const SLACK: isize = 32 * 1024;

#[test]
fn thousands_of_short_runs_do_not_leak() {
    let _serial = serial();
    // Runs on a given pool and runs on a private pool are measured apart:
    // alternating them makes the deque buffers that crossbeam-epoch frees
    // lazily (when a thread next pins) come and go by some 100 KiB, which
    // is bounded but would hide a small leak.
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let in_pool = growth(10_000, |round| {
        short_run(Options::new().pool(&pool).batch(8), round)
    });
    let private = growth(1_000, |round| {
        short_run(Options::new().threads(2).capacity(40), round)
    });
    eprintln!(
        "alloc_count: bytes still allocated after 10000 short runs in a pool: {in_pool}, \
         after 1000 with a private pool: {private}"
    );
    assert!(
        in_pool <= SLACK,
        "{in_pool} bytes more after 10000 runs in a pool"
    );
    assert!(
        private <= SLACK,
        "{private} bytes more after 1000 private runs"
    );
}

/// Peak heap bytes above the starting point during a capacity-bounded
/// `source -> map -> sink` run over `n` items.
fn bounded_peak(n: u64) -> isize {
    let before = LIVE_BYTES.load(Ordering::SeqCst);
    PEAK_BYTES.store(before, Ordering::SeqCst);
    let mut sum = 0u64;
    let mut g = Graph::new();
    let src = g.source(0..n);
    let m = g.map(src, |x| x ^ 0x5A);
    g.sink(m, |x| sum = sum.wrapping_add(x));
    g.run_with(Options::new().threads(2).capacity(4_096));
    assert_eq!(sum, (0..n).fold(0u64, |s, x| s.wrapping_add(x ^ 0x5A)));
    PEAK_BYTES.load(Ordering::SeqCst) - before
}

#[test]
fn fifty_million_items_keep_peak_memory_flat() {
    let _serial = serial();
    bounded_peak(10_000); // warm up lazy statics
    let small = bounded_peak(5_000_000);
    let large = bounded_peak(50_000_000);
    eprintln!(
        "alloc_count: peak heap above the start with capacity 4096: {small} bytes for 5M items, \
         {large} bytes for 50M items"
    );
    // Flat: ten times the items may not cost more than a small constant
    // (batch buffers of a different size class, a deque growing once).
    assert!(
        large <= small + 256 * 1024,
        "peak memory grew with the input: {small} bytes for 5M items, {large} for 50M"
    );
}
