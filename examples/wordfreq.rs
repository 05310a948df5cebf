//! Word frequencies over a text file, with a fan-out to two sinks: one counts
//! words, the other counts lines and bytes.
//!
//! Run: `cargo run --release --example wordfreq [FILE]` (without a file, a
//! generated text of 200,000 lines is written to a temporary file first).

use para::prelude::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};

fn generated_file() -> std::path::PathBuf {
    let words = [
        "pipe", "line", "stage", "item", "batch", "worker", "queue", "steal",
    ];
    let path = std::env::temp_dir().join(format!("para-wordfreq-{}.txt", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..200_000 {
        let mut line = Vec::new();
        for _ in 0..10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(words[(x % words.len() as u64) as usize]);
        }
        writeln!(file, "{}", line.join(" ")).expect("write");
    }
    path
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .map_or_else(generated_file, Into::into);
    let lines = BufReader::new(std::fs::File::open(&path).expect("open the text file"))
        .lines()
        .map(|line| line.expect("read a line"));

    let mut counts: HashMap<String, u64> = HashMap::new();
    let (mut line_count, mut bytes) = (0u64, 0u64);
    let report = pipeline!(
        lines => |line: String| line.to_lowercase() => (
            |line: String| line.split_whitespace().map(str::to_string).collect::<Vec<_>>()
                => unbatch()
                => |word: String| *counts.entry(word).or_default() += 1,
            |line: String| { line_count += 1; bytes += line.len() as u64 + 1 }
        )
    );

    let mut top: Vec<_> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("{}: {line_count} lines, {bytes} bytes", path.display());
    for (word, n) in top.iter().take(10) {
        println!("  {word:<12} {n}");
    }
    println!("\n{report}");
}
