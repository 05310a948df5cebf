//! A parallel grep: the files under a directory are read and searched on all
//! cores, and the matching lines come out in file order, as soon as each is
//! known, through an ordered stream (SPEC section 5). With `--max N` the
//! loop stops after N matches, and dropping the stream cancels the rest of
//! the run: the walk stops and no more files are read.
//!
//! Run: `cargo run --release --example grep -- [PATTERN] [DIR] [--max N]`
//! (defaults: the pattern `fn `, the current directory, no limit). PATTERN
//! is a fixed string, not a regular expression. The walk skips hidden files
//! and directories (names starting with `.`) and directories named `target`,
//! and does not follow symbolic links to directories; files it cannot read
//! or that are not UTF-8 are skipped and counted. Matches are printed as
//! `path:line:text` on stdout, the summary on stderr.
//!
//! The pipeline is one line: the walk is the source, a parallel
//! `flat_map` reads and searches each file, and `#[ordered] yield` makes
//! the whole call an iterator of the matches in walk order. Its stages own
//! what they use (`move`, `Arc`), as a pipeline that runs in the background
//! without `scope = s` must.

use para::prelude::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One matching line.
struct Match {
    path: PathBuf,
    /// 1-based, as grep -n prints it.
    line: usize,
    text: String,
}

/// What happened to the files, counted by the pipeline's stages.
#[derive(Default)]
struct Counts {
    /// Files read and searched.
    searched: AtomicUsize,
    /// Files and directories that could not be read, and files that are not
    /// UTF-8 text.
    skipped: AtomicUsize,
}

impl Counts {
    fn skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }
}

/// The files under a directory, depth first, each directory's entries in
/// name order, so the order (and so the output) is the same on every run.
/// It is the pipeline's source: directories are read as the pipeline pulls
/// paths, while earlier files are being searched.
struct Walk {
    /// The entries still to visit of each directory being walked, the
    /// innermost last.
    pending: Vec<std::vec::IntoIter<PathBuf>>,
    counts: Arc<Counts>,
}

impl Walk {
    /// The walk of `root` (a directory, or a single file).
    fn new(root: &Path, counts: Arc<Counts>) -> Self {
        let mut walk = Walk {
            pending: Vec::new(),
            counts,
        };
        if root.is_dir() {
            walk.enter(root);
        } else {
            walk.pending.push(vec![root.to_path_buf()].into_iter());
        }
        walk
    }

    /// Queues the entries of `dir`, sorted by name, hidden ones left out.
    fn enter(&mut self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            self.counts.skip();
            return;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| match entry {
                Ok(entry) => Some(entry),
                Err(_) => {
                    self.counts.skip();
                    None
                }
            })
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .map(|entry| entry.path())
            .collect();
        paths.sort_unstable();
        self.pending.push(paths.into_iter());
    }
}

impl Iterator for Walk {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            let Some(path) = self.pending.last_mut()?.next() else {
                self.pending.pop();
                continue;
            };
            // symlink_metadata: a link to a directory is not entered (no
            // cycles); a link to a file is searched.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                self.counts.skip();
                continue;
            };
            if meta.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    self.enter(&path);
                }
            } else if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
                return Some(path);
            }
        }
    }
}

/// The lines of the file at `path` that contain `pattern`; none if the file
/// cannot be read or is not UTF-8 (counted as skipped).
fn search(path: PathBuf, pattern: &str, counts: &Counts) -> Vec<Match> {
    let text = match fs::read(&path).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(_)) | Err(_) => {
            counts.skip();
            return Vec::new();
        }
    };
    counts.searched.fetch_add(1, Ordering::Relaxed);
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(pattern))
        .map(|(i, line)| Match {
            path: path.clone(),
            line: i + 1,
            text: line.to_string(),
        })
        .collect()
}

struct Args {
    pattern: String,
    dir: PathBuf,
    max: Option<usize>,
}

fn usage() -> ! {
    eprintln!("usage: grep [PATTERN] [DIR] [--max N]  (defaults: `fn `, `.`, no limit)");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut positional = Vec::new();
    let mut max = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max" => {
                let n = args.next().and_then(|n| n.parse().ok());
                max = Some(n.unwrap_or_else(|| usage()));
            }
            "-h" | "--help" => usage(),
            _ => positional.push(arg),
        }
    }
    if positional.len() > 2 {
        usage();
    }
    let mut positional = positional.into_iter();
    Args {
        pattern: positional.next().unwrap_or_else(|| "fn ".to_string()),
        dir: positional
            .next()
            .map_or_else(|| PathBuf::from("."), PathBuf::from),
        max,
    }
}

/// `n` and the noun that agrees with it.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn main() {
    let args = parse_args();
    if let Err(e) = fs::metadata(&args.dir) {
        eprintln!("grep: {}: {e}", args.dir.display());
        std::process::exit(2);
    }
    let started = Instant::now();
    let counts = Arc::new(Counts::default());

    let (pattern, stage_counts) = (args.pattern.clone(), counts.clone());
    let matches = pipeline!(
        Walk::new(&args.dir, counts.clone())
            => flat_map(move |path| search(path, &pattern, &stage_counts))
            => #[ordered] yield
    );

    let mut stdout = std::io::stdout().lock();
    let mut printed = 0;
    // `take` ends the loop after `--max` matches; the loop's end drops the
    // stream, which cancels the run if it has not ended.
    for m in matches.take(args.max.unwrap_or(usize::MAX)) {
        if writeln!(stdout, "{}:{}:{}", m.path.display(), m.line, m.text).is_err() {
            break; // stdout closed (`| head`): stop the search the same way
        }
        printed += 1;
    }
    drop(stdout);

    let skipped = counts.skipped.load(Ordering::Relaxed);
    eprintln!(
        "{} searched{}, {} printed{}, {:.1} ms",
        count(counts.searched.load(Ordering::Relaxed), "file", "files"),
        if skipped > 0 {
            format!(" ({skipped} skipped: unreadable or not UTF-8)")
        } else {
            String::new()
        },
        count(printed, "match", "matches"),
        match args.max {
            Some(max) if printed == max => format!(" (stopped at --max {max})"),
            _ => String::new(),
        },
        started.elapsed().as_secs_f64() * 1e3
    );
}
