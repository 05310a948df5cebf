//! W6 `memory` and W6b `memory-cheap`: source `0..N` (N = 2,000,000)
//! yielding a fresh 4 KiB `Vec<u8>` each; parallel stage: the byte sum;
//! serial sink adds. Measures peak memory (VmHWM), which must not grow with
//! N; the table binary measures it in a child process per implementation,
//! at N and 10 N.
//!
//! The two differ only in how an item is made and summed (a [`Producer`]):
//! W6 hides the allocation behind `black_box` and sums into `u64`; W6b makes
//! `vec![i as u8; 4096]` in the open (calloc-cheap: about 70 ns per item in
//! the sequential loop) and sums into `u32`, so what it measures is the cost
//! of moving large items between workers (cache, allocator arenas).

use super::{batch_channel, item_channel, rayon_pool, scaled, send_batches, spawn_stage};
use super::{Variant, Workload};
use para::prelude::*;
use rayon::prelude::*;
use std::hint::black_box;
use std::marker::PhantomData;

/// Bytes per item.
const ITEM_BYTES: usize = 4096;

/// How the items of a memory workload are made and summed.
pub trait Producer: Send + Sync + 'static {
    /// `W6` or `W6b`.
    const ID: &'static str;
    /// The short name of benches/README.md.
    const NAME: &'static str;
    /// Item `i`: a fresh 4 KiB buffer.
    fn fresh(i: u64) -> Vec<u8>;
    /// The parallel stage: the sum of the bytes.
    fn byte_sum(v: &[u8]) -> u64;
}

/// W6's items: `black_box` keeps the allocation and the fill from being
/// folded into the byte sum, which is taken in `u64`.
pub struct Opaque;

impl Producer for Opaque {
    const ID: &'static str = "W6";
    const NAME: &'static str = "memory";

    fn fresh(i: u64) -> Vec<u8> {
        black_box(vec![i as u8; ITEM_BYTES])
    }

    fn byte_sum(v: &[u8]) -> u64 {
        v.iter().map(|&b| u64::from(b)).sum()
    }
}

/// W6b's items: `vec![i as u8; 4096]` with nothing around it, summed in
/// `u32` (at most 4096 x 255, which fits).
pub struct Cheap;

impl Producer for Cheap {
    const ID: &'static str = "W6b";
    const NAME: &'static str = "memory-cheap";

    fn fresh(i: u64) -> Vec<u8> {
        vec![i as u8; ITEM_BYTES]
    }

    fn byte_sum(v: &[u8]) -> u64 {
        u64::from(v.iter().map(|&b| u32::from(b)).sum::<u32>())
    }
}

/// The ids of the memory workloads, whose peak memory the table measures.
pub const IDS: [&str; 2] = [Opaque::ID, Cheap::ID];

/// The memory workload `id` (`W6` or `W6b`, exactly) with `n` items (the
/// memory child process).
pub fn with_items(id: &str, n: u64) -> Option<Box<dyn Workload>> {
    match id {
        Opaque::ID => Some(Box::new(Memory::<Opaque>::with_items(n))),
        Cheap::ID => Some(Box::new(Memory::<Cheap>::with_items(n))),
        _ => None,
    }
}

/// W6 (`Memory<Opaque>`) or W6b (`Memory<Cheap>`) at a given size.
pub struct Memory<P> {
    n: u64,
    producer: PhantomData<P>,
}

impl<P: Producer> Memory<P> {
    /// The workload with `N = 2,000,000 * scale` (at least 100).
    pub fn new(scale: f64) -> Self {
        Self::with_items(scaled(2_000_000, scale, 100))
    }

    /// The workload with exactly `n` items.
    pub fn with_items(n: u64) -> Self {
        Memory {
            n,
            producer: PhantomData,
        }
    }
}

impl<P: Producer> Workload for Memory<P> {
    fn id(&self) -> &'static str {
        P::ID
    }

    fn name(&self) -> &'static str {
        P::NAME
    }

    fn items(&self) -> u64 {
        self.n
    }

    fn sequential(&self) -> u64 {
        let mut sum = 0u64;
        for i in 0..self.n {
            sum += P::byte_sum(&P::fresh(i));
        }
        sum
    }

    fn rayon(&self, threads: usize) -> u64 {
        // Idiomatic rayon has no serial source: each worker makes its items.
        rayon_pool(threads).install(|| {
            (0..self.n)
                .into_par_iter()
                .map(|i| P::byte_sum(&P::fresh(i)))
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
                    src_tx.send(P::fresh(i)).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, work_rx, work_tx, |v: Vec<u8>| P::byte_sum(&v));
            let sink = s.spawn(move || sink_rx.into_iter().sum());
            sink.join().expect("sink")
        })
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let n = self.n;
        let (src_tx, work_rx) = batch_channel::<(u64, Vec<Vec<u8>>)>(threads);
        let (work_tx, sink_rx) = batch_channel::<u64>(threads);
        std::thread::scope(|s| {
            s.spawn(move || send_batches((0..n).map(P::fresh), &src_tx));
            spawn_stage(
                s,
                threads,
                work_rx,
                work_tx,
                |(_, batch): (u64, Vec<Vec<u8>>)| batch.iter().map(|v| P::byte_sum(v)).sum::<u64>(),
            );
            let sink = s.spawn(move || sink_rx.into_iter().sum());
            sink.join().expect("sink")
        })
    }

    fn para(&self, threads: usize) -> u64 {
        let mut sum = 0u64;
        pipeline!(threads = threads, (0..self.n).map(P::fresh) => |v| P::byte_sum(&v) => |s| sum += s);
        sum
    }

    fn variants(&self) -> &'static [Variant] {
        &[
            Variant::ParaSplit,
            Variant::SerialSource(16),
            Variant::SerialSource(64),
        ]
    }

    fn run_variant(&self, variant: Variant, threads: usize) -> u64 {
        match variant {
            Variant::SerialSource(k) => serial_source::<P>(self.n, threads, k),
            Variant::ParaSplit => {
                let mut sum = 0u64;
                pipeline!(threads = threads,
                    #[split] 0..self.n => |i| P::fresh(i) => |v| P::byte_sum(&v) => |s| sum += s);
                sum
            }
            other => panic!("{} has no {} variant", P::ID, other.name()),
        }
    }
}

/// The floor under every pipeline whose source is one iterator
/// (`Variant::SerialSource`): `threads` threads share `(0..n).map(fresh)`
/// behind a lock, each takes `k` items at a time, then sums and frees them
/// on its own. Nothing else runs: no queue, no scheduler, no allocation
/// but the items'. A thread that finds the lock taken spins on it (it is
/// held for `k` items' making, a few µs), as a pipeline's idle worker does.
fn serial_source<P: Producer>(n: u64, threads: usize, k: usize) -> u64 {
    let source = std::sync::Mutex::new((0..n).map(P::fresh));
    let total = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut taken: Vec<Vec<u8>> = Vec::with_capacity(k);
                let mut sum = 0u64;
                loop {
                    let mut items = loop {
                        if let Ok(items) = source.try_lock() {
                            break items;
                        }
                        std::hint::spin_loop();
                    };
                    taken.extend(items.by_ref().take(k));
                    drop(items);
                    if taken.is_empty() {
                        break;
                    }
                    sum += taken.drain(..).map(|v| P::byte_sum(&v)).sum::<u64>();
                }
                total.fetch_add(sum, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    total.into_inner()
}
