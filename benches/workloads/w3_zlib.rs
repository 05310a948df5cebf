//! W3 `zlib`: 64 MiB of generated text (a fixed-seed xorshift choosing among
//! 64 English words), cut into 1 MiB chunks; parallel stage: zlib level 6
//! (flate2 on the system zlib); ordered sink writes each chunk's compressed
//! length (u32 LE) and bytes. Checksum: FNV-1a 64 of that output; verified
//! once by decompressing it back to the input. The pigz/pbzip2 use case.
//! Variant: Para ending in an ordered stream taken by a `for` loop.
//!
//! With 64 chunks, a 1024-item batch holds the whole input: the batched
//! crossbeam pipeline then compresses on one worker. That is what batches of
//! 1024 coarse items do, so it is measured as is.

use super::{batch_channel, fnv1a, item_channel, rayon_pool, send_batches, spawn_stage};
use super::{Reorder, Variant, Workload};
use flate2::write::ZlibEncoder;
use flate2::Compression;
use para::prelude::*;
use rayon::prelude::*;
use std::io::{Read, Write};

/// 1 MiB chunks (benches/README.md).
const CHUNK: usize = 1 << 20;

/// The 64 words of the generated text (W7 uses them too).
pub const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "pipeline",
];

/// `len` bytes of text: words chosen by a fixed-seed xorshift64, separated by
/// spaces, a newline after every 16th word.
fn generated_text(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 16);
    let mut line_words = 0;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x >> 58) as usize].as_bytes());
        line_words += 1;
        if line_words == 16 {
            out.push(b'\n');
            line_words = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(len);
    out
}

/// One chunk compressed with zlib at level 6.
fn zlib(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(chunk.len() / 2), Compression::new(6));
    encoder.write_all(chunk).expect("compress");
    encoder.finish().expect("compress")
}

/// The container: the compressed length (u32 LE), then the bytes.
fn append(out: &mut Vec<u8>, z: &[u8]) {
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(z);
}

/// W3 with its input text.
pub struct Zlib {
    text: Vec<u8>,
}

impl Zlib {
    /// W3 with `64 MiB * scale` of text (at least 2.5 MiB: two full chunks
    /// and a partial one). Generates the text.
    pub fn new(scale: f64) -> Self {
        let len = ((64.0 * CHUNK as f64 * scale).round() as usize).max(5 * CHUNK / 2);
        Zlib {
            text: generated_text(len),
        }
    }

    fn chunks(&self) -> std::slice::Chunks<'_, u8> {
        self.text.chunks(CHUNK)
    }

    /// W3 ending in an ordered stream (`#[ordered] yield`): the ordered
    /// sink's body is a `for` loop on the calling thread. The source borrows
    /// the text, so the run is kept by a thread of a scope
    /// (`Graph::spawn_scoped`, what `pipeline!(scope = s, ...)` does).
    fn para_ordered_stream(&self, threads: usize) -> u64 {
        let mut out = Vec::with_capacity(self.text.len() / 2);
        std::thread::scope(|s| {
            let mut g = Graph::new();
            let chunks = g.source(self.chunks());
            let compressed = g.map(chunks, zlib);
            let stream = g.ordered_stream(compressed);
            for z in g.spawn_scoped_with(s, stream, Options::new().threads(threads)) {
                append(&mut out, &z);
            }
        });
        fnv1a(&out)
    }

    /// The ordered output, as the sequential loop writes it.
    fn sequential_output(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() / 2);
        for chunk in self.chunks() {
            append(&mut out, &zlib(chunk));
        }
        out
    }
}

impl Workload for Zlib {
    fn id(&self) -> &'static str {
        "W3"
    }

    fn name(&self) -> &'static str {
        "zlib"
    }

    fn items(&self) -> u64 {
        self.text.len().div_ceil(CHUNK) as u64
    }

    fn sequential(&self) -> u64 {
        fnv1a(&self.sequential_output())
    }

    fn rayon(&self, threads: usize) -> u64 {
        // Ordered output: collect the compressed chunks in order, then write them.
        let compressed: Vec<Vec<u8>> =
            rayon_pool(threads).install(|| self.text.par_chunks(CHUNK).map(zlib).collect());
        let mut out = Vec::with_capacity(self.text.len() / 2);
        for z in compressed {
            append(&mut out, &z);
        }
        fnv1a(&out)
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        let (src_tx, work_rx) = item_channel::<(u64, &[u8])>();
        let (work_tx, sink_rx) = item_channel::<(u64, Vec<u8>)>();
        let out = std::thread::scope(|s| {
            s.spawn(move || {
                for (seq, chunk) in self.chunks().enumerate() {
                    src_tx.send((seq as u64, chunk)).expect("pipeline alive");
                }
            });
            spawn_stage(s, threads, work_rx, work_tx, |(seq, chunk)| {
                (seq, zlib(chunk))
            });
            let sink = s.spawn(move || {
                let mut out = Vec::with_capacity(self.text.len() / 2);
                let mut reorder = Reorder::default();
                for (seq, z) in sink_rx {
                    reorder.push(seq, z, |z: Vec<u8>| append(&mut out, &z));
                }
                reorder.finish();
                out
            });
            sink.join().expect("sink")
        });
        fnv1a(&out)
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        let (src_tx, work_rx) = batch_channel::<(u64, Vec<&[u8]>)>(threads);
        let (work_tx, sink_rx) = batch_channel::<(u64, Vec<Vec<u8>>)>(threads);
        let out = std::thread::scope(|s| {
            s.spawn(move || send_batches(self.chunks(), &src_tx));
            spawn_stage(
                s,
                threads,
                work_rx,
                work_tx,
                |(seq, chunks): (u64, Vec<&[u8]>)| (seq, chunks.into_iter().map(zlib).collect()),
            );
            let sink = s.spawn(move || {
                let mut out = Vec::with_capacity(self.text.len() / 2);
                let mut reorder = Reorder::default();
                for (seq, zs) in sink_rx {
                    reorder.push(seq, zs, |zs: Vec<Vec<u8>>| {
                        zs.iter().for_each(|z| append(&mut out, z))
                    });
                }
                reorder.finish();
                out
            });
            sink.join().expect("sink")
        });
        fnv1a(&out)
    }

    fn para(&self, threads: usize) -> u64 {
        let mut out = Vec::with_capacity(self.text.len() / 2);
        pipeline!(threads = threads, self.chunks() => zlib => #[ordered] |z| append(&mut out, &z));
        fnv1a(&out)
    }

    fn variants(&self) -> &'static [Variant] {
        &[Variant::ParaOrderedStream]
    }

    fn run_variant(&self, variant: Variant, threads: usize) -> u64 {
        match variant {
            Variant::ParaOrderedStream => self.para_ordered_stream(threads),
            other => panic!("W3 has no {} variant", other.name()),
        }
    }

    /// Decompressing the ordered output gives the input back. (The other
    /// implementations' outputs are the same bytes: their checksums agree.)
    fn verify(&self, _threads: usize) {
        let out = self.sequential_output();
        let mut restored = Vec::with_capacity(self.text.len());
        let mut rest = &out[..];
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("length")) as usize;
            flate2::read::ZlibDecoder::new(&rest[4..4 + len])
                .read_to_end(&mut restored)
                .expect("decompress");
            rest = &rest[4 + len..];
        }
        assert!(
            restored == self.text,
            "W3: decompressing does not give the input back"
        );
    }
}
