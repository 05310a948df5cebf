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

use para::prelude::*;
use std::io::Read;

#[path = "shared/chunks.rs"]
mod chunks;
#[path = "shared/progress.rs"]
mod progress;

use chunks::{append, generated_text, zlib, CHUNK};
use progress::progress_flag;

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
