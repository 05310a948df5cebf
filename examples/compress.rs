//! Ordered compression in chunks (the pigz use case): a file is cut into
//! 1 MiB chunks, each compressed with zlib on many workers at once, and an
//! ordered sink writes them in input order. The output is checked to be
//! byte-identical to compressing the same chunks with a sequential loop, and
//! decompressed back to the input.
//!
//! Run: `cargo run --release --example compress [--progress] [FILE [OUT]]`
//! (without a file, or with `-`, 16 MiB of generated text is used; with
//! `OUT`, the output is written there: `examples/cluster.rs` writes the same
//! bytes). `--progress` shows para's live progress line on stderr while the
//! chunks are compressed; it needs the `progress` feature (`cargo run
//! --release --features progress --example compress -- --progress FILE`),
//! and says so without it.

use flate2::write::ZlibEncoder;
use flate2::Compression;
use para::prelude::*;
use std::io::{Read, Write};

const CHUNK: usize = 1 << 20;

fn zlib(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(chunk.len() / 2), Compression::new(6));
    encoder.write_all(chunk).expect("compress");
    encoder.finish().expect("compress")
}

/// The container: for each chunk, its compressed length (u32 LE), then the bytes.
fn append(out: &mut Vec<u8>, z: &[u8]) {
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(z);
}

fn generated_text(len: usize) -> Vec<u8> {
    let words = [
        "alpha ",
        "beta ",
        "gamma ",
        "delta ",
        "pipeline ",
        "stage ",
        "order\n",
    ];
    let mut x = 42u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

/// `--progress` among the arguments (removed from them): whether to show
/// para's progress line, which needs this package's `progress` feature.
fn progress_flag(args: &mut Vec<String>, example: &str) -> bool {
    let Some(at) = args.iter().position(|a| a == "--progress") else {
        return false;
    };
    args.remove(at);
    if cfg!(not(feature = "progress")) {
        eprintln!(
            "--progress needs the `progress` feature (para's live progress line); run \
             `cargo run --release --features progress --example {example} -- --progress ...`. \
             Going on without it."
        );
    }
    true
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let progress = progress_flag(&mut args, "compress");
    let input = match args.first() {
        Some(path) if path != "-" => std::fs::read(path).expect("read the input file"),
        _ => generated_text(16 << 20),
    };

    let started = std::time::Instant::now();
    let mut expected = Vec::new();
    for chunk in input.chunks(CHUNK) {
        append(&mut expected, &zlib(chunk));
    }
    let sequential = started.elapsed();

    let mut out = Vec::new();
    #[cfg(feature = "progress")]
    let report = pipeline!(progress = progress,
        input.chunks(CHUNK) => zlib => #[ordered] |z| append(&mut out, &z)
    );
    #[cfg(not(feature = "progress"))]
    let report = {
        let _ = progress; // said so in `progress_flag`
        pipeline!(input.chunks(CHUNK) => zlib => #[ordered] |z| append(&mut out, &z))
    };
    assert_eq!(
        out, expected,
        "output must be identical to the sequential result"
    );

    // Decompress to check the round trip.
    let mut restored = Vec::with_capacity(input.len());
    let mut rest = &out[..];
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("length")) as usize;
        let mut decoder = flate2::read::ZlibDecoder::new(&rest[4..4 + len]);
        decoder.read_to_end(&mut restored).expect("decompress");
        rest = &rest[4 + len..];
    }
    assert_eq!(restored, input, "decompressing gives the input back");
    if let Some(path) = args.get(1) {
        std::fs::write(path, &out).expect("write the output");
    }

    println!(
        "{} bytes -> {} bytes in {} chunks; sequential {:.1} ms, para {:.1} ms ({:.2}x)\n",
        input.len(),
        out.len(),
        input.len().div_ceil(CHUNK),
        sequential.as_secs_f64() * 1e3,
        report.elapsed().as_secs_f64() * 1e3,
        sequential.as_secs_f64() / report.elapsed().as_secs_f64()
    );
    println!("{report}");
}
