//! Randomised stress test: seeded random graph shapes built through
//! `para::Graph`, run at random thread counts, batch sizes and capacities,
//! and checked against a sequential interpreter of the same shape.
//!
//! A shape is a list of [`Step`]s over numbered streams (a stream is one
//! `Port<u64>`; each is produced once and consumed once). Two interpreters
//! read it: [`build`] makes the `Graph`, [`expected`] evaluates it
//! sequentially. Every sink is compared as a multiset, and its item count
//! with the report's; an ordered sink whose order is deterministic (one
//! origin, see `Meta`) is compared as a sequence: in source order and, for
//! the descendants of one source item, in fan-out branch order (the branch's
//! index in `fan_out`, whatever order the branches were connected in), then
//! in the order a branch made them.
//!
//! Some maps run a pipeline of their own per item (`Op::Nested`, on the
//! current pool or with `threads = 2`), so nesting is stressed with every
//! shape, option and capacity too.
//!
//! The regrouping stage (`batch`) is a new origin whose items are its groups,
//! and the runtime may cut a group short when the workers would go idle; so
//! the order of what it feeds is deterministic only where no fan-out and
//! fan-in lie between it and the ordered stage. The generator tracks that.
//!
//! The same cases also run with one flow ending in a stream in place of its
//! sink (`random_graphs_ending_in_a_stream_match_the_sequential_interpreter`,
//! see `StreamCase`): consumed fully, partly then `finish()`, or partly then
//! dropped, which cancels the run.
//!
//! Environment:
//! - `PARA_STRESS_CASES`: number of cases (default 300).
//! - `PARA_STRESS_STREAM_CASES`: number of stream cases (default 40);
//!   `PARA_STRESS_STREAM_CASE` runs the one with this seed.
//! - `PARA_STRESS_SEED`: base seed of the case seeds (default fixed).
//! - `PARA_STRESS_CASE`: run only the case with this seed (as printed on a
//!   failure), to reproduce it.
//! - `PARA_STRESS_MAX_ITEMS`: the most items a source yields (default
//!   20,000; up to 100,000 for long runs).
//!
//! Capacity: every item the graph carries holds a lineage token of the
//! source item it descends from (flat-map outputs and fan-out copies share
//! it); a token counts itself alive from its creation (after the source
//! reserved room) until its last holder is dropped, which is the SPEC's
//! "an item is alive from the moment its source yields it until its last
//! stage returns". With a `capacity`, the most tokens alive at once must not
//! exceed it, with no allowance: fan-out copies and flat-map items take
//! extra units of the runtime's count (see `Report::peak_alive`), but they
//! share their source item's token, so they can only make the runtime's
//! count higher than the tokens alive, never lower. Items waiting in a
//! `batch` group or a device accumulator hold their tokens too.
//!
//! A failing case is shrunk before it is reported: source sizes are halved
//! and the options simplified (one thread, no capacity, batch 1) for as long
//! as it still fails, and the smallest failing case is printed next to the
//! original.

use para::{Graph, NodeId, Options, Port, Report, StreamPort};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Random numbers (no dependency): SplitMix64.

/// The SplitMix64 finaliser: a good 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// ---------------------------------------------------------------------------
// The shape.

#[derive(Clone, Copy, Debug)]
enum SourceKind {
    /// `g.source(iterator)`.
    Iter,
    /// `g.split_source(Vec<u64>)`.
    SplitVec,
    /// `g.split_source(start..end)`.
    SplitRange,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Map(u64),
    SerialMap(u64),
    OrderedMap(u64),
    Filter(u64),
    FlatMap(u64),
    /// `g.device(port, batch, lanes, f)`; the body maps every item.
    Device {
        batch: usize,
        lanes: usize,
        k: u64,
    },
    /// `batch(size)`, a per-element map over the `Vec`, `unbatch()`.
    Regroup {
        size: usize,
        k: u64,
    },
    /// A parallel map whose body runs a pipeline of its own (on the
    /// current pool, or with `threads = 2`): nesting must neither hang nor
    /// lose items.
    Nested(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SinkKind {
    Serial,
    Parallel,
    Ordered,
}

#[derive(Clone, Debug)]
enum Step {
    Source {
        out: usize,
        kind: SourceKind,
        n: usize,
        salt: u64,
    },
    Op {
        inp: usize,
        out: usize,
        op: Op,
    },
    FanOut {
        inp: usize,
        outs: Vec<usize>,
    },
    FanIn {
        inps: Vec<usize>,
        out: usize,
    },
    Sink {
        inp: usize,
        kind: SinkKind,
        sink: usize,
    },
}

/// A generated case: the shape, the number of sinks, and which sinks must
/// see an exact sequence.
#[derive(Clone, Debug)]
struct Shape {
    steps: Vec<Step>,
    sinks: usize,
    /// For each sink, whether its order is deterministic (compared exactly).
    exact: Vec<bool>,
}

// The per-item functions, shared by both interpreters.

/// A parallel map with random, unbalanced per-item work: 0 to 255 rounds
/// of mixing, chosen by the item.
fn map_fn(k: u64, x: u64) -> u64 {
    let mut y = mix(x ^ k);
    for _ in 0..(y % 256) {
        y = mix(y);
    }
    y
}

/// How many items the pipeline nested in an `Op::Nested` stage runs over.
fn nested_len(k: u64, x: u64) -> u64 {
    (x ^ k) % 6 + 1
}

/// What the pipeline nested in an `Op::Nested` stage computes for `x`.
fn nested_fn(k: u64, x: u64) -> u64 {
    (0..nested_len(k, x))
        .map(|j| mix(x ^ k ^ j))
        .fold(0, u64::wrapping_add)
}

fn serial_fn(k: u64, x: u64) -> u64 {
    x.wrapping_mul(k | 1).rotate_left(13)
}

fn ordered_fn(k: u64, x: u64) -> u64 {
    x.wrapping_add(k)
}

fn keep(k: u64, x: u64) -> bool {
    mix(x.wrapping_add(k)) & 3 != 0
}

/// 0 to 3 items per input.
fn expand(k: u64, x: u64) -> impl Iterator<Item = u64> {
    let count = mix(x ^ k.rotate_left(7)) % 4;
    (0..count).map(move |i| x.wrapping_add(i.wrapping_mul(k | 1)))
}

fn device_fn(k: u64, x: u64) -> u64 {
    x ^ k
}

fn regroup_fn(k: u64, x: u64) -> u64 {
    x.rotate_left((k % 64) as u32).wrapping_sub(k)
}

fn source_items(kind: SourceKind, n: usize, salt: u64) -> Vec<u64> {
    match kind {
        SourceKind::SplitRange => {
            let start = salt >> 24;
            (start..start + n as u64).collect()
        }
        SourceKind::Iter | SourceKind::SplitVec => (0..n as u64).map(|i| mix(i ^ salt)).collect(),
    }
}

// ---------------------------------------------------------------------------
// The generator.

/// What the generator knows about an open stream.
#[derive(Clone)]
struct Meta {
    /// The origins (sources and regrouping stages) the stream descends from,
    /// as the runtime counts them for ordered stages.
    origins: BTreeSet<usize>,
    /// Whether the stream's items, sorted as an ordered stage sorts them,
    /// are in a deterministic order.
    det: bool,
    /// Distinct paths from the last ordering boundary (source, regrouping
    /// or ordered stage) to here.
    routes: usize,
    /// Whether the origin is a regrouping stage, whose groups (the origin
    /// items) the runtime may cut short at any time.
    regrouped: bool,
    /// Nested fan-outs on the way here (kept small).
    fan_depth: usize,
}

impl Meta {
    /// Whether an ordered stage (or a regrouping stage with one origin) fed
    /// by this stream sees a deterministic order. When the origin items are
    /// groups and several paths merge, the order depends on where groups were
    /// cut, which is not deterministic.
    fn exact_at_boundary(&self) -> bool {
        self.det && self.origins.len() == 1 && (!self.regrouped || self.routes == 1)
    }

    /// The stream leaving an ordering boundary fed by `self`.
    fn after_boundary(&self) -> Meta {
        Meta {
            det: self.exact_at_boundary(),
            routes: 1,
            ..self.clone()
        }
    }
}

fn item_count(rng: &mut Rng, max: usize) -> usize {
    match rng.range(0, 9) {
        0 => 0,
        1 => 1,
        2 | 3 => rng.range(2, 64),
        4..=6 => rng.range(65, 2_000),
        _ => rng.range(2_001, max),
    }
}

fn generate(seed: u64, max_items: usize) -> Shape {
    let mut rng = Rng(seed);
    let mut steps = Vec::new();
    let mut streams: Vec<Meta> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut exact = Vec::new();

    fn new_stream(streams: &mut Vec<Meta>, meta: Meta) -> usize {
        streams.push(meta);
        streams.len() - 1
    }

    for _ in 0..rng.range(1, 3) {
        let kind = match rng.range(0, 2) {
            0 => SourceKind::Iter,
            1 => SourceKind::SplitVec,
            _ => SourceKind::SplitRange,
        };
        let step = steps.len();
        let out = new_stream(
            &mut streams,
            Meta {
                origins: BTreeSet::from([step]),
                det: true,
                routes: 1,
                regrouped: false,
                fan_depth: 0,
            },
        );
        steps.push(Step::Source {
            out,
            kind,
            n: item_count(&mut rng, max_items),
            salt: rng.next(),
        });
        open.push(out);
    }

    let random_op = |rng: &mut Rng, meta: &Meta| -> Op {
        let k = rng.next();
        loop {
            return match rng.range(0, 10) {
                0 | 1 => Op::Map(k),
                2 => Op::SerialMap(k),
                3 if meta.origins.len() == 1 => Op::OrderedMap(k),
                3 => continue,
                4 | 5 => Op::Filter(k),
                6 => Op::FlatMap(k),
                7 => Op::Device {
                    batch: if rng.chance(50) {
                        rng.range(1, 8)
                    } else {
                        rng.range(9, 300)
                    },
                    lanes: rng.range(1, 3),
                    k,
                },
                9 => Op::Nested(k),
                _ => Op::Regroup {
                    size: if rng.chance(50) {
                        rng.range(1, 8)
                    } else {
                        rng.range(9, 200)
                    },
                    k,
                },
            };
        }
    };

    let apply_op = |steps: &mut Vec<Step>, streams: &mut Vec<Meta>, inp: usize, op: Op| {
        let step = steps.len();
        let mut meta = streams[inp].clone();
        match op {
            Op::Regroup { .. } => {
                // A new origin, whose items are the groups.
                meta = meta.after_boundary();
                meta.origins = BTreeSet::from([step]);
                meta.regrouped = true;
            }
            Op::OrderedMap(_) => meta = meta.after_boundary(),
            _ => {}
        }
        let out = new_stream(streams, meta);
        steps.push(Step::Op { inp, out, op });
        out
    };

    let add_sink = |rng: &mut Rng,
                    steps: &mut Vec<Step>,
                    exact: &mut Vec<bool>,
                    streams: &[Meta],
                    inp: usize| {
        let meta = &streams[inp];
        let kind = match rng.range(0, 2) {
            0 => SinkKind::Serial,
            1 => SinkKind::Parallel,
            _ if meta.origins.len() == 1 => SinkKind::Ordered,
            _ => SinkKind::Serial,
        };
        let sink = exact.len();
        exact.push(kind == SinkKind::Ordered && meta.exact_at_boundary());
        steps.push(Step::Sink { inp, kind, sink });
    };

    let take_random = |rng: &mut Rng, open: &mut Vec<usize>| -> usize {
        let i = rng.range(0, open.len() - 1);
        open.swap_remove(i)
    };

    for _ in 0..rng.range(0, 14) {
        match rng.range(0, 19) {
            0..=8 => {
                let inp = take_random(&mut rng, &mut open);
                let op = random_op(&mut rng, &streams[inp]);
                let out = apply_op(&mut steps, &mut streams, inp, op);
                open.push(out);
            }
            9..=12 => {
                let i = rng.range(0, open.len() - 1);
                if streams[open[i]].fan_depth >= 3 || open.len() > 8 {
                    continue;
                }
                let inp = open.swap_remove(i);
                let mut meta = streams[inp].clone();
                meta.fan_depth += 1;
                let outs: Vec<usize> = (0..rng.range(1, 4))
                    .map(|_| new_stream(&mut streams, meta.clone()))
                    .collect();
                open.extend(&outs);
                steps.push(Step::FanOut { inp, outs });
            }
            13..=16 => {
                if open.len() < 2 {
                    continue;
                }
                let k = rng.range(2, open.len().min(4));
                let inps: Vec<usize> = (0..k).map(|_| take_random(&mut rng, &mut open)).collect();
                let mut meta = Meta {
                    origins: BTreeSet::new(),
                    det: true,
                    routes: 0,
                    regrouped: false,
                    fan_depth: 0,
                };
                for &i in &inps {
                    let m = &streams[i];
                    meta.origins.extend(m.origins.iter().copied());
                    meta.det &= m.det;
                    meta.routes += m.routes;
                    meta.regrouped |= m.regrouped;
                    meta.fan_depth = meta.fan_depth.max(m.fan_depth);
                }
                meta.det &= meta.origins.len() == 1;
                let out = new_stream(&mut streams, meta);
                steps.push(Step::FanIn { inps, out });
                open.push(out);
            }
            _ => {
                if open.len() < 2 {
                    continue;
                }
                let inp = take_random(&mut rng, &mut open);
                add_sink(&mut rng, &mut steps, &mut exact, &streams, inp);
            }
        }
    }
    // Close every open stream, sometimes after one more stage.
    while !open.is_empty() {
        let mut inp = take_random(&mut rng, &mut open);
        if rng.chance(30) {
            let op = random_op(&mut rng, &streams[inp]);
            inp = apply_op(&mut steps, &mut streams, inp, op);
        }
        add_sink(&mut rng, &mut steps, &mut exact, &streams, inp);
    }
    Shape {
        steps,
        sinks: exact.len(),
        exact,
    }
}

impl Shape {
    /// A readable listing of the shape, for failure messages.
    fn describe(&self) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "  {i:2}: {step:?}");
        }
        s
    }

    /// Halves every source's length.
    fn halve_sources(&mut self) {
        for step in &mut self.steps {
            if let Step::Source { n, .. } = step {
                *n /= 2;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Interpreter 1: the sequential evaluation.
//
// Every stream is evaluated whole, in step order. Each item carries what the
// runtime orders by: the index of the *origin item* it descends from (an item
// of a source, or a group of a regrouping stage) and its *path*, the fan-out
// branches it took since its origin, one 4-bit digit per fan-out, outermost
// first. An ordered stage sees its input stably sorted by (origin item,
// path): items of one origin item and one path keep the order they were made
// in. So a flat-map before a fan-out does not interleave its outputs with the
// other branch one by one: all of branch 0's outputs of one origin item come
// before branch 1's. An ordered stage merging several paths gives its output
// the smallest of them.

#[derive(Clone, Copy)]
struct Item {
    value: u64,
    origin: u64,
    path: Path,
}

/// Fan-out digits (4 bits each, outermost first) and how many there are.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Path(u64, u32);

impl Path {
    const NONE: Path = Path(0, 0);

    fn branch(self, branch: usize) -> Path {
        assert!(self.1 < 16 && branch < 15, "path digits overflow");
        Path(
            self.0 | ((branch as u64 + 1) << (60 - 4 * self.1)),
            self.1 + 1,
        )
    }
}

impl Item {
    fn with(self, value: u64) -> Item {
        Item { value, ..self }
    }
}

/// A stream's items, and the paths it is made of (including those no item
/// took: the runtime still sends empty batches along them).
struct Stream {
    items: Vec<Item>,
    paths: Vec<Path>,
}

/// Restores the order an ordered stage sees.
fn ordered(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by_key(|item| (item.origin, item.path)); // stable
    items
}

/// The expected output of every sink (in the order an ordered sink must see
/// them; other sinks are compared as multisets), and the work of the case
/// (items summed over all streams).
fn expected(shape: &Shape) -> (Vec<Vec<u64>>, usize) {
    let mut streams: Vec<Option<Stream>> = Vec::new();
    let mut outputs = vec![Vec::new(); shape.sinks];
    let mut work = 0;
    let mut put = |streams: &mut Vec<Option<Stream>>, id: usize, stream: Stream| {
        work += stream.items.len();
        if streams.len() <= id {
            streams.resize_with(id + 1, || None);
        }
        streams[id] = Some(stream);
    };
    let take = |streams: &mut Vec<Option<Stream>>, id: usize| -> Stream {
        streams[id].take().expect("each stream is consumed once")
    };
    for step in &shape.steps {
        match step {
            &Step::Source { out, kind, n, salt } => {
                let items = source_items(kind, n, salt)
                    .into_iter()
                    .enumerate()
                    .map(|(i, value)| Item {
                        value,
                        origin: i as u64,
                        path: Path::NONE,
                    })
                    .collect();
                let paths = vec![Path::NONE];
                put(&mut streams, out, Stream { items, paths });
            }
            &Step::Op { inp, out, op } => {
                let Stream { items, mut paths } = take(&mut streams, inp);
                let items: Vec<Item> = match op {
                    Op::Map(k) => items
                        .into_iter()
                        .map(|i| i.with(map_fn(k, i.value)))
                        .collect(),
                    Op::SerialMap(k) => items
                        .into_iter()
                        .map(|i| i.with(serial_fn(k, i.value)))
                        .collect(),
                    Op::OrderedMap(k) => {
                        let path = *paths.iter().min().expect("a path");
                        paths = vec![path];
                        ordered(items)
                            .into_iter()
                            .map(|i| Item {
                                value: ordered_fn(k, i.value),
                                path,
                                ..i
                            })
                            .collect()
                    }
                    Op::Filter(k) => items.into_iter().filter(|i| keep(k, i.value)).collect(),
                    Op::FlatMap(k) => items
                        .into_iter()
                        .flat_map(|i| expand(k, i.value).map(move |v| i.with(v)))
                        .collect(),
                    Op::Device { k, .. } => items
                        .into_iter()
                        .map(|i| i.with(device_fn(k, i.value)))
                        .collect(),
                    Op::Nested(k) => items
                        .into_iter()
                        .map(|i| i.with(nested_fn(k, i.value)))
                        .collect(),
                    Op::Regroup { size, k } => {
                        // With one origin the stage sees its input in order
                        // (else in no particular order: the generator then
                        // compares what follows as multisets only). Groups are
                        // the new origin items; the runtime may cut a group
                        // short (a stall flush), which the generator accounts
                        // for (see `Meta::exact_at_boundary`).
                        paths = vec![Path::NONE];
                        ordered(items)
                            .chunks(size)
                            .enumerate()
                            .flat_map(|(g, group)| {
                                group.iter().map(move |i| Item {
                                    value: regroup_fn(k, i.value),
                                    origin: g as u64,
                                    path: Path::NONE,
                                })
                            })
                            .collect()
                    }
                };
                put(&mut streams, out, Stream { items, paths });
            }
            Step::FanOut { inp, outs } => {
                let Stream { items, paths } = take(&mut streams, *inp);
                for (branch, &out) in outs.iter().enumerate() {
                    let items = items
                        .iter()
                        .map(|i| Item {
                            path: i.path.branch(branch),
                            ..*i
                        })
                        .collect();
                    let paths = paths.iter().map(|p| p.branch(branch)).collect();
                    put(&mut streams, out, Stream { items, paths });
                }
            }
            Step::FanIn { inps, out } => {
                let mut joined = Stream {
                    items: Vec::new(),
                    paths: Vec::new(),
                };
                for &inp in inps {
                    let stream = take(&mut streams, inp);
                    joined.items.extend(stream.items);
                    joined.paths.extend(stream.paths);
                }
                put(&mut streams, *out, joined);
            }
            &Step::Sink { inp, kind, sink } => {
                let mut items = take(&mut streams, inp).items;
                if kind == SinkKind::Ordered {
                    items = ordered(items);
                }
                outputs[sink] = items.into_iter().map(|i| i.value).collect();
            }
        }
    }
    (outputs, work)
}

// ---------------------------------------------------------------------------
// Interpreter 2: the `Graph`.

/// Source items alive (lineage tokens), and the most seen at once in the
/// current run. Only `random_graphs_match_the_sequential_interpreter` makes
/// tokens, one run at a time.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK_LIVE: AtomicUsize = AtomicUsize::new(0);

/// The lineage of one source item: alive while any descendant holds it.
struct Token;

impl Token {
    fn new() -> Lineage {
        let now = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK_LIVE.fetch_max(now, Ordering::SeqCst);
        Arc::new(Token)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

type Lineage = Arc<Token>;

/// What the graph carries: a value and its source item's lineage.
type Tracked = (u64, Lineage);

/// Panics (failing the case) if two workers are inside a serial stage at once.
struct Exclusive(AtomicBool);

impl Exclusive {
    fn enter(&self) {
        assert!(
            !self.0.swap(true, Ordering::SeqCst),
            "two workers inside one serial stage"
        );
    }
    fn leave(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The graph of `shape`, the node of each sink, and, if `stream` names a
/// sink, the stream that replaces it (`ordered_stream` for an ordered sink,
/// `stream` otherwise).
#[allow(clippy::type_complexity)]
fn build<'a>(
    shape: &Shape,
    serial_out: &'a mut [Vec<u64>],
    parallel_out: &'a [Mutex<Vec<u64>>],
    guards: &'a [Exclusive],
    stream: Option<usize>,
) -> (Graph<'a>, Vec<NodeId>, Option<StreamPort<Tracked>>) {
    let mut g = Graph::new();
    let mut stream_port = None;
    let mut ports: Vec<Option<Port<Tracked>>> = Vec::new();
    let mut serial_slots: Vec<Option<&'a mut Vec<u64>>> = serial_out.iter_mut().map(Some).collect();
    let mut sink_ids = vec![None; shape.sinks];
    let put = |ports: &mut Vec<Option<Port<Tracked>>>, id: usize, port: Port<Tracked>| {
        if ports.len() <= id {
            ports.resize_with(id + 1, || None);
        }
        assert!(ports[id].replace(port).is_none());
    };
    let take = |ports: &mut Vec<Option<Port<Tracked>>>, id: usize| -> Port<Tracked> {
        ports[id].take().expect("each stream is consumed once")
    };
    for (i, step) in shape.steps.iter().enumerate() {
        match step {
            &Step::Source { out, kind, n, salt } => {
                // The token is made after the source reserved room: inside
                // the iterator, or in a map right below a split source.
                let port = match kind {
                    SourceKind::Iter => {
                        g.source((0..n as u64).map(move |i| (mix(i ^ salt), Token::new())))
                    }
                    SourceKind::SplitVec => {
                        let items = g.split_source(source_items(kind, n, salt));
                        g.map(items, |x| (x, Token::new()))
                    }
                    SourceKind::SplitRange => {
                        let start = salt >> 24;
                        let items = g.split_source(start..start + n as u64);
                        g.map(items, |x| (x, Token::new()))
                    }
                };
                put(&mut ports, out, port);
            }
            &Step::Op { inp, out, op } => {
                let from = take(&mut ports, inp);
                let guard = &guards[i];
                let port = match op {
                    Op::Map(k) => g.map(from, move |(x, t): Tracked| (map_fn(k, x), t)),
                    Op::SerialMap(k) => g.serial_map(from, move |(x, t): Tracked| {
                        guard.enter();
                        let y = serial_fn(k, x);
                        guard.leave();
                        (y, t)
                    }),
                    Op::OrderedMap(k) => g.ordered_map(from, move |(x, t): Tracked| {
                        guard.enter();
                        let y = ordered_fn(k, x);
                        guard.leave();
                        (y, t)
                    }),
                    Op::Filter(k) => g.filter(from, move |(x, _): &Tracked| keep(k, *x)),
                    Op::FlatMap(k) => g.flat_map(from, move |(x, t): Tracked| {
                        expand(k, x).map(move |y| (y, t.clone()))
                    }),
                    Op::Device { batch, lanes, k } => {
                        g.device(from, batch, lanes, move |xs: Vec<Tracked>| {
                            assert!(
                                !xs.is_empty() && xs.len() <= batch,
                                "device batch of {} items, limit {batch}",
                                xs.len()
                            );
                            xs.into_iter().map(|(x, t)| (device_fn(k, x), t)).collect()
                        })
                    }
                    Op::Nested(k) => g.map(from, move |(x, t): Tracked| {
                        let mut sum = 0u64;
                        let mut inner = Graph::new();
                        let js = inner.source(0..nested_len(k, x));
                        let values = inner.map(js, move |j| mix(x ^ k ^ j));
                        inner.sink(values, |v| sum = sum.wrapping_add(v));
                        let options = if k % 2 == 0 {
                            Options::new().threads(2)
                        } else {
                            Options::new()
                        };
                        inner.run_with(options);
                        (sum, t)
                    }),
                    Op::Regroup { size, k } => {
                        let groups = g.batch(from, size);
                        let checked = g.inspect(groups, move |v: &Vec<Tracked>| {
                            assert!(
                                !v.is_empty() && v.len() <= size,
                                "a group of {} items, size {size}",
                                v.len()
                            )
                        });
                        let mapped = g.map(checked, move |v: Vec<Tracked>| {
                            v.into_iter()
                                .map(|(x, t)| (regroup_fn(k, x), t))
                                .collect::<Vec<_>>()
                        });
                        g.unbatch(mapped)
                    }
                };
                put(&mut ports, out, port);
            }
            Step::FanOut { inp, outs } => {
                let from = take(&mut ports, *inp);
                for (&out, port) in outs.iter().zip(g.fan_out(from, outs.len())) {
                    put(&mut ports, out, port);
                }
            }
            Step::FanIn { inps, out } => {
                let joined: Vec<Port<Tracked>> =
                    inps.iter().map(|&s| take(&mut ports, s)).collect();
                let port = g.fan_in(joined);
                put(&mut ports, *out, port);
            }
            &Step::Sink { inp, kind, sink } if stream == Some(sink) => {
                let from = take(&mut ports, inp);
                let port = match kind {
                    SinkKind::Ordered => g.ordered_stream(from),
                    SinkKind::Serial | SinkKind::Parallel => g.stream(from),
                };
                sink_ids[sink] = Some(port.node());
                stream_port = Some(port);
            }
            &Step::Sink { inp, kind, sink } => {
                let from = take(&mut ports, inp);
                let guard = &guards[i];
                let id = match kind {
                    SinkKind::Parallel => {
                        let out = &parallel_out[sink];
                        g.parallel_sink(from, move |(x, _): Tracked| out.lock().unwrap().push(x))
                    }
                    SinkKind::Serial => {
                        let out = serial_slots[sink].take().expect("one sink per slot");
                        g.sink(from, move |(x, _): Tracked| {
                            guard.enter();
                            out.push(x);
                            guard.leave();
                        })
                    }
                    SinkKind::Ordered => {
                        let out = serial_slots[sink].take().expect("one sink per slot");
                        g.ordered_sink(from, move |(x, _): Tracked| {
                            guard.enter();
                            out.push(x);
                            guard.leave();
                        })
                    }
                };
                sink_ids[sink] = Some(id);
            }
        }
    }
    assert!(ports.iter().all(Option::is_none), "a stream was left open");
    let sink_ids = sink_ids
        .into_iter()
        .map(|id| id.expect("sink built"))
        .collect();
    (g, sink_ids, stream_port)
}

// ---------------------------------------------------------------------------
// Running a case.

#[derive(Clone, Copy, Debug)]
struct RunOptions {
    threads: usize,
    batch: usize,
    capacity: Option<usize>,
    /// Run inside a rayon-core pool of `threads` threads (`Options::pool`).
    in_pool: bool,
    /// End one flow in a stream instead of its sink (`None`: every flow
    /// ends in a sink and the graph runs with `run_with`).
    stream: Option<StreamCase>,
}

/// How a case that ends in a stream consumes it.
#[derive(Clone, Copy, Debug)]
struct StreamCase {
    /// The sink the stream replaces.
    sink: usize,
    consume: Consume,
    /// With `in_pool`: the consumer runs on a thread of the pool the run's
    /// workers use (inside `pool.install`).
    consumer_in_pool: bool,
    /// The consumer sleeps 1 ms after taking this many items (sources
    /// park meanwhile: items waiting in the stream count).
    pause_at: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Consume {
    /// Every item, then `report()`.
    All,
    /// This many items, then `finish()` (drains the rest, gives the report).
    Finish(usize),
    /// This many items, then the stream is dropped (the run is cancelled).
    Drop(usize),
}

fn random_stream(rng: &mut Rng, shape: &Shape, want: &[Vec<u64>]) -> StreamCase {
    let sink = rng.range(0, shape.sinks - 1);
    let n = want[sink].len();
    StreamCase {
        sink,
        consume: match rng.range(0, 3) {
            0 | 1 => Consume::All,
            2 => Consume::Finish(rng.range(0, n)),
            _ => Consume::Drop(if rng.chance(50) {
                rng.range(0, n.min(8))
            } else {
                rng.range(0, n)
            }),
        },
        consumer_in_pool: rng.chance(50),
        pause_at: rng.chance(30).then(|| rng.range(0, n)),
    }
}

/// Takes what `case` says from `stream` into `got`; the report, unless the
/// stream was dropped.
fn consume(
    mut stream: para::Stream<Tracked>,
    case: StreamCase,
    got: &mut Vec<u64>,
) -> Option<Report> {
    let limit = match case.consume {
        Consume::All => usize::MAX,
        Consume::Finish(k) | Consume::Drop(k) => k,
    };
    while got.len() < limit {
        let Some((x, token)) = stream.next() else {
            break;
        };
        drop(token);
        got.push(x);
        if case.pause_at == Some(got.len()) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    match case.consume {
        Consume::All => {
            assert!(stream.next().is_none(), "an item after the end");
            Some(stream.report().expect("a report after the end").clone())
        }
        Consume::Finish(_) => Some(stream.finish()),
        Consume::Drop(_) => None,
    }
}

/// Whether `part` (sorted) is a sub-multiset of `all` (sorted).
fn is_sub_multiset(part: &[u64], all: &[u64]) -> bool {
    let mut all = all.iter();
    part.iter().all(|x| all.by_ref().any(|y| y == x))
}

fn random_options(rng: &mut Rng) -> RunOptions {
    RunOptions {
        threads: rng.range(1, 8),
        batch: if rng.chance(40) {
            rng.range(1, 16)
        } else {
            rng.range(1, 512)
        },
        capacity: match rng.range(0, 9) {
            0 | 1 => Some(rng.range(1, 64)),
            2 => Some(rng.range(65, 4096)),
            _ => None,
        },
        in_pool: rng.chance(15),
        stream: None,
    }
}

/// One run at a time: the lineage counters are global.
static ONE_RUN: Mutex<()> = Mutex::new(());

/// Runs `shape` once with `opts`; returns a description of every mismatch.
fn run_once(shape: &Shape, want: &[Vec<u64>], opts: RunOptions) -> Result<(), String> {
    let _one_run = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = opts.in_pool.then(|| {
        rayon_core::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .build()
            .expect("a thread pool")
    });
    let mut serial_out = vec![Vec::new(); shape.sinks];
    let parallel_out: Vec<Mutex<Vec<u64>>> =
        (0..shape.sinks).map(|_| Mutex::new(Vec::new())).collect();
    let guards: Vec<Exclusive> = (0..shape.steps.len())
        .map(|_| Exclusive(AtomicBool::new(false)))
        .collect();
    let stream_sink = opts.stream.map(|case| case.sink);
    let (g, sink_ids, stream_port) =
        build(shape, &mut serial_out, &parallel_out, &guards, stream_sink);
    LIVE.store(0, Ordering::SeqCst);
    PEAK_LIVE.store(0, Ordering::SeqCst);
    let mut options = Options::new().batch(opts.batch);
    if let Some(capacity) = opts.capacity {
        options = options.capacity(capacity);
    }
    let options = match &pool {
        Some(pool) => options.pool(pool),
        None => options.threads(opts.threads),
    };
    // What the stream's consumer took.
    let mut streamed = Vec::new();
    // `None`: the stream was dropped before its end.
    let report = match (stream_port, opts.stream) {
        (Some(out), Some(case)) => std::thread::scope(|s| {
            let stream = g.spawn_scoped_with(s, out, options);
            match &pool {
                Some(pool) if case.consumer_in_pool => {
                    pool.install(|| consume(stream, case, &mut streamed))
                }
                _ => consume(stream, case, &mut streamed),
            }
        }),
        _ => Some(g.run_with(options)),
    };
    let mut errors = String::new();
    let (live, peak) = (
        LIVE.load(Ordering::SeqCst),
        PEAK_LIVE.load(Ordering::SeqCst),
    );
    if live != 0 {
        let _ = writeln!(errors, "{live} source items still alive after the run");
    }
    if let Some(capacity) = opts.capacity {
        // An item the stream handed out has left the graph (its unit is
        // given back as `next` returns it), but the consumer holds its
        // token until it drops it: one more.
        let held = usize::from(opts.stream.is_some());
        if peak > capacity + held {
            let _ = writeln!(
                errors,
                "{peak} source items alive at once, capacity {capacity}{} (runtime peak {:?})",
                if held > 0 {
                    " + 1 held by the consumer"
                } else {
                    ""
                },
                report.as_ref().map(Report::peak_alive)
            );
        }
    }
    if let Some(report) = &report {
        if report.threads() != opts.threads {
            let _ = writeln!(errors, "report.threads() = {}", report.threads());
        }
    }
    for (sink, expected) in want.iter().enumerate() {
        let is_stream = stream_sink == Some(sink);
        let mut got = if is_stream {
            std::mem::take(&mut streamed)
        } else {
            let mut got = std::mem::take(&mut serial_out[sink]);
            got.append(&mut parallel_out[sink].lock().unwrap());
            got
        };
        let name = if is_stream {
            format!("stream (sink {sink})")
        } else {
            format!("sink {sink}")
        };
        if let Some(report) = &report {
            let items_in = report.nodes()[sink_ids[sink].index()].items_in();
            if items_in != expected.len() as u64 {
                let _ = writeln!(
                    errors,
                    "{name}: report says {items_in} items in, expected {}",
                    expected.len()
                );
            }
        }
        // Everything, or (the stream taken in part, or the other sinks of
        // a cancelled run) a part: a prefix where the order is exact, a
        // sub-multiset otherwise.
        let whole = match opts.stream {
            Some(case) if is_stream => matches!(case.consume, Consume::All),
            _ => report.is_some(),
        };
        if is_stream {
            if let Some(StreamCase {
                consume: Consume::Finish(k) | Consume::Drop(k),
                ..
            }) = opts.stream
            {
                if got.len() != k.min(expected.len()) {
                    let _ = writeln!(
                        errors,
                        "{name}: took {} items, asked for {k} of {}",
                        got.len(),
                        expected.len()
                    );
                }
            }
        }
        if shape.exact[sink] {
            let ok = if whole {
                got == *expected
            } else {
                got.len() <= expected.len() && got == expected[..got.len()]
            };
            if !ok {
                let first = got
                    .iter()
                    .zip(expected)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(expected.len()));
                let window = first.saturating_sub(3)..first + 5;
                let _ = writeln!(
                    errors,
                    "{name} (ordered{}): got {} items, expected {}; first difference at \
                     {first}:\n    got      {:?}\n    expected {:?}",
                    if whole { "" } else { ", a prefix" },
                    got.len(),
                    expected.len(),
                    &got[window.start.min(got.len())..window.end.min(got.len())],
                    &expected[window.start.min(expected.len())..window.end.min(expected.len())],
                );
            }
        } else {
            let mut expected = expected.clone();
            got.sort_unstable();
            expected.sort_unstable();
            let ok = if whole {
                got == expected
            } else {
                is_sub_multiset(&got, &expected)
            };
            if !ok {
                let _ = writeln!(
                    errors,
                    "{name}: got {} items, expected {} (as multisets, {})",
                    got.len(),
                    expected.len(),
                    if whole { "they differ" } else { "not a part" }
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The case now running, for the hang watchdog: description and start time.
static CURRENT: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// Starts (once) a thread that reports a case running for very long, so a
/// hang killed by an outer timeout still names its seed. It only prints: no
/// test fails because of time.
fn start_watchdog() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::thread::spawn(|| {
            let mut reported = String::new();
            loop {
                std::thread::sleep(Duration::from_secs(5));
                let current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((what, since)) = current.as_ref() {
                    if since.elapsed() > Duration::from_secs(60) && *what != reported {
                        // Straight to stderr: `eprintln!` in a test is
                        // captured, and shown only if the test ends.
                        let _ = writeln!(
                            std::io::stderr(),
                            "stress: still running after {:?} (a hang?): {what}",
                            since.elapsed()
                        );
                        reported = what.clone();
                    }
                }
            }
        });
    });
}

/// The default base seed of the case seeds.
const SEED: u64 = 0x5EED_0F9A;

/// Largest source length; cases whose work exceeds `WORK_BUDGET` pushes in
/// the sequential interpreter get shorter sources.
const MAX_ITEMS: usize = 20_000;
const WORK_BUDGET: usize = 400_000;

/// The case of `case_seed`: its shape (sources halved to the work budget),
/// the expected outputs, and the options of its two runs.
fn plan_case(case_seed: u64, stream: bool) -> (Shape, Vec<Vec<u64>>, [RunOptions; 2]) {
    let max_items = env_u64("PARA_STRESS_MAX_ITEMS").map_or(MAX_ITEMS, |n| n as usize);
    let mut shape = generate(case_seed, max_items);
    let (mut want, mut work) = expected(&shape);
    while work > WORK_BUDGET.max(max_items * 20) {
        shape.halve_sources();
        (want, work) = expected(&shape);
    }
    let mut rng = Rng(case_seed ^ 0xA5A5_A5A5_5A5A_5A5A);
    let runs = [(); 2].map(|()| {
        let mut opts = random_options(&mut rng);
        if stream {
            opts.stream = Some(random_stream(&mut rng, &shape, &want));
        }
        opts
    });
    (shape, want, runs)
}

/// Runs the case of `case_seed`; with `stream`, one of its sinks is
/// replaced by a stream, consumed in one of the ways of [`Consume`].
fn run_case(case_seed: u64, stream: bool) {
    let (shape, want, runs) = plan_case(case_seed, stream);
    for (attempt, opts) in runs.into_iter().enumerate() {
        let var = if stream {
            "PARA_STRESS_STREAM_CASE"
        } else {
            "PARA_STRESS_CASE"
        };
        let what = format!(
            "{var}={case_seed} (run {attempt}) {opts:?}\nshape:\n{}",
            shape.describe()
        );
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((what.clone(), Instant::now()));
        let result = catch_unwind(AssertUnwindSafe(|| run_once(&shape, &want, opts)));
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let failure = match result {
            Ok(Ok(())) => continue,
            Ok(Err(errors)) => errors,
            Err(payload) => panic_text(&*payload),
        };
        let (small, small_opts, small_failure) = shrink(shape.clone(), opts, failure.clone());
        panic!(
            "stress case failed: {what}{failure}\n\nshrunk to a smaller reproducer: {small_opts:?}\n\
             shape:\n{}{small_failure}",
            small.describe()
        );
    }
}

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic with a non-string payload".to_string())
}

/// Whether `shape` fails with `opts`, trying a few times (a race may not
/// show on every run). Returns the failure.
fn fails(shape: &Shape, opts: RunOptions) -> Option<String> {
    let (want, _) = expected(shape);
    for _ in 0..3 {
        match catch_unwind(AssertUnwindSafe(|| run_once(shape, &want, opts))) {
            Ok(Ok(())) => {}
            Ok(Err(errors)) => return Some(errors),
            Err(payload) => return Some(panic_text(&*payload)),
        }
    }
    None
}

/// Shrinks a failing case to a smaller one that still fails: fewer source
/// items, fewer threads, no capacity, smaller batches. Each candidate is
/// kept only if it still fails.
fn shrink(
    mut shape: Shape,
    mut opts: RunOptions,
    mut failure: String,
) -> (Shape, RunOptions, String) {
    loop {
        let mut candidate = shape.clone();
        candidate.halve_sources();
        if candidate.describe() == shape.describe() {
            break;
        }
        match fails(&candidate, opts) {
            Some(f) => (shape, failure) = (candidate, f),
            None => break,
        }
    }
    // Each simplification applies to the options kept so far.
    let simplify: [fn(RunOptions) -> RunOptions; 5] = [
        |o| RunOptions { threads: 1, ..o },
        |o| RunOptions {
            threads: o.threads.min(2),
            ..o
        },
        |o| RunOptions {
            capacity: None,
            ..o
        },
        |o| RunOptions {
            in_pool: false,
            ..o
        },
        |o| RunOptions { batch: 1, ..o },
    ];
    for step in simplify {
        let candidate = step(opts);
        if let Some(f) = fails(&shape, candidate) {
            (opts, failure) = (candidate, f);
        }
    }
    (shape, opts, failure)
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be an unsigned integer, got {value:?}")),
    )
}

#[test]
fn random_graphs_match_the_sequential_interpreter() {
    start_watchdog();
    if let Some(seed) = env_u64("PARA_STRESS_CASE") {
        run_case(seed, false);
        return;
    }
    let cases = env_u64("PARA_STRESS_CASES").unwrap_or(300);
    let base = env_u64("PARA_STRESS_SEED").unwrap_or(SEED);
    let mut seeds = Rng(base);
    for _ in 0..cases {
        run_case(seeds.next(), false);
    }
}

/// The same random graphs with one flow ending in a stream (`stream` or
/// `ordered_stream` in place of its sink), run with `spawn_scoped_with`
/// (stages borrow the outputs) and consumed fully, partly then `finish()`,
/// or partly then dropped (cancelling the run), sometimes with a pause,
/// sometimes on a thread of the pool the workers run on. A stream is
/// compared as its sink would be (a part of it: a prefix, or a
/// sub-multiset); after a drop, the other sinks must hold a part of their
/// output, and every source item must be dropped by the time the drop
/// returns. The capacity bound holds with the items waiting in the stream.
///
/// `PARA_STRESS_STREAM_CASES` (default 40) cases, seeds from
/// `PARA_STRESS_SEED`; `PARA_STRESS_STREAM_CASE` runs one.
#[test]
fn random_graphs_ending_in_a_stream_match_the_sequential_interpreter() {
    start_watchdog();
    if let Some(seed) = env_u64("PARA_STRESS_STREAM_CASE") {
        run_case(seed, true);
        return;
    }
    let cases = env_u64("PARA_STRESS_STREAM_CASES").unwrap_or(STREAM_CASES);
    let base = env_u64("PARA_STRESS_SEED").unwrap_or(SEED) ^ STREAM_SEED;
    let mut seeds = Rng(base);
    for _ in 0..cases {
        run_case(seeds.next(), true);
    }
}

/// Default number of stream cases, and what their seeds differ by from the
/// sink cases' seeds.
const STREAM_CASES: u64 = 40;
const STREAM_SEED: u64 = 0x57EA_5757_EA57;

/// The default stream cases cover what they claim to: every way to consume
/// (a drop before the first item too), ordered streams compared exactly,
/// pauses, consumers on the workers' pool, capacities.
#[test]
fn default_stream_cases_cover_every_way_to_consume() {
    let mut seeds = Rng(SEED ^ STREAM_SEED);
    let mut seen = BTreeSet::new();
    for _ in 0..STREAM_CASES {
        let (shape, _, runs) = plan_case(seeds.next(), true);
        for opts in runs {
            let case = opts.stream.expect("a stream case");
            seen.insert(match case.consume {
                Consume::All => "all",
                Consume::Finish(_) => "finish",
                Consume::Drop(0) => "drop before the first item",
                Consume::Drop(_) => "drop",
            });
            if shape.exact[case.sink] {
                seen.insert("exact order");
            }
            if case.pause_at.is_some() {
                seen.insert("pause");
            }
            if opts.in_pool && case.consumer_in_pool {
                seen.insert("consumer on the workers' pool");
            }
            if opts.capacity.is_some() {
                seen.insert("capacity");
            }
        }
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
}

/// The generator itself: it covers what the stress test claims to cover.
#[test]
fn generator_covers_every_feature() {
    let mut seeds = Rng(1);
    let (mut fan_out, mut fan_in, mut exact, mut empty, mut single, mut sources3) =
        (0, 0, 0, 0, 0, 0);
    let mut ops = BTreeSet::new();
    for _ in 0..150 {
        let shape = generate(seeds.next(), MAX_ITEMS);
        let mut sources = 0;
        for step in &shape.steps {
            match step {
                Step::Source { n, .. } => {
                    sources += 1;
                    empty += (*n == 0) as usize;
                    single += (*n == 1) as usize;
                }
                Step::Op { op, .. } => {
                    ops.insert(
                        format!("{op:?}")
                            .split([' ', '('])
                            .next()
                            .unwrap()
                            .to_owned(),
                    );
                }
                Step::FanOut { .. } => fan_out += 1,
                Step::FanIn { .. } => fan_in += 1,
                Step::Sink { kind, .. } => {
                    ops.insert(format!("{kind:?}Sink"));
                }
            }
        }
        sources3 += (sources == 3) as usize;
        exact += shape.exact.iter().filter(|&&e| e).count();
    }
    for op in [
        "Map",
        "SerialMap",
        "OrderedMap",
        "Filter",
        "FlatMap",
        "Device",
        "Regroup",
        "SerialSink",
        "ParallelSink",
        "OrderedSink",
    ] {
        assert!(ops.contains(op), "{op} never generated: {ops:?}");
    }
    assert!(
        fan_out > 20 && fan_in > 20 && exact > 20,
        "{fan_out} {fan_in} {exact}"
    );
    assert!(
        empty > 5 && single > 5 && sources3 > 5,
        "{empty} {single} {sources3}"
    );
}

/// The branch order an ordered stage sees is the branches' index in
/// `fan_out`, whatever order they are connected in.
#[test]
fn fan_out_branch_order_is_the_port_order_not_the_connection_order() {
    for threads in [1, 2, 4] {
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source(0..100u64);
        let mut ports = g.fan_out(src, 3).into_iter();
        let (p0, p1, p2) = (
            ports.next().unwrap(),
            ports.next().unwrap(),
            ports.next().unwrap(),
        );
        // Nested: branch 1 fans out again, connected before branch 0.
        let mut inner = g.fan_out(p1, 2).into_iter();
        let (q0, q1) = (inner.next().unwrap(), inner.next().unwrap());
        let c = g.map(p2, |x| x * 10 + 3);
        let b1 = g.map(q1, |x| x * 10 + 2);
        let a = g.map(p0, |x| x * 10);
        let b0 = g.map(q0, |x| x * 10 + 1);
        let joined = g.fan_in([c, b1, a, b0]);
        g.ordered_sink(joined, |x| out.push(x));
        g.run_with(Options::new().threads(threads).batch(7));
        let expected: Vec<u64> = (0..100u64)
            .flat_map(|x| (0..4).map(move |b| x * 10 + b))
            .collect();
        assert_eq!(out, expected, "threads = {threads}");
    }
}

// ---------------------------------------------------------------------------
// Regressions the random test found, as plain tests.

/// An iterator source used to reschedule its next batch before emitting the
/// current one: the next task could find the iterator exhausted and close the
/// source first, so a `batch` stage below finished (flushing its last group)
/// before the last items arrived, and those items were lost. A race: this
/// loops to give it chances.
#[test]
fn last_batch_of_an_iterator_source_reaches_a_batch_stage() {
    for round in 0..150u64 {
        let threads = [2, 3, 7][round as usize % 3];
        let sizes = [7_117 + round % 13, 680 + round % 7, 18_223 - round % 11];
        let total: u64 = sizes.iter().sum();
        let mut got = 0u64;
        let mut g = Graph::new();
        let sources: Vec<_> = sizes.iter().map(|&n| g.source(0..n)).collect();
        let all = g.fan_in(sources);
        let groups = g.batch(all, 38);
        let items = g.unbatch(groups);
        g.ordered_sink(items, |_| got += 1);
        g.run_with(Options::new().threads(threads).batch(62));
        assert_eq!(got, total, "round {round}, threads {threads}");
    }
}

/// An ordered stage restarted paths from zero, so a later ordered stage
/// reached both through it and around it put the branches out of order (or,
/// when the paths collided, in arrival order).
#[test]
fn ordered_stage_on_one_branch_keeps_branch_order_downstream() {
    for threads in [1, 2, 4] {
        for bypass_first in [true, false] {
            for second_branch in [false, true] {
                let mut out = Vec::new();
                let mut g = Graph::new();
                let src = g.source(0..2_000u64);
                let mut ports = g.fan_out(src, 2).into_iter();
                let (p0, p1) = (ports.next().unwrap(), ports.next().unwrap());
                let (bypass, through) = if bypass_first { (p0, p1) } else { (p1, p0) };
                let mut ordered = g.ordered_map(through, |x| x + 1_000_000);
                if second_branch {
                    // Another branch after the ordered stage: its path digits
                    // then collide with the bypass's when paths restart.
                    let mut after = g.fan_out(ordered, 2).into_iter();
                    ordered = after.next().unwrap();
                    g.sink(after.next().unwrap(), drop);
                }
                let joined = g.fan_in([bypass, ordered]);
                g.ordered_sink(joined, |x| out.push(x));
                g.run_with(Options::new().threads(threads).batch(16));
                let expected: Vec<u64> = (0..2_000u64)
                    .flat_map(|x| {
                        if bypass_first {
                            [x, x + 1_000_000]
                        } else {
                            [x + 1_000_000, x]
                        }
                    })
                    .collect();
                assert_eq!(
                    out, expected,
                    "threads {threads}, bypass first {bypass_first}, second branch \
                     {second_branch}"
                );
            }
        }
    }
}

/// An ordered stage whose output a merging ordered stage further down needs
/// per-item origins of passed on the identity mapping of its input, wrong
/// after a flat-map: the merge dropped items (a debug assertion in debug
/// builds, silently in release).
#[test]
fn flat_map_then_ordered_map_then_diamond_keeps_every_item() {
    for threads in [1, 2, 4] {
        let mut out = Vec::new();
        let mut g = Graph::new();
        let src = g.source(0..1_000u64);
        let expanded = g.flat_map(src, |x| [x * 10, x * 10 + 1]);
        let ordered = g.ordered_map(expanded, |x| x);
        let mut ports = g.fan_out(ordered, 2).into_iter();
        let (a, b) = (ports.next().unwrap(), ports.next().unwrap());
        let b = g.map(b, |x| x + 100_000);
        let joined = g.fan_in([a, b]);
        g.ordered_sink(joined, |x| out.push(x));
        g.run_with(Options::new().threads(threads).batch(4));
        // For one source item: branch 0's outputs, then branch 1's.
        let expected: Vec<u64> = (0..1_000u64)
            .flat_map(|x| [x * 10, x * 10 + 1, x * 10 + 100_000, x * 10 + 100_001])
            .collect();
        assert_eq!(out, expected, "threads {threads}");
    }
}

/// A stall flush (every worker idle: partial device batches and groups are
/// emitted) that took in new batches, the output of a job an earlier flush
/// cut upstream, reported that it did nothing, so no later stall came to
/// flush them: with a capacity below the batch sizes, the run hung.
#[test]
fn chained_partial_stages_under_a_small_capacity_finish() {
    for threads in [1, 2, 8] {
        for capacity in [1, 4] {
            // Which of the three stages are devices (the others `batch`).
            for devices in [
                [true, true, true],
                [true, false, true],
                [false, true, false],
            ] {
                let mut n = 0u64;
                let mut g = Graph::new();
                let src = g.split_source((0..800u64).collect::<Vec<_>>());
                let kept = g.filter(src, |x| x % 4 != 0);
                let mut port = kept;
                for (size, device) in [8, 72, 294].into_iter().zip(devices) {
                    port = if device {
                        g.device(port, size, 1 + size % 3, |xs: Vec<u64>| xs)
                    } else {
                        let groups = g.batch(port, size);
                        g.unbatch(groups)
                    };
                }
                g.sink(port, |_| n += 1);
                g.run_with(
                    Options::new()
                        .threads(threads)
                        .batch(412)
                        .capacity(capacity),
                );
                assert_eq!(
                    n, 600,
                    "threads {threads}, capacity {capacity}, devices {devices:?}"
                );
            }
        }
    }
}
