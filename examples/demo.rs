//! The demo pipeline: word statistics over generated text.
//!
//! Written with `pipeline!`: a split source hands out line numbers to
//! several workers at once; a
//! parallel stage generates each line (a fixed-seed xorshift picks among 64
//! English words) and tokenizes it; the tokens fan out to two branches: a
//! serial sink counting word frequencies, and an ordered sink folding a
//! checksum of the lines in source order. The same checksum is computed by a
//! plain sequential loop, and the run's report is printed.
//!
//! Run: `cargo run --release --example demo [LINES] [THREADS]`

use para::prelude::*;
use std::collections::HashMap;
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
fn fold(mut hash: u64, text: &str) -> u64 {
    for b in text.bytes().chain(std::iter::once(b'\n')) {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}

/// Word indices of a line.
fn tokenize(text: &str, index: &HashMap<&str, usize>) -> Vec<usize> {
    text.split(' ').map(|w| index[w]).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let lines: u64 = args.next().map_or(400_000, |a| a.parse().expect("LINES"));
    let threads: usize = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(2, |n| n.get()),
        |a| a.parse().expect("THREADS"),
    );
    let index: HashMap<&str, usize> = WORDS.iter().enumerate().map(|(i, w)| (*w, i)).collect();

    // The same computation as a plain sequential loop, for reference.
    let started = Instant::now();
    let mut expected_counts = [0u64; 64];
    let mut expected = 0xcbf2_9ce4_8422_2325u64;
    for n in 0..lines {
        let text = line(n);
        for w in tokenize(&text, &index) {
            expected_counts[w] += 1;
        }
        expected = fold(expected, &text);
    }
    let sequential = started.elapsed();

    let mut counts = [0u64; 64];
    let mut checksum = 0xcbf2_9ce4_8422_2325u64;
    let report = pipeline!(threads = threads, capacity = 1 << 16,
        #[split] 'line_numbers: 0..lines => 'generate: line => (
            'tokenize: flat_map(|l: String| tokenize(&l, &index)) => 'count_words: |w| counts[w] += 1,
            #[ordered] 'checksum: |l: String| checksum = fold(checksum, &l)
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
    let total: u64 = counts.iter().sum();
    let mut top: Vec<(&str, u64)> = WORDS.iter().copied().zip(counts).collect();
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
}
