//! What the timeline trace (`trace = "run.json"`) costs on the reference
//! workloads W1 (fine: 20,000,000 `u64`s through two ~1 ns maps into a
//! serial sum) and W3 (zlib: 64 MiB of generated text in 1 MiB chunks,
//! compressed in parallel, an ordered sink), as defined in
//! benches/README.md and written there as `pipeline!`s: each is run here
//! as that same `pipeline!`, once as is and once with `trace = PATH`,
//! alternating, and the medians are compared.
//!
//! `cargo run --release --example trace_overhead -- [--threads T] [--runs R] [--scale S]`
//! (defaults: 2 threads, 5 runs of each, scale 1.0). The trace files go to
//! the system's temporary directory and are removed afterwards.

use flate2::write::ZlibEncoder;
use flate2::Compression;
use para::prelude::*;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The 64 words of W3's generated text (benches/workloads/w3_zlib.rs).
const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "pipeline",
];

/// W3's text: words chosen by a fixed-seed xorshift64, a newline after
/// every 16th.
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

fn zlib(chunk: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(chunk.len() / 2), Compression::new(6));
    encoder.write_all(chunk).expect("compress");
    encoder.finish().expect("compress")
}

fn append(out: &mut Vec<u8>, z: &[u8]) {
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(z);
}

/// The times of one run: the run itself ([`Report::elapsed`]) and the
/// whole call, which with a trace includes writing the file.
#[derive(Clone, Copy)]
struct Times {
    run: Duration,
    call: Duration,
}

/// W1 as benches/workloads/w1_fine.rs writes it, with or without a trace.
fn w1(n: u64, threads: usize, trace: Option<&Path>) -> (u64, Times) {
    let mut sum = 0u64;
    let started = Instant::now();
    let report = match trace {
        None => {
            pipeline!(threads = threads, 0..n
                => |x| x.wrapping_mul(2654435761).wrapping_add(1)
                => |x| x ^ (x >> 7)
                => |x| sum = sum.wrapping_add(x))
        }
        Some(path) => {
            pipeline!(threads = threads, trace = path, 0..n
                => |x| x.wrapping_mul(2654435761).wrapping_add(1)
                => |x| x ^ (x >> 7)
                => |x| sum = sum.wrapping_add(x))
        }
    };
    let call = started.elapsed();
    (
        sum,
        Times {
            run: report.elapsed(),
            call,
        },
    )
}

/// W3 as benches/workloads/w3_zlib.rs writes it, with or without a trace.
fn w3(text: &[u8], threads: usize, trace: Option<&Path>) -> (u64, Times) {
    let mut out = Vec::with_capacity(text.len() / 2);
    let started = Instant::now();
    let report = match trace {
        None => {
            pipeline!(threads = threads, text.chunks(1 << 20) => zlib => #[ordered] |z| append(&mut out, &z))
        }
        Some(path) => {
            pipeline!(threads = threads, trace = path, text.chunks(1 << 20) => zlib => #[ordered] |z| append(&mut out, &z))
        }
    };
    let call = started.elapsed();
    (
        fnv1a(&out),
        Times {
            run: report.elapsed(),
            call,
        },
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut threads = 2;
    let mut runs = 5;
    let mut scale = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--threads" => threads = value().parse().expect("--threads N"),
            "--runs" => runs = value().parse().expect("--runs N"),
            "--scale" => scale = value().parse().expect("--scale S"),
            other => panic!("unknown argument {other}; see the example's doc"),
        }
    }
    let path =
        std::env::temp_dir().join(format!("para-trace-overhead-{}.json", std::process::id()));
    let n = ((20_000_000.0 * scale) as u64).max(1000);
    let text = generated_text(((64.0 * (1 << 20) as f64 * scale) as usize).max(5 << 19));
    println!(
        "trace overhead, {threads} threads, median of {runs} runs each (off and on alternating)"
    );
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut size = 0;
    for _ in 0..runs {
        let (a, t) = w1(n, threads, None);
        off.push(t);
        // Removed first: truncating a large file costs milliseconds of I/O.
        let _ = std::fs::remove_file(&path);
        let (b, t) = w1(n, threads, Some(&path));
        on.push(t);
        assert_eq!(a, b);
        size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    report("W1", n, off, on, size);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (a, t) = w3(&text, threads, None);
        off.push(t);
        let _ = std::fs::remove_file(&path);
        let (b, t) = w3(&text, threads, Some(&path));
        on.push(t);
        assert_eq!(a, b);
        size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    report("W3", text.len().div_ceil(1 << 20) as u64, off, on, size);
    let _ = std::fs::remove_file(&path);
}

/// Prints the medians: time per item of the run, and of the whole call
/// (with a trace: writing the file included).
fn report(id: &str, items: u64, off: Vec<Times>, on: Vec<Times>, trace_bytes: u64) {
    let per = |v: &[Times], f: fn(&Times) -> Duration| {
        median(v.iter().map(f).collect()).as_nanos() as f64 / items as f64
    };
    let unit = |ns: f64| {
        if ns >= 1e6 {
            format!("{:.2} ms", ns / 1e6)
        } else {
            format!("{ns:.3} ns")
        }
    };
    let (run_off, run_on) = (per(&off, |t| t.run), per(&on, |t| t.run));
    let (call_off, call_on) = (per(&off, |t| t.call), per(&on, |t| t.call));
    println!(
        "{id} per item: run {} off, {} traced ({:+.1}%); with writing the file {} off, {} traced \
         ({:+.1}%); trace file {} KiB",
        unit(run_off),
        unit(run_on),
        (run_on / run_off - 1.0) * 100.0,
        unit(call_off),
        unit(call_on),
        (call_on / call_off - 1.0) * 100.0,
        trace_bytes / 1024
    );
}
