//! The `compress` example on a timely-dataflow cluster: the same 1 MiB
//! chunks, compressed with zlib on every worker of every process, and an
//! ordered sink on process 0 writing them in input order. Process 0 checks
//! that the output is byte-identical to single-machine Para's (the
//! `compress` example's output) and writes it with `--out`.
//!
//! Every process runs the same program; timely's flags choose the shape:
//!
//! ```text
//! # one process, 2 workers
//! cargo run --release --example cluster -- -w 2
//! # two processes on this machine (two shells; ports 2101 and 2102)
//! cargo run --release --example cluster -- -n 2 -p 0 --out out.z
//! cargo run --release --example cluster -- -n 2 -p 1
//! # machines listed in a hostfile (one `host:port` line per process)
//! cargo run --release --example cluster -- -n 2 -p 0 -h hosts.txt --input big.txt --out big.z
//! ```
//!
//! Every process must see the same input: the generated text (`--mib`,
//! default 16) or the same `--input` file. The chunks are a `#[split]`
//! source, so each worker compresses its own share of the file and only
//! the compressed chunks travel to process 0.
//!
//! `--io` prints what this process wrote (Linux: `wchar` of
//! `/proc/self/io`, sockets and stdout; the processes other than 0 write
//! little else, so it measures what they sent).
//!
//! `--workload mandel` runs W2 instead (Mandelbrot 2000 x 2000, rows to an
//! ordered sink); with `--compare` process 0 also times single-machine Para
//! at 2 threads and checks the image against it.

use para::prelude::*;
use std::io::Read;
use std::time::Instant;

#[path = "shared/chunks.rs"]
mod chunks;

use chunks::{append, generated_text, zlib, CHUNK};

/// Row `y` of W2's image (Mandelbrot, iteration counts `% 256`).
fn mandel_row(side: usize, y: usize) -> Vec<u8> {
    let n = side as f64;
    let cy = -1.5 + 3.0 * y as f64 / n;
    (0..side)
        .map(|px| {
            let cx = -2.0 + 3.0 * px as f64 / n;
            let (mut zx, mut zy, mut i) = (0.0f64, 0.0f64, 0u32);
            while i < 500 && zx * zx + zy * zy <= 4.0 {
                let t = zx * zx - zy * zy + cx;
                zy = 2.0 * zx * zy + cy;
                zx = t;
                i += 1;
            }
            (i % 256) as u8
        })
        .collect()
}

/// This example's own flags; the rest are timely's.
struct Args {
    input: Option<String>,
    out: Option<String>,
    mib: usize,
    mandel: bool,
    compare: bool,
    io: bool,
    timely: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        input: None,
        out: None,
        mib: 16,
        mandel: false,
        compare: false,
        io: false,
        timely: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--input" => args.input = Some(it.next().expect("--input FILE")),
            "--out" => args.out = Some(it.next().expect("--out FILE")),
            "--mib" => args.mib = it.next().and_then(|n| n.parse().ok()).expect("--mib N"),
            "--workload" => args.mandel = it.next().as_deref() == Some("mandel"),
            "--compare" => args.compare = true,
            "--io" => args.io = true,
            _ => args.timely.push(a),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let config = para::cluster::Config::from_args(args.timely.clone()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let io = args.io;
    if args.mandel {
        mandel(config, args.compare);
    } else {
        compress(config, args);
    }
    if io {
        let written = std::fs::read_to_string("/proc/self/io")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("wchar: ").map(|n| n.trim().to_string()))
            })
            .unwrap_or_else(|| "unknown".into());
        println!("this process wrote {written} bytes");
    }
}

fn compress(config: para::cluster::Config, args: Args) {
    let input = std::sync::Arc::new(match &args.input {
        Some(path) => std::fs::read(path).expect("read the input file"),
        None => generated_text(args.mib << 20),
    });
    let shared = std::sync::Arc::clone(&input);
    let result = para::cluster::execute(config, move |cx| {
        let input = &shared[..];
        let chunks = input.len().div_ceil(CHUNK);
        let started = Instant::now();
        let mut out = Vec::new();
        pipeline!(cluster = cx, batch = 1,
            #[split] 0..chunks
                => |i| zlib(&input[i * CHUNK..input.len().min((i + 1) * CHUNK)])
                => #[ordered] |z| append(&mut out, &z));
        (out, started.elapsed())
    });
    let (out, elapsed) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return, // not process 0: the output is there (process 0)
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };

    // Single-machine Para, as the `compress` example runs it.
    let started = Instant::now();
    let mut expected = Vec::new();
    pipeline!(threads = 2, input.chunks(CHUNK) => zlib => #[ordered] |z| append(&mut expected, &z));
    let single = started.elapsed();
    assert!(
        out == expected,
        "the cluster's output must equal single-machine Para's"
    );

    let mut restored = Vec::with_capacity(input.len());
    let mut rest = &out[..];
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("length")) as usize;
        let mut decoder = flate2::read::ZlibDecoder::new(&rest[4..4 + len]);
        decoder.read_to_end(&mut restored).expect("decompress");
        rest = &rest[4 + len..];
    }
    assert!(
        restored[..] == input[..],
        "decompressing gives the input back"
    );
    if let Some(path) = &args.out {
        std::fs::write(path, &out).expect("write the output");
    }
    println!(
        "{} bytes -> {} bytes in {} chunks; cluster {:.1} ms; single-machine Para at 2 threads {:.1} ms",
        input.len(),
        out.len(),
        input.len().div_ceil(CHUNK),
        elapsed.as_secs_f64() * 1e3,
        single.as_secs_f64() * 1e3,
    );
}

fn mandel(config: para::cluster::Config, compare: bool) {
    const SIDE: usize = 2000;
    let result = para::cluster::execute(config, |cx| {
        let started = Instant::now();
        let mut image = Vec::with_capacity(SIDE * SIDE);
        pipeline!(cluster = cx, batch = 8, capacity = 256,
            #[split] 0..SIDE => |y| mandel_row(SIDE, y) => #[ordered] |row| image.extend_from_slice(&row));
        (image, started.elapsed())
    });
    let (image, elapsed) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    print!(
        "W2 mandel {SIDE}x{SIDE}: cluster {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );
    if compare {
        let started = Instant::now();
        let mut expected = Vec::with_capacity(SIDE * SIDE);
        pipeline!(threads = 2, 0..SIDE => |y| mandel_row(SIDE, y) => #[ordered] |row| expected.extend_from_slice(&row));
        let single = started.elapsed();
        assert!(
            image == expected,
            "the cluster's image must equal single-machine Para's"
        );
        print!(
            "; single-machine Para at 2 threads {:.1} ms (cluster / single {:.2})",
            single.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() / single.as_secs_f64()
        );
    }
    println!();
}
