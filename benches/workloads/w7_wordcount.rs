//! W7 `wordcount`: 50 MB of generated text (a fixed-seed xorshift choosing
//! among W3's 64 English words, lines of at most 80 bytes); source: the
//! lines; `flat_map` into words; count per word into a `HashMap<&str,
//! usize>`. Checksum: FNV-1a 64 of every `word count` pair, most frequent
//! first (so the top 10 agree with the rest). The README demo's shape:
//! fine-grained 1 -> N items into a counting sink.
//!
//! Every implementation counts the way its library suggests: Para with
//! `fold` (one map per worker) and a serial sink merging the maps; rayon
//! with `par_lines().flat_map_iter(..).fold(..).reduce(..)`; the crossbeam
//! pipelines with one map per worker thread, sent to a merging thread when
//! the lines run out. Variant: Para with a plain counting sink instead of
//! the fold (the demo's shape before `fold`).
//!
//! The map is std's `HashMap` with its default hasher in every
//! implementation: what a user writes first, and the same per-word work
//! everywhere, so the ratios measure the parallel machinery.

use super::w3_zlib::WORDS;
use super::{batch_channel, fnv1a, item_channel, rayon_pool, send_batches};
use super::{Variant, Workload};
use crossbeam_channel::{Receiver, Sender};
use para::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;

/// Word counts, as every implementation builds them.
type Counts<'t> = HashMap<&'t str, usize>;

/// Bytes of text at scale 1 (benches/README.md: 50 MB).
const TEXT_BYTES: u64 = 50_000_000;

/// The longest line, in bytes without its newline.
const LINE_BYTES: usize = 80;

/// At least `len` bytes of text: words chosen by a fixed-seed xorshift64,
/// separated by single spaces, a newline before a word that would make the
/// line longer than [`LINE_BYTES`]; it ends with a whole line.
fn generated_text(len: usize) -> String {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = String::with_capacity(len + LINE_BYTES + 1);
    let mut line = 0;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word = WORDS[(x >> 58) as usize];
        if line > 0 && line + 1 + word.len() > LINE_BYTES {
            out.push('\n');
            line = 0;
            if out.len() >= len {
                return out;
            }
        }
        if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
}

/// The words of a line.
fn words(line: &str) -> std::str::SplitAsciiWhitespace<'_> {
    line.split_ascii_whitespace()
}

/// Counts one word (`fold`'s `op`). `#[inline]`: it runs once per word, and
/// without the hint rustc may keep it out of line in a library's loop.
#[inline]
fn count<'t>(mut counts: Counts<'t>, word: &'t str) -> Counts<'t> {
    *counts.entry(word).or_default() += 1;
    counts
}

/// Adds `counts` into `total`.
fn merge<'t>(total: &mut Counts<'t>, counts: Counts<'t>) {
    for (word, n) in counts {
        *total.entry(word).or_default() += n;
    }
}

/// The checksum of the counts: FNV-1a 64 of `word count\n` for every word,
/// most frequent first (ties by word).
fn checksum(counts: &Counts<'_>) -> u64 {
    let mut sorted: Vec<(&str, usize)> = counts.iter().map(|(&w, &n)| (w, n)).collect();
    sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut text = String::with_capacity(sorted.len() * 16);
    for (word, n) in sorted {
        text.push_str(word);
        text.push(' ');
        text.push_str(&n.to_string());
        text.push('\n');
    }
    fnv1a(text.as_bytes())
}

/// Counts the words of `lines` into `counts` (a crossbeam worker's loop).
fn count_lines<'t>(counts: &mut Counts<'t>, lines: impl IntoIterator<Item = &'t str>) {
    for line in lines {
        for word in words(line) {
            *counts.entry(word).or_default() += 1;
        }
    }
}

/// W7 with its input text.
pub struct Wordcount {
    text: String,
    lines: u64,
}

impl Wordcount {
    /// W7 with `50 MB * scale` of text (at least 4 KB).
    pub fn new(scale: f64) -> Self {
        let text = generated_text(super::scaled(TEXT_BYTES, scale, 4_000) as usize);
        let lines = text.lines().count() as u64;
        Wordcount { text, lines }
    }

    /// The crossbeam pipelines: a source thread sends messages (`send`),
    /// `threads` workers count the lines of each (`lines`) into a map of
    /// their own and send it on when the messages run out, a thread merges
    /// the maps.
    fn crossbeam_with<'t, M, L>(
        &'t self,
        threads: usize,
        (src_tx, work_rx): (Sender<M>, Receiver<M>),
        send: impl FnOnce(Sender<M>) + Send + 't,
        lines: impl Fn(M) -> L + Clone + Send + 't,
    ) -> u64
    where
        M: Send + 't,
        L: IntoIterator<Item = &'t str>,
    {
        let (work_tx, sink_rx) = crossbeam_channel::bounded::<Counts<'t>>(threads);
        let total = std::thread::scope(|s| {
            s.spawn(move || send(src_tx));
            for _ in 0..threads {
                let (rx, tx, lines) = (work_rx.clone(), work_tx.clone(), lines.clone());
                s.spawn(move || {
                    let mut counts = Counts::new();
                    for message in rx {
                        count_lines(&mut counts, lines(message));
                    }
                    let _ = tx.send(counts); // fails only if the merging thread panicked
                });
            }
            drop(work_tx);
            let sink = s.spawn(move || {
                let mut total = Counts::new();
                for counts in sink_rx {
                    merge(&mut total, counts);
                }
                total
            });
            sink.join().expect("sink")
        });
        checksum(&total)
    }

    /// W7 with a plain counting sink instead of the fold: every word goes
    /// through one serial stage (the demo's shape before `fold`).
    fn para_counting_sink(&self, threads: usize) -> u64 {
        let mut total = Counts::new();
        pipeline!(threads = threads,
            self.text.lines() => flat_map(words) => |w| *total.entry(w).or_default() += 1);
        checksum(&total)
    }
}

impl Workload for Wordcount {
    fn id(&self) -> &'static str {
        "W7"
    }

    fn name(&self) -> &'static str {
        "wordcount"
    }

    fn items(&self) -> u64 {
        self.lines
    }

    fn sequential(&self) -> u64 {
        let mut total = Counts::new();
        for line in self.text.lines() {
            for word in words(line) {
                *total.entry(word).or_default() += 1;
            }
        }
        checksum(&total)
    }

    fn rayon(&self, threads: usize) -> u64 {
        let total = rayon_pool(threads).install(|| {
            self.text
                .par_lines()
                .flat_map_iter(words)
                .fold(Counts::new, count)
                .reduce(Counts::new, |mut a, b| {
                    merge(&mut a, b);
                    a
                })
        });
        checksum(&total)
    }

    fn crossbeam(&self, threads: usize) -> u64 {
        self.crossbeam_with(
            threads,
            item_channel::<&str>(),
            |tx| {
                for line in self.text.lines() {
                    tx.send(line).expect("pipeline alive");
                }
            },
            |line| [line],
        )
    }

    fn crossbeam_batch(&self, threads: usize) -> u64 {
        self.crossbeam_with(
            threads,
            batch_channel::<(u64, Vec<&str>)>(threads),
            |tx| send_batches(self.text.lines(), &tx),
            |(_, lines)| lines,
        )
    }

    fn para(&self, threads: usize) -> u64 {
        let mut total = Counts::new();
        pipeline!(threads = threads,
            self.text.lines() => flat_map(words) => fold(Counts::new, count)
                => |counts| merge(&mut total, counts));
        checksum(&total)
    }

    fn variants(&self) -> &'static [Variant] {
        &[Variant::ParaCountingSink]
    }

    fn run_variant(&self, variant: Variant, threads: usize) -> u64 {
        match variant {
            Variant::ParaCountingSink => self.para_counting_sink(threads),
            other => panic!("W7 has no {} variant", other.name()),
        }
    }
}
