//! Word frequencies over a text file, with a fan-out to two branches: one
//! splits the lines into words and counts them with `fold` (a `HashMap` per
//! worker, merged by a serial sink when the input ends), the other counts
//! lines and bytes. The counts are checked against a sequential loop.
//!
//! Run: `cargo run --release --example wordfreq [--progress] [FILE]`
//! (without a file, a generated text of 200,000 lines is written to a
//! temporary file first, and removed after the run). `--progress` shows
//! para's live progress line on stderr (lines of a file: no length known
//! ahead, so no ETA); it needs the `progress` feature (`cargo run --release
//! --features progress --example wordfreq -- --progress FILE`), and says
//! so without it.

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

/// `fold`'s `op`: counts one word into a worker's map.
#[inline]
fn count(mut counts: HashMap<String, u64>, word: String) -> HashMap<String, u64> {
    *counts.entry(word).or_default() += 1;
    counts
}

/// Adds one worker's counts to the total.
fn merge(total: &mut HashMap<String, u64>, counts: HashMap<String, u64>) {
    for (word, n) in counts {
        *total.entry(word).or_default() += n;
    }
}

/// The same counts from a plain sequential loop: (words, lines, bytes).
fn sequential(path: &std::path::Path) -> (HashMap<String, u64>, u64, u64) {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let (mut line_count, mut bytes) = (0u64, 0u64);
    for line in BufReader::new(std::fs::File::open(path).expect("open the text file")).lines() {
        let line = line.expect("read a line").to_lowercase();
        for word in line.split_whitespace() {
            *counts.entry(word.to_string()).or_default() += 1;
        }
        line_count += 1;
        bytes += line.len() as u64 + 1;
    }
    (counts, line_count, bytes)
}

#[path = "shared/progress.rs"]
mod progress;

use progress::progress_flag;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let progress = progress_flag(&mut args, "wordfreq");
    let file = args.first().cloned();
    let generated = file.is_none();
    let path = file.map_or_else(generated_file, Into::into);
    let expected = sequential(&path);
    let lines = BufReader::new(std::fs::File::open(&path).expect("open the text file"))
        .lines()
        .map(|line| line.expect("read a line"));

    let mut counts: HashMap<String, u64> = HashMap::new();
    let (mut line_count, mut bytes) = (0u64, 0u64);
    #[cfg(feature = "progress")]
    let report = pipeline!(progress = progress,
        lines => |line: String| line.to_lowercase() => (
            flat_map(|line: String| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                => fold(HashMap::new, count)
                => |m| merge(&mut counts, m),
            |line: String| { line_count += 1; bytes += line.len() as u64 + 1 }
        )
    );
    #[cfg(not(feature = "progress"))]
    let report = {
        let _ = progress; // said so in `progress_flag`
        pipeline!(
            lines => |line: String| line.to_lowercase() => (
                flat_map(|line: String| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    => fold(HashMap::new, count)
                    => |m| merge(&mut counts, m),
                |line: String| { line_count += 1; bytes += line.len() as u64 + 1 }
            )
        )
    };

    if generated {
        std::fs::remove_file(&path).expect("remove the generated file");
    }
    assert_eq!(
        (&counts, line_count, bytes),
        (&expected.0, expected.1, expected.2),
        "the counts must match the sequential loop"
    );

    let mut top: Vec<_> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "{}: {line_count} lines, {bytes} bytes (word counts match the sequential loop)",
        path.display()
    );
    for (word, n) in top.iter().take(10) {
        println!("  {word:<12} {n}");
    }
    println!("\n{report}");
}
