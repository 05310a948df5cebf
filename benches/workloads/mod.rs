//! The reference workloads of benches/README.md (W1..W7 and W6b), each
//! written five ways behind one trait (flume's benches/basic.rs style): a
//! sequential loop, rayon, hand-written crossbeam-channel pipelines (one item
//! per message, and 1024-item batches) and Para's `pipeline!`.
//!
//! W1, W2 and W3 also run as [`Variant`]s: Para ending in a stream consumed
//! by a `for` loop, and (W2) the iterator-shaped alternatives dpc-pariter
//! and rayon's `par_bridge`; W7 (whose Para version counts with `fold`) as
//! Para with a plain counting sink.
//!
//! Shared by the criterion driver (`benches/workloads.rs`) and the table
//! binary (`examples/bench_table.rs`) through `#[path = ...] mod workloads;`.
//! Every implementation takes the thread count and returns a `u64` checksum,
//! which the drivers assert equal across implementations before timing.

pub mod w1_fine;
pub mod w2_mandel;
pub mod w3_zlib;
pub mod w4_fanout;
pub mod w5_stateful;
pub mod w6_memory;
pub mod w7_wordcount;

use crossbeam_channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::thread::Scope;

/// Items per message in the batched crossbeam pipelines (benches/README.md:
/// "1024-item batches").
pub const BATCH: usize = 1024;

/// One way of running a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// A plain loop on the calling thread.
    Sequential,
    /// The idiomatic rayon version.
    Rayon,
    /// A crossbeam-channel pipeline, one item per message.
    Crossbeam,
    /// A crossbeam-channel pipeline, [`BATCH`] items per message.
    CrossbeamBatch,
    /// Para's `pipeline!`, written the way a user would.
    Para,
}

impl Impl {
    /// Every implementation, sequential first.
    pub const ALL: [Impl; 5] = [
        Impl::Sequential,
        Impl::Rayon,
        Impl::Crossbeam,
        Impl::CrossbeamBatch,
        Impl::Para,
    ];

    /// The name used in benchmark ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Sequential => "sequential",
            Impl::Rayon => "rayon",
            Impl::Crossbeam => "crossbeam",
            Impl::CrossbeamBatch => "crossbeam-batch",
            Impl::Para => "para",
        }
    }

    /// The implementation called `name`, if any.
    pub fn parse(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this is one of the alternatives Para is compared with
    /// (rayon and the crossbeam pipelines).
    pub fn is_alternative(self) -> bool {
        matches!(self, Impl::Rayon | Impl::Crossbeam | Impl::CrossbeamBatch)
    }
}

/// A way of running a workload beyond the five of [`Impl`]: Para's streams
/// (SPEC section 5: the pipeline ends in `yield` and a `for` loop takes its
/// results on the calling thread), the iterator-shaped alternatives they
/// are compared with, and W7 without `fold`. A workload lists the ones it
/// has in [`Workload::variants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// W1 ending in a bare stream (`yield`, completion order), summed by a
    /// `for` loop instead of a serial sink.
    ParaStream,
    /// W2 and W3 ending in an ordered stream (`#[ordered] yield`), the
    /// ordered sink's body moved into a `for` loop.
    ParaOrderedStream,
    /// W2 as an iterator: dpc-pariter's `parallel_map` (results in order,
    /// threads of its own per call).
    Pariter,
    /// W2 as an iterator: rayon's `par_bridge()` collecting the rows with
    /// their indices, then a sort by index.
    RayonParBridge,
    /// W7 with a plain counting sink (every word through one serial stage)
    /// instead of Para's `fold` and a merging sink.
    ParaCountingSink,
    /// W6 and W6b as the least any pipeline with a serial source can cost:
    /// no runtime, no queue; each of the threads takes the source's lock,
    /// reads `k` items, lets go, sums and frees them, with `k` = 16 (64 KiB
    /// of buffers, under glibc's trim threshold) or 64 (256 KiB, over it).
    SerialSource(usize),
    /// W6 and W6b with the items made on the workers, as rayon's are: a
    /// `#[split]` source of the indices, then the producer and the byte sum
    /// as two maps (which `pipeline!` runs as one loop), into the same
    /// serial sink.
    ParaSplit,
}

impl Variant {
    /// The name used in benchmark ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::ParaStream => "para-stream",
            Variant::ParaOrderedStream => "para-ordered-stream",
            Variant::Pariter => "pariter",
            Variant::RayonParBridge => "rayon-par-bridge",
            Variant::ParaCountingSink => "para-counting-sink",
            Variant::SerialSource(16) => "serial-source-16",
            Variant::SerialSource(64) => "serial-source-64",
            Variant::SerialSource(_) => "serial-source",
            Variant::ParaSplit => "para-split",
        }
    }

    /// What this variant is compared with: `None` for Para's own version
    /// ([`Impl::Para`]), which the streams and the counting sink replace;
    /// Para's ordered stream for the iterator alternatives.
    pub fn compared_with(self) -> Option<Variant> {
        match self {
            Variant::ParaStream
            | Variant::ParaOrderedStream
            | Variant::ParaCountingSink
            | Variant::SerialSource(_)
            | Variant::ParaSplit => None,
            Variant::Pariter | Variant::RayonParBridge => Some(Variant::ParaOrderedStream),
        }
    }
}

/// One reference workload, runnable by every [`Impl`].
pub trait Workload: Sync {
    /// `W1` .. `W7`, or `W6b`.
    fn id(&self) -> &'static str;
    /// The short name of benches/README.md (`fine`, `mandel`, ...).
    fn name(&self) -> &'static str;
    /// Items the source yields (the unit of "time per item").
    fn items(&self) -> u64;
    /// The plain loop on the calling thread; returns the checksum.
    fn sequential(&self) -> u64;
    /// The idiomatic rayon version on `threads` threads.
    fn rayon(&self, threads: usize) -> u64;
    /// The crossbeam-channel pipeline, one item per message.
    fn crossbeam(&self, threads: usize) -> u64;
    /// The crossbeam-channel pipeline, [`BATCH`] items per message.
    fn crossbeam_batch(&self, threads: usize) -> u64;
    /// Para's `pipeline!`, written the way a user would.
    fn para(&self, threads: usize) -> u64;

    /// Runs the workload once with `imp` on `threads` threads; returns the checksum.
    fn run(&self, imp: Impl, threads: usize) -> u64 {
        match imp {
            Impl::Sequential => self.sequential(),
            Impl::Rayon => self.rayon(threads),
            Impl::Crossbeam => self.crossbeam(threads),
            Impl::CrossbeamBatch => self.crossbeam_batch(threads),
            Impl::Para => self.para(threads),
        }
    }
    /// The [`Variant`]s this workload has, in table order (none by default).
    fn variants(&self) -> &'static [Variant] {
        &[]
    }
    /// Runs the workload once as `variant` on `threads` threads; returns the
    /// checksum.
    ///
    /// # Panics
    ///
    /// If `variant` is not one of [`Workload::variants`].
    fn run_variant(&self, variant: Variant, _threads: usize) -> u64 {
        panic!("{} has no {} variant", self.id(), variant.name())
    }
    /// Extra checks beyond checksum equality, run once (W3: the round trip).
    fn verify(&self, _threads: usize) {}
    /// What a report should say about how the input was made, if anything
    /// (W5: the calibrated spin counts).
    fn note(&self) -> Option<String> {
        None
    }
}

/// The workload ids, in order.
pub const IDS: [&str; 8] = ["W1", "W2", "W3", "W4", "W5", "W6", "W6b", "W7"];

/// The workload id of [`IDS`] that `id` names, in any case (`w6B` gives `W6b`).
pub fn canonical_id(id: &str) -> Option<&'static str> {
    IDS.into_iter()
        .find(|known| known.eq_ignore_ascii_case(id.trim()))
}

/// Builds workload `id` (one of [`IDS`], any case) at `scale` times the
/// benches/README.md size; generates its input (W3's and W7's text, W5's
/// calibration).
pub fn build(id: &str, scale: f64) -> Option<Box<dyn Workload>> {
    Some(match id.to_ascii_uppercase().as_str() {
        "W1" => Box::new(w1_fine::Fine::new(scale)),
        "W2" => Box::new(w2_mandel::Mandel::new(scale)),
        "W3" => Box::new(w3_zlib::Zlib::new(scale)),
        "W4" => Box::new(w4_fanout::Fanout::new(scale)),
        "W5" => Box::new(w5_stateful::Stateful::new(scale)),
        "W6" => Box::new(w6_memory::Memory::<w6_memory::Opaque>::new(scale)),
        "W6B" => Box::new(w6_memory::Memory::<w6_memory::Cheap>::new(scale)),
        "W7" => Box::new(w7_wordcount::Wordcount::new(scale)),
        _ => return None,
    })
}

/// `PARA_BENCH_SCALE` (default 1.0): the factor applied to every size.
pub fn scale_from_env() -> f64 {
    match std::env::var("PARA_BENCH_SCALE") {
        Ok(s) => {
            let scale: f64 = s.parse().expect("PARA_BENCH_SCALE: a number, e.g. 0.001");
            assert!(scale > 0.0, "PARA_BENCH_SCALE must be positive");
            scale
        }
        Err(_) => 1.0,
    }
}

/// `base * scale`, but at least `min`.
pub fn scaled(base: u64, scale: f64, min: u64) -> u64 {
    ((base as f64 * scale).round() as u64).max(min)
}

/// Runs every implementation once and asserts their checksums are equal;
/// returns the checksum.
pub fn agreed_checksum(w: &dyn Workload, threads: usize) -> u64 {
    let expected = w.run(Impl::Sequential, threads);
    for imp in &Impl::ALL[1..] {
        let got = w.run(*imp, threads);
        assert_eq!(
            got,
            expected,
            "{} {}: {} checksum {got:#x} != sequential {expected:#x}",
            w.id(),
            w.name(),
            imp.name()
        );
    }
    expected
}

/// Runs every [`Variant`] of `w` once and asserts each gives `checksum`
/// (what [`agreed_checksum`] returned).
pub fn agreed_variants(w: &dyn Workload, threads: usize, checksum: u64) {
    for &variant in w.variants() {
        let got = w.run_variant(variant, threads);
        assert_eq!(
            got,
            checksum,
            "{} {}: {} checksum {got:#x} != sequential {checksum:#x}",
            w.id(),
            w.name(),
            variant.name()
        );
    }
}

/// A rayon pool of `threads` threads. Built per run, like Para's
/// `threads = T` (which starts a private pool per run) and the crossbeam
/// pipelines (which spawn their threads per run), so every parallel
/// implementation pays the same start-up.
pub fn rayon_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool")
}

/// The channel between two stages of a one-item-per-message pipeline.
pub fn item_channel<T>() -> (Sender<T>, Receiver<T>) {
    crossbeam_channel::bounded(1024)
}

/// The channel between two stages of a batched pipeline: `4 * threads`
/// batches, like oneTBB's `max_live_tokens = 4 * threads` (benches/README.md).
pub fn batch_channel<T>(threads: usize) -> (Sender<T>, Receiver<T>) {
    crossbeam_channel::bounded(4 * threads)
}

/// Spawns `threads` workers on `scope`, each sending `f(message)` for every
/// message it receives; they stop when `rx` is closed and drained.
pub fn spawn_stage<'scope, I, O, F>(
    scope: &'scope Scope<'scope, '_>,
    threads: usize,
    rx: Receiver<I>,
    tx: Sender<O>,
    f: F,
) where
    I: Send + 'scope,
    O: Send + 'scope,
    F: Fn(I) -> O + Clone + Send + 'scope,
{
    for _ in 0..threads {
        let (rx, tx, f) = (rx.clone(), tx.clone(), f.clone());
        scope.spawn(move || {
            for message in rx {
                if tx.send(f(message)).is_err() {
                    break; // the downstream is gone (it panicked)
                }
            }
        });
    }
}

/// Sends `items` as `Vec`s of up to [`BATCH`] items, each tagged with its
/// sequence number (used only by ordered sinks).
pub fn send_batches<T>(items: impl IntoIterator<Item = T>, tx: &Sender<(u64, Vec<T>)>) {
    let mut seq = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for item in items {
        batch.push(item);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            tx.send((seq, full)).expect("pipeline alive");
            seq += 1;
        }
    }
    if !batch.is_empty() {
        tx.send((seq, batch)).expect("pipeline alive");
    }
}

/// The reorder buffer of an ordered sink: messages arrive tagged with their
/// sequence number in any order and are handed on in sequence order. The
/// default buffer expects sequence number 0 first.
pub struct Reorder<T> {
    next: u64,
    pending: BTreeMap<u64, T>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next: 0,
            pending: BTreeMap::new(),
        }
    }
}

impl<T> Reorder<T> {
    /// Accepts message `seq`; calls `emit` on every message now in order.
    pub fn push(&mut self, seq: u64, message: T, mut emit: impl FnMut(T)) {
        if seq != self.next {
            self.pending.insert(seq, message);
            return;
        }
        emit(message);
        self.next += 1;
        while let Some(message) = self.pending.remove(&self.next) {
            emit(message);
            self.next += 1;
        }
    }

    /// Asserts nothing is left waiting (every sequence number arrived).
    pub fn finish(self) {
        assert!(self.pending.is_empty(), "reorder buffer: a sequence gap");
    }
}

/// FNV-1a 64 (the checksum of W2's image, W3's output and W7's counts).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
