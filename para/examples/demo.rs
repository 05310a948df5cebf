//! The demo pipeline: word statistics over generated text.
//!
//! Written with `pipeline!`: a split source hands out line numbers to
//! several workers at once; a parallel stage generates each line (a
//! fixed-seed xorshift picks among 64 English words); the lines fan out to
//! two branches. One splits each line into words (`flat_map`) and counts
//! them with `fold`: every worker counts into a `HashMap` of its own, and a
//! serial sink merges the few maps when the input ends, so the counting is
//! no serial bottleneck. The other folds a checksum of the lines in source
//! order (an ordered sink). The same counts and checksum are computed by a
//! plain sequential loop, and the run's report is printed.
//!
//! Run: `cargo run --release -p para --example demo [LINES] [THREADS]
//! [--dot FILE] [--svg FILE]`: `--dot` writes the report's Graphviz
//! drawing (`Report::to_dot`: stages shaded by their share of the busy
//! time, edges labelled with item counts), `--svg` renders it with
//! Graphviz's `dot` (`Report::to_svg`; docs/demo-report.svg in the
//! repository is one).

use para::prelude::*;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "him",
];

/// Line `n` of the generated text: 12 words chosen by a xorshift seeded by `n`.
fn line(n: u64) -> String {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(80);
    for i in 0..12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[(x % 64) as usize]);
    }
    out
}

/// FNV-1a over a line, folded into a running checksum.
fn checksum_line(mut hash: u64, text: &str) -> u64 {
    for b in text.bytes().chain(std::iter::once(b'\n')) {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// The words of a line, as the vocabulary's own `&'static str`s, so that
/// they outlive the line they were read from.
fn words(text: &str, vocabulary: &HashSet<&'static str>) -> Vec<&'static str> {
    text.split(' ')
        .map(|w| *vocabulary.get(w).expect("a word of the vocabulary"))
        .collect()
}

/// `fold`'s `op`: counts one word into a worker's map. `#[inline]`: called
/// once per word, and without the hint rustc kept it out of line in the
/// fold's loop (the demo measured 1.50x instead of 1.61x at 2 threads).
#[inline]
fn count(mut counts: HashMap<&'static str, u64>, word: &'static str) -> HashMap<&'static str, u64> {
    *counts.entry(word).or_default() += 1;
    counts
}

/// Adds one worker's counts to the total.
fn merge(total: &mut HashMap<&'static str, u64>, counts: HashMap<&'static str, u64>) {
    for (word, n) in counts {
        *total.entry(word).or_default() += n;
    }
}

fn main() {
    // `--dot FILE` and `--svg FILE` anywhere; the rest are LINES THREADS.
    let (mut dot, mut svg) = (None, None);
    let mut positional = Vec::new();
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--dot" => dot = Some(argv.next().expect("--dot FILE")),
            "--svg" => svg = Some(argv.next().expect("--svg FILE")),
            _ => positional.push(arg),
        }
    }
    let mut args = positional.into_iter();
    let lines: u64 = args.next().map_or(400_000, |a| a.parse().expect("LINES"));
    let threads: usize = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |a| a.parse().expect("THREADS"),
    );
    let vocabulary: HashSet<&'static str> = WORDS.into_iter().collect();

    // The same computation as a plain sequential loop, for reference.
    let started = Instant::now();
    let mut expected_counts: HashMap<&str, u64> = HashMap::new();
    let mut expected = 0xcbf2_9ce4_8422_2325u64;
    for n in 0..lines {
        let text = line(n);
        for w in words(&text, &vocabulary) {
            *expected_counts.entry(w).or_default() += 1;
        }
        expected = checksum_line(expected, &text);
    }
    let sequential = started.elapsed();

    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut checksum = 0xcbf2_9ce4_8422_2325u64;
    let report = pipeline!(threads = threads, capacity = 1 << 16,
        #[split] 'line_numbers: 0..lines => 'generate: line => (
            'tokenize: flat_map(|l: String| words(&l, &vocabulary))
                => 'count_words: fold(HashMap::new, count) => 'merge: |m| merge(&mut counts, m),
            #[ordered] 'checksum: |l: String| checksum = checksum_line(checksum, &l)
        )
    );

    assert_eq!(
        checksum, expected,
        "the ordered checksum must match the sequential loop"
    );
    assert_eq!(
        counts, expected_counts,
        "the word counts must match the sequential loop"
    );
    let total: u64 = counts.values().sum();
    let mut top: Vec<(&str, u64)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));

    println!("Para demo: word statistics over {lines} generated lines, {threads} threads\n");
    println!("{report}\n");
    println!(
        "checksum {checksum:016x} and word counts match the sequential loop \
         ({:.1} ms sequential, {:.1} ms Para: {:.2}x)",
        sequential.as_secs_f64() * 1e3,
        report.elapsed().as_secs_f64() * 1e3,
        sequential.as_secs_f64() / report.elapsed().as_secs_f64()
    );
    println!("{total} words; most frequent:");
    for (word, n) in top.iter().take(5) {
        println!("  {word:<6} {n}");
    }
    if let Some(path) = dot {
        std::fs::write(&path, report.to_dot()).expect("write the --dot file");
        println!("report drawing (Graphviz) written to {path}");
    }
    if let Some(path) = svg {
        match report.to_svg() {
            Ok(svg) => {
                std::fs::write(&path, svg).expect("write the --svg file");
                println!("report drawing (SVG) written to {path}");
            }
            Err(e) => eprintln!("no SVG: Graphviz's `dot` could not render the report: {e}"),
        }
    }
}
