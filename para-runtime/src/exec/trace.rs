//! The timeline trace of a run (`Options::trace`, SPEC section 7): a
//! Chrome trace-event file, which Perfetto (<https://ui.perfetto.dev>) and
//! `chrome://tracing` open.
//!
//! # What it holds
//!
//! * One track (`tid`) per worker slot (`worker N`), per device lane
//!   (`lane LABEL.K`), and one per other thread that ran a batch (the caller
//!   or a stream's keeper starting the sources: `outside N`), each named by
//!   a `thread_name` metadata event (`"ph": "M"`).
//! * One complete slice (`"ph": "X"`) per batch a node ran: named by the
//!   stage's label, its kind as category, `items_in` and `items_out` in its
//!   arguments. Every batch the [`Report`](crate::Report) counts is a slice:
//!   both come from `Executor::record`, which a node calls once per batch
//!   (`NodeReport::batches` sums the same calls).
//! * Instant events (`"ph": "i"`, thread scope) for a source parked at the
//!   capacity bound (`park`), a task stolen from another worker (`steal`)
//!   and a stall flush that emitted a stage's partial state (`stall
//!   flush`).
//! * A counter track (`"ph": "C"`) `items alive`: the capacity units inside
//!   the graph, sampled by each thread at most every [`COUNTER_EVERY_NS`]
//!   when it ends a batch, and at every park.
//!
//! Timestamps are microseconds since the run started (nanosecond
//! precision, as decimals).
//!
//! # Cost
//!
//! Off (the default) the hot path pays one check per *timed* batch (one in
//! eight of the fine ones: see `exec::stats`), in `Executor::record`, of an
//! `Option` that is `None` for the whole run. On, every batch is timed, and
//! each thread appends its events to a buffer of its own ([`Track`]) with no
//! lock; a thread hands its buffer to the [`Recorder`] once, when its loop
//! ends, and the file is written when the run ends.
//!
//! May import: `api`, `sync` (as every module of `exec`).

use crate::api::id::NodeId;
use crate::exec::plan::NodePlan;
use crate::sync::{lock, AtomicUsize, Mutex, Ordering};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A thread samples `items alive` at most this often (in ns of run time):
/// often enough to draw the curve at the scale of a batch (about 50 µs of
/// work: see `exec::sizing`), rarely enough that the counter adds little to
/// a trace of fine batches.
pub(crate) const COUNTER_EVERY_NS: u64 = 50_000;

/// What happened at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A source found the graph full and parked (node: the source).
    Park,
    /// A task was taken from another worker's deque (node: the task's;
    /// `victim`: that worker).
    Steal { victim: u32 },
    /// A stall flush emitted a stage's partial state (node: the stage).
    StallFlush,
}

/// One event of a track, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug)]
enum Event {
    Slice {
        node: u32,
        start: u64,
        dur: u64,
        items_in: u64,
        items_out: u64,
    },
    Instant {
        node: u32,
        at: u64,
        mark: Mark,
    },
    Alive {
        at: u64,
        alive: u64,
    },
}

/// The events one thread recorded, on one track: appended without a lock,
/// handed to the [`Recorder`] once ([`Recorder::hand_in`]).
pub(crate) struct Track {
    tid: u32,
    origin: Instant,
    events: Vec<Event>,
    /// When this track last sampled `items alive` (ns; `None`: never).
    last_alive: Option<u64>,
}

impl Track {
    fn since_origin(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// A batch of node `id` that started at `started` and took `busy`;
    /// `alive` reads the items alive, sampled at most every
    /// [`COUNTER_EVERY_NS`].
    pub(crate) fn slice(
        &mut self,
        id: NodeId,
        started: Instant,
        busy: Duration,
        items_in: usize,
        items_out: usize,
        alive: impl FnOnce() -> usize,
    ) {
        let start = self.since_origin(started);
        let dur = busy.as_nanos() as u64;
        self.events.push(Event::Slice {
            node: id.index() as u32,
            start,
            dur,
            items_in: items_in as u64,
            items_out: items_out as u64,
        });
        let end = start + dur;
        let due = match self.last_alive {
            None => true,
            Some(last) => end >= last + COUNTER_EVERY_NS,
        };
        if due {
            self.last_alive = Some(end);
            self.events.push(Event::Alive {
                at: end,
                alive: alive() as u64,
            });
        }
    }

    /// An instant event about node `id`, now. A park also samples the
    /// items alive (the graph is full then: the curve's peaks).
    pub(crate) fn mark(&mut self, id: NodeId, mark: Mark, alive: impl FnOnce() -> usize) {
        let at = self.since_origin(Instant::now());
        self.events.push(Event::Instant {
            node: id.index() as u32,
            at,
            mark,
        });
        if mark == Mark::Park {
            self.last_alive = Some(at);
            self.events.push(Event::Alive {
                at,
                alive: alive() as u64,
            });
        }
    }
}

/// Who a track belongs to, for its name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    Worker(usize),
    Lane { node: NodeId, lane: usize },
    Outside(usize),
}

/// The trace of one run: the file (created when the run is set up, so a
/// bad path fails before any work is done), the run's start, and the
/// tracks the threads handed in.
pub(crate) struct Recorder {
    path: PathBuf,
    file: Mutex<Option<File>>,
    origin: Instant,
    threads: usize,
    /// The first track id of device lanes (after the workers'), and of
    /// the other threads (after the lanes').
    lanes: Vec<(NodeId, usize, u32)>,
    next_outside: AtomicUsize,
    first_outside: u32,
    handed_in: Mutex<Vec<Track>>,
}

impl Recorder {
    /// A recorder writing to `path`, for a run of `threads` workers and
    /// the device lanes `plans` ask for.
    ///
    /// # Panics
    ///
    /// If the file cannot be created (before the run starts).
    pub(crate) fn create(path: &Path, threads: usize, plans: &[NodePlan]) -> Self {
        let file = File::create(path).unwrap_or_else(|e| {
            panic!("para: cannot create the trace file {}: {e}", path.display())
        });
        let mut lanes = Vec::new();
        let mut tid = threads as u32;
        for (index, plan) in plans.iter().enumerate() {
            for lane in 0..plan.lanes {
                lanes.push((NodeId::new(index), lane, tid));
                tid += 1;
            }
        }
        Recorder {
            path: path.to_path_buf(),
            file: Mutex::new(Some(file)),
            origin: Instant::now(),
            threads,
            lanes,
            next_outside: AtomicUsize::new(0),
            first_outside: tid,
            handed_in: Mutex::new(Vec::new()),
        }
    }

    fn track(&self, tid: u32) -> Track {
        Track {
            tid,
            origin: self.origin,
            events: Vec::new(),
            last_alive: None,
        }
    }

    /// The track of worker slot `index`.
    pub(crate) fn worker(&self, index: usize) -> Track {
        self.track(index as u32)
    }

    /// The track of lane `lane` of device node `node`.
    pub(crate) fn lane(&self, node: NodeId, lane: usize) -> Track {
        let tid = self
            .lanes
            .iter()
            .find(|&&(n, l, _)| n == node && l == lane)
            .map(|&(_, _, tid)| tid)
            .expect("para internal error: a lane the plan has no track for");
        self.track(tid)
    }

    /// The track of another thread (the caller, a stream's keeper).
    pub(crate) fn outside(&self) -> Track {
        // Relaxed: a counter handing out distinct ids, ordered by nothing.
        let k = self.next_outside.fetch_add(1, Ordering::Relaxed) as u32;
        self.track(self.first_outside + k)
    }

    /// Keeps what a thread recorded, once its loop ends (one lock per loop,
    /// never per event).
    pub(crate) fn hand_in(&self, track: Track) {
        if !track.events.is_empty() {
            lock(&self.handed_in).push(track);
        }
    }

    fn owner(&self, tid: u32) -> Owner {
        if (tid as usize) < self.threads {
            return Owner::Worker(tid as usize);
        }
        match self.lanes.iter().find(|&&(_, _, t)| t == tid) {
            Some(&(node, lane, _)) => Owner::Lane { node, lane },
            None => Owner::Outside((tid - self.first_outside) as usize),
        }
    }

    /// Writes the file, once, when the run has ended: every thread has
    /// handed its track in by then.
    ///
    /// # Errors
    ///
    /// An I/O error writing the file.
    pub(crate) fn write(&self, plans: &[NodePlan]) -> io::Result<()> {
        let Some(file) = lock(&self.file).take() else {
            return Ok(());
        };
        let tracks = std::mem::take(&mut *lock(&self.handed_in));
        let mut out = BufWriter::new(file);
        out.write_all(self.render(&tracks, plans).as_bytes())?;
        out.flush()
    }

    /// The JSON text of the trace.
    fn render(&self, tracks: &[Track], plans: &[NodePlan]) -> String {
        let mut tids: Vec<u32> = (0..self.threads as u32)
            .chain(self.lanes.iter().map(|&(_, _, t)| t))
            .chain(tracks.iter().map(|t| t.tid))
            .collect();
        tids.sort_unstable();
        tids.dedup();
        let mut events: Vec<(u32, Event)> = tracks
            .iter()
            .flat_map(|t| t.events.iter().map(move |&e| (t.tid, e)))
            .collect();
        events.sort_by_key(|&(tid, e)| (at(&e), tid));
        let mut s = String::with_capacity(64 * (events.len() + tids.len()) + 256);
        s.push_str("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        s.push_str("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,");
        s.push_str("\"args\":{\"name\":\"para run\"}}");
        for &tid in &tids {
            let name = match self.owner(tid) {
                Owner::Worker(i) => format!("worker {i}"),
                Owner::Lane { node, lane } => {
                    format!("lane {}.{lane}", plans[node.index()].label)
                }
                Owner::Outside(k) => format!("outside {k}"),
            };
            let _ = write!(
                s,
                ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\
                 \"args\":{{\"name\":{}}}}}",
                json_string(&name)
            );
            let _ = write!(
                s,
                ",\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\
                 \"args\":{{\"sort_index\":{tid}}}}}"
            );
        }
        // Each node's label and kind as JSON strings, escaped once.
        let names: Vec<(String, String)> = plans
            .iter()
            .map(|p| (json_string(&p.label), json_string(p.kind)))
            .collect();
        // The events, by hand: `write!` cost about 200 ns per event.
        for (tid, event) in events {
            match event {
                Event::Slice {
                    node,
                    start,
                    dur,
                    items_in,
                    items_out,
                } => {
                    let (label, kind) = &names[node as usize];
                    s.push_str(",\n{\"name\":");
                    s.push_str(label);
                    s.push_str(",\"cat\":");
                    s.push_str(kind);
                    s.push_str(",\"ph\":\"X\",\"pid\":1,\"tid\":");
                    push_u64(&mut s, tid.into());
                    s.push_str(",\"ts\":");
                    push_micros(&mut s, start);
                    s.push_str(",\"dur\":");
                    push_micros(&mut s, dur);
                    s.push_str(",\"args\":{\"node\":");
                    push_u64(&mut s, node.into());
                    s.push_str(",\"items_in\":");
                    push_u64(&mut s, items_in);
                    s.push_str(",\"items_out\":");
                    push_u64(&mut s, items_out);
                    s.push_str("}}");
                }
                Event::Instant { node, at, mark } => {
                    s.push_str(",\n{\"name\":\"");
                    s.push_str(match mark {
                        Mark::Park => "park",
                        Mark::Steal { .. } => "steal",
                        Mark::StallFlush => "stall flush",
                    });
                    s.push_str(
                        "\",\"cat\":\"runtime\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":",
                    );
                    push_u64(&mut s, tid.into());
                    s.push_str(",\"ts\":");
                    push_micros(&mut s, at);
                    s.push_str(",\"args\":{\"stage\":");
                    s.push_str(&names[node as usize].0);
                    if let Mark::Steal { victim } = mark {
                        s.push_str(",\"victim\":");
                        push_u64(&mut s, victim.into());
                    }
                    s.push_str("}}");
                }
                Event::Alive { at, alive } => {
                    s.push_str(",\n{\"name\":\"items alive\",\"ph\":\"C\",\"pid\":1,\"tid\":");
                    push_u64(&mut s, tid.into());
                    s.push_str(",\"ts\":");
                    push_micros(&mut s, at);
                    s.push_str(",\"args\":{\"alive\":");
                    push_u64(&mut s, alive);
                    s.push_str("}}");
                }
            }
        }
        s.push_str("\n]}\n");
        s
    }

    /// Where the trace goes.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// When an event happened (a slice: when it started).
fn at(event: &Event) -> u64 {
    match *event {
        Event::Slice { start, .. } => start,
        Event::Instant { at, .. } | Event::Alive { at, .. } => at,
    }
}

/// Appends `n` in decimal.
fn push_u64(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// Appends nanoseconds as microseconds with three decimals (exact).
fn push_micros(s: &mut String, ns: u64) {
    push_u64(s, ns / 1000);
    let frac = ns % 1000;
    s.push('.');
    s.push(char::from(b'0' + (frac / 100) as u8));
    s.push(char::from(b'0' + (frac / 10 % 10) as u8));
    s.push(char::from(b'0' + (frac % 10) as u8));
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn numbers_are_written_exactly() {
        let mut s = String::new();
        push_micros(&mut s, 1_234_567);
        s.push(' ');
        push_micros(&mut s, 5);
        s.push(' ');
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, u64::MAX);
        assert_eq!(s, "1234.567 0.005 0 18446744073709551615");
    }
}
