//! # Para: pipeline parallelism on all cores
//!
//! Para runs a graph of closures ("stages") on all cores of one machine.
//! Items flow from sources through stages; independent stages and independent
//! items run at the same time, in per-stage batches taken by work-stealing
//! workers. The graph is static and fully typed: closure parameters are
//! inferred from the upstream stage, and a stage that does not fit is a
//! compile error on that stage.
//!
//! ```
//! use para::prelude::*;
//! let data = vec!(0, 1, 2);
//! let mut sum = 0;
//! pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
//! assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
//! ```
//!
//! ## A tour of `pipeline!`
//!
//! ```text
//! pipeline!( [OPTIONS ,] FLOW { ; FLOW } [;] )
//! OPTIONS := EXPR | KEY = EXPR { , KEY = EXPR }      threads | capacity | batch | pool | scope
//!                                                    | trace | progress | cluster
//! FLOW    := STAGE { => STAGE }                      the last stage of one flow may be `yield`
//! STAGE   := { ATTR } [ 'label : ] BODY | 'label | ( FLOW , FLOW { , FLOW } [,] )
//! ```
//!
//! The first stage of a flow is a source (any `IntoIterator` of `Send`
//! items, or a [`Feed`]). A stage with a downstream is a map and runs on many workers at
//! once (`Fn`); a stage with none is a sink and runs on one worker at a time,
//! so it may mutate what it captures. `pipeline!` returns the run's
//! [`Report`].
//!
//! ```
//! use para::prelude::*;
//! let words = vec!["alpha", "be", "gamma"];
//! let mut letters = 0;
//! let report = pipeline!(words => |s| s.len() => |n| letters += n);
//! assert_eq!(letters, 12);
//! assert_eq!(report.nodes()[1].items_in(), 3); // per-stage counters
//! ```
//!
//! Options: a bare thread count, or `threads`, `capacity` (most items alive
//! at once: memory stays flat whatever the input length; by default
//! `4 * threads * 2048`, or `* batch` when set), `batch` (largest batch a
//! worker takes: by default 2048 with one thread, 8192 with more) and
//! `pool` (run inside a rayon-core pool).
//!
//! ```
//! use para::prelude::*;
//! let mut n = 0;
//! pipeline!(threads = 2, capacity = 64, batch = 16, 0..10_000 => |x| x * 2 => |_x| n += 1);
//! assert_eq!(n, 10_000);
//! ```
//!
//! Fan-out `( ... , ... )` gives every branch the item (the last branch the
//! original, the others clones); `=> stage` after it is a fan-in. Ordered
//! stages see items in source order, even through such a diamond: for one
//! source item, the branches' outputs come in branch order.
//!
//! ```
//! use para::prelude::*;
//! let mut out = Vec::new();
//! pipeline!(0..3 => (|x| x * 10, |x| -x) => #[ordered] |x| out.push(x));
//! assert_eq!(out, [0, 0, 10, -1, 20, -2]);
//! ```
//!
//! Labels name stages; `'name` at the end of a flow sends into that stage
//! (several producers), at the start it takes that stage's output.
//!
//! ```
//! use para::prelude::*;
//! let mut total = 0;
//! let mut big = 0;
//! pipeline!(
//!     0..10 => |x| x * 2 => 'sum: |x| total += x;
//!     vec![5, 6] => 'sum;
//!     'double: 100..103 => |x| x + 1 => |x| big += x;
//! );
//! assert_eq!(total, 90 + 11);
//! assert_eq!(big, 101 + 102 + 103);
//! ```
//!
//! Attributes: `#[ordered]`, `#[serial]` (a stateful map), `#[parallel]` (a
//! parallel sink), `#[replicate(N)]`, `#[priority(N)]`, `#[split]` (a source
//! several workers produce from: ranges, slices, `Vec`), `#[gpu]` and
//! `#[gpu(batch = N, lanes = L)]` (the body takes `Vec<In>` and returns
//! `Vec<Out>`, on dedicated device lanes).
//!
//! ```
//! use para::prelude::*;
//! let mut running = 0u64;
//! let mut sums = Vec::new();
//! pipeline!(threads = 4,
//!     #[split] 0..1000u64
//!         => #[replicate(2)] |x| x * x
//!         => #[gpu(batch = 128)] |xs: Vec<u64>| xs.into_iter().map(|x| x + 1).collect::<Vec<_>>()
//!         => #[ordered] |x| { running += x; running }
//!         => |s| sums.push(s));
//! assert_eq!(sums.len(), 1000);
//! assert_eq!(*sums.iter().max().unwrap(), (0..1000u64).map(|x| x * x + 1).sum());
//! ```
//!
//! Combinators are stages too: `filter`, `filter_map`, `flat_map`,
//! `inspect`, `batch(n)`, `unbatch()`, `take(n)` and `take_while` (the last
//! two pass exactly what `Iterator::take` would, then stop the sources),
//! `fold(init, op)` (one accumulator per worker, emitted when the input
//! ends, for a serial sink to merge: counting without a serial
//! bottleneck), and so is any function path or value implementing
//! [`Stage`].
//!
//! A map closure, `filter`, `filter_map`, `flat_map` or `inspect` right
//! before a `fold` (its only consumer, with no attribute on either) runs
//! fused with it, as rayon's adapters do: one loop folds each value into
//! the worker's accumulator as the stage yields it, and no batch is written
//! out between them. Both keep their rows in the [`Report`] (items in and
//! out, batches); the loop's time is reported as the first stage's busy
//! time, and a panic's message names both stages. A function of
//! your own named like one of these combinators goes in parentheses there
//! (`=> (flat_map(n)) => fold(..)`), as with closure combinators.
//!
//! ```
//! use para::prelude::*;
//! use std::collections::HashMap;
//! let text = "the cat\nthe dog\nthe end";
//! let mut counts: HashMap<&str, usize> = HashMap::new();
//! let report = pipeline!(threads = 2,
//!     text.lines() => 'words: flat_map(|l: &str| l.split(' '))
//!         => 'count: fold(HashMap::new, |mut m: HashMap<&str, usize>, w| { *m.entry(w).or_default() += 1; m })
//!         => |m| for (w, n) in m { *counts.entry(w).or_default() += n });
//! assert_eq!(counts["the"], 3);
//! assert_eq!(report.node("words").unwrap().items_out(), 6);
//! assert_eq!(report.node("count").unwrap().items_in(), 6);
//! ```
//!
//! Two closure maps in a row (the first's only consumer, with no attribute
//! or `?` on either, the second not a sink) run fused the same way
//! ([`Graph::map_then`]): each item goes through both closures before the
//! next, as in rayon's `map(f).map(g)`, so a large item made by the first
//! is consumed by the second while it is in cache. Chains pair up from the
//! front; both maps keep their rows in the report.
//!
//! ```
//! use para::prelude::*;
//! let mut total = 0u64;
//! let report = pipeline!(threads = 2,
//!     #[split] 0..1000u64 => 'make: |i| vec![i as u8; 4096]
//!         => 'sum: |v: Vec<u8>| v.iter().map(|&b| u64::from(b)).sum::<u64>()
//!         => |s| total += s);
//! assert_eq!(total, (0..1000u64).map(|i| 4096 * (i % 256)).sum::<u64>());
//! assert_eq!(report.node("make").unwrap().items_out(), 1000);
//! assert_eq!(report.node("sum").unwrap().items_in(), 1000);
//! ```
//!
//! ```
//! use para::prelude::*;
//! fn square(x: u64) -> u64 { x * x }
//! let mut out = Vec::new();
//! pipeline!(0..u64::MAX => filter(|&x| x % 2 == 1) => square => take(4) => #[ordered] |x| out.push(x));
//! assert_eq!(out, [1, 9, 25, 49]);
//! ```
//!
//! Mistakes are compile errors on the offending token: an undefined label
//! names the labels that exist, an unknown attribute lists the known ones, and
//! a map that mutates captured state points at the mutation:
//!
//! ```compile_fail
//! use para::prelude::*;
//! let mut seen = 0;
//! pipeline!(0..10 => |x| { seen += 1; x } => |_x| ()); // add #[serial] to the map
//! ```
//!
//! ## Streams: results as an iterator
//!
//! One flow may end in `yield` instead of a sink: the pipeline then starts
//! in the background and `pipeline!` evaluates to a [`Stream`], an
//! `Iterator` of what reaches `yield` (`#[ordered] yield`: in source order,
//! as an ordered sink would see them; bare `yield`: in the order they are
//! done). Other flows may still end in sinks.
//!
//! ```
//! use para::prelude::*;
//! let squares = pipeline!(threads = 4, 0..1_000u64 => |x| x * x => #[ordered] yield);
//! assert_eq!(squares.take(3).collect::<Vec<_>>(), [0, 1, 4]); // dropping the rest cancels the run
//!
//! let words = vec!["a", "bb", "ccc"];
//! std::thread::scope(|s| {
//!     // with `scope = s`, stages may borrow what outlives the scope, as scoped threads do
//!     let lens = pipeline!(scope = s, words.iter() => |w| w.len() => #[ordered] yield);
//!     assert_eq!(lens.collect::<Vec<_>>(), [1, 2, 3]);
//! });
//! ```
//!
//! * Without `scope`, every stage must be `Send + 'static` (`move`
//!   closures, `Arc` for sharing), as with `std::thread::spawn`; a closure
//!   that borrows a local is a compile error that says to add `scope = s`
//!   or `move`. With `scope = s` (a `&std::thread::Scope`), stages may
//!   borrow: the scope's end waits for the run, so even a leaked stream
//!   cannot let a stage outlive its borrows.
//! * Items waiting in the stream count against `capacity`: a consumer that
//!   stops pulling parks the sources, so memory stays bounded.
//! * Dropping a stream early cancels the run: sources stop, items inside
//!   are dropped once, workers are released, and the drop returns when the
//!   run is over.
//! * A stage panic resumes on the consumer's thread, in the `next()` call
//!   that follows it. [`Stream::finish`] drains the rest and returns the
//!   [`Report`]; [`Stream::report`] gives it after the last item.
//!
//! ```
//! use para::prelude::*;
//! let mut evens = 0;
//! std::thread::scope(|s| {
//!     let mut odds = pipeline!(scope = s,
//!         0..100u32 => filter(|x| x % 2 == 1) => |x| x * 10 => yield;
//!         0..100u32 => filter(|x| x % 2 == 0) => |_x| evens += 1; // a sink beside the stream
//!     );
//!     let mut seen: Vec<u32> = odds.by_ref().collect();
//!     seen.sort_unstable();
//!     assert_eq!((seen.len(), seen[0]), (50, 10));
//!     let report = odds.report().expect("the stream is exhausted");
//!     assert_eq!(report.nodes().iter().map(|n| n.items_in()).max(), Some(100));
//! });
//! assert_eq!(evens, 50);
//! ```
//!
//! ## Feeds: inputs that arrive while it runs
//!
//! [`feed`] makes a [`Feeder`] (`Clone + Send`, one per producer thread) and
//! a [`Feed`], a source. A feed never blocks a worker: workers take what has
//! been sent and do other work meanwhile. [`Feeder::send`] blocks while the
//! graph is at `capacity` (an item counts from the moment it is sent),
//! [`Feeder::try_send`] hands the item back instead, and the input ends
//! when every feeder is dropped. `send` after the run has ended (cancelled,
//! stopped, or a stage panicked) returns `Err(SendError(item))` with the
//! item: nothing is lost silently.
//!
//! ```
//! use para::prelude::*;
//! let (feeder, input) = para::feed::<String>();
//! let lens = pipeline!(input => |s| s.len() => #[ordered] yield);
//! let producer = std::thread::spawn(move || {
//!     for line in ["a", "bb"] { feeder.send(line.to_string()).unwrap(); } // blocks at capacity
//! });                                                                   // dropping the feeder ends the input
//! assert_eq!(lens.collect::<Vec<_>>(), [1, 2]);
//! producer.join().unwrap();
//! ```
//!
//! A feed works with sinks too (the call returns when the input has ended
//! and the graph is drained), and as one of several sources:
//!
//! ```
//! use para::prelude::*;
//! let (feeder, requests) = para::feed::<u64>();
//! let more = feeder.clone();
//! let producers = [feeder, more].map(|f| std::thread::spawn(move || {
//!     for i in 0..100 { f.send(i).unwrap(); }
//! }));
//! let mut total = 0;
//! pipeline!(requests => |x| x * 2 => 'sum: |x| total += x; 1000..1001u64 => 'sum);
//! for p in producers { p.join().unwrap(); }
//! assert_eq!(total, 2 * 2 * 4950 + 1000);
//! ```
//!
//! ## `?` in a stage
//!
//! A stage closure may use `?`. The first error stops the sources (items in
//! flight finish, as with `take`), and `pipeline!` evaluates to `Err(e)`
//! instead of `Ok(report)`. `?` converts with `From` into the pipeline's
//! error type, which is inferred from how the result is used, as a
//! function's return type fixes it: annotate the binding, or make the
//! pipeline the tail of a function returning that `Result` (the error type
//! is `Send`: it crosses from a worker to the caller). The first error
//! is the first in source order when the failing stage is `#[ordered]`,
//! otherwise the first observed. A pipeline without `?` still evaluates to
//! a plain [`Report`].
//!
//! ```
//! use para::prelude::*;
//! let lines = vec!["1", "2", "x", "4"];
//! let mut sum = 0;
//! let result: Result<Report, std::num::ParseIntError> =
//!     pipeline!(lines => #[ordered] |l| l.parse::<i64>()? => |v| sum += v);
//! assert!(result.is_err()); // "x" stopped the run
//!
//! fn total(lines: &[&str]) -> Result<Report, Box<dyn std::error::Error + Send + Sync>> {
//!     let mut sum = 0;
//!     pipeline!(lines.iter() => |l| l.trim().parse::<i64>()? => |v| sum += v)
//! }
//! assert!(total(&["1", " 2"]).is_ok());
//! ```
//!
//! With `yield`, the stream's items are `Result<T, E>`: the items, then
//! the first error, then the end.
//!
//! ```
//! use para::prelude::*;
//! let parsed = pipeline!(vec!["1", "2", "x"] => |s| s.parse::<u8>()? => #[ordered] yield);
//! let items: Vec<Result<u8, std::num::ParseIntError>> = parsed.collect();
//! assert_eq!(items[..2], [Ok(1), Ok(2)]);
//! assert!(items[2].is_err());
//! ```
//!
//! ## `#[para::pipeline]`: annotate a sequential loop
//!
//! Write the loop sequentially, check it is right, then mark it: `#[stream]`
//! on the `for` loop, and `#[stage(...)]` where a new stage begins (the
//! model of SPar). Statements before the first mark run in the source, in
//! iteration order. Options: `replicate = N`, `parallel`, `ordered`,
//! `priority = N`; a bare `#[stage]` is serial, so any loop body is correct
//! before it is fast. Loop-local variables used by a later stage travel with
//! the item; outer variables are borrowed. `continue` drops the item, `break`
//! stops the source, and `return` or `?` stop the stream and make the
//! function return that value once the workers are done (in an `ordered`
//! stage, the first in source order).
//!
//! The same computation with both front ends: squares of the odd numbers,
//! in order.
//!
//! ```
//! use para::prelude::*;
//!
//! #[para::pipeline(threads = 4)]
//! fn odd_squares(n: u64) -> Vec<u64> {
//!     let mut out = Vec::new();
//!     #[stream]
//!     for x in 0..n {
//!         if x % 2 == 0 {
//!             continue;
//!         }
//!         #[stage(parallel)]
//!         let square = x * x;
//!         #[stage(ordered)]
//!         out.push(square);
//!     }
//!     out
//! }
//!
//! fn odd_squares_macro(n: u64) -> Vec<u64> {
//!     let mut out = Vec::new();
//!     pipeline!(threads = 4, 0..n => filter(|x| x % 2 == 1) => |x| x * x => #[ordered] |s| out.push(s));
//!     out
//! }
//!
//! assert_eq!(odd_squares(10), [1, 9, 25, 49, 81]);
//! assert_eq!(odd_squares(1000), odd_squares_macro(1000));
//! ```
//!
//! Errors travel as in the sequential loop:
//!
//! ```
//! #[para::pipeline(threads = 2)]
//! fn parse_all(lines: &[&str]) -> Result<i64, std::num::ParseIntError> {
//!     let mut sum = 0;
//!     #[stream]
//!     for line in lines {
//!         #[stage(ordered)]
//!         let value: i64 = line.trim().parse()?;
//!         #[stage]
//!         sum += value;
//!     }
//!     Ok(sum)
//! }
//! assert_eq!(parse_all(&["1", "2", "3"]), Ok(6));
//! assert!(parse_all(&["1", "x", "3"]).is_err());
//! ```
//!
//! ## The builder
//!
//! [`Graph`] builds the same graphs at run time (a fan-out to a number of
//! branches known only at run time, programmatic graphs); the macro expands
//! to it. The seed example, by hand:
//!
//! ```
//! use para::prelude::*;
//!
//! let data = vec![0, 1, 2];
//! let mut sum = 0;
//! let mut g = Graph::new();
//! let src = g.source(data);
//! let mut branches = g.fan_out(src, 2).into_iter();
//! let a = g.map(branches.next().unwrap(), |x: i32| (x * 2, x));
//! let a = g.map(a, |(x2, x)| x2 - x);
//! let b = g.map(branches.next().unwrap(), |x: i32| -x);
//! let joined = g.fan_in([a, b]);
//! g.sink(joined, |x| sum += x);
//! let report = g.run_with(Options::new().threads(4));
//! assert_eq!(sum, 0);
//! println!("{report}");
//! ```
//!
//! ## How results come out
//!
//! A run is a blocking call that returns when every stage has finished, so
//! stages may borrow from the caller's stack, and results come out through
//! what the sinks capture: a sink is serial, so `|x| out.push(x)` or
//! `|x| total += x` needs no lock, and an `#[ordered]` sink sees the items
//! in source order. The value of `pipeline!` (and of [`Graph::run`]) is the
//! run's [`Report`]: items in and out, batches and busy time per stage, the
//! peak of items alive, as a table (`Display`) or a Graphviz drawing. A
//! pipeline that ends in `yield` is not a blocking call: it evaluates to a
//! [`Stream`] of its results (see "Streams" above), and its report comes
//! with the stream's end.
//!
//! ## Seeing a run
//!
//! Three views of a run, from the summary to the timeline:
//!
//! * The [`Report`], always there: a table per stage (`Display`) and
//!   [`Report::to_dot`], a Graphviz drawing in which each stage is shaded
//!   by its share of the run's busy time (white to red, the share in its
//!   label) and each edge is labelled with the items that went along it;
//!   [`Report::to_svg`] renders it with Graphviz's `dot` when it is
//!   installed.
//! * `trace = "run.json"` ([`Options::trace`]): a Chrome trace-event file
//!   that [Perfetto](https://ui.perfetto.dev) and `chrome://tracing` open.
//!   One track per worker and per device lane; one slice per batch, named
//!   by the stage's label, with its items in and out (every batch the
//!   report counts is a slice); instant events where a source parked at
//!   the capacity bound (`park`), a worker stole a task (`steal`), and an
//!   idle run flushed a stage's partial state (`stall flush`); a counter of
//!   the items alive. Timestamps are microseconds from the run's start.
//!   Each thread records into a buffer of its own and the file is written
//!   when the run ends. Off by default, and then free: the hot path checks
//!   one `None` per timed batch.
//! * `progress = true` ([`Options::progress`], the `progress` feature, off
//!   by default): a live line on stderr with items per second at the
//!   sources and at the sinks, the items alive against `capacity`, and a
//!   bar with an ETA when every source knows its length. It is silent when
//!   stderr is not a terminal. Without the feature, `progress = true` is a
//!   compile error that names it.
//!
//! ```
//! use para::prelude::*;
//! let path = std::env::temp_dir().join("para-doc-trace.json");
//! let mut longest = 0;
//! let report = pipeline!(threads = 2, trace = &path,
//!     ["a", "bb", "ccc"].into_iter().cycle().take(30_000)
//!         => 'len: |w: &str| w.len()
//!         => 'max: |n| longest = longest.max(n));
//! assert_eq!(longest, 3);
//!
//! let trace = std::fs::read_to_string(&path).unwrap();
//! assert!(trace.contains(r#""name":"worker 1""#)); // a track per worker
//! assert!(trace.contains(r#""name":"len","cat":"map","ph":"X""#)); // a slice per batch
//! let slices = trace.matches(r#""ph":"X""#).count() as u64;
//! assert_eq!(slices, report.nodes().iter().map(|n| n.batches()).sum::<u64>());
//! std::fs::remove_file(&path).unwrap();
//!
//! let dot = report.to_dot();
//! assert!(dot.contains(r#"n1 -> n2 [label="30,000"]"#)); // items along each edge
//! ```
//!
//! ## How errors work
//!
//! * A panicking stage cancels the run: sources stop, every worker stops,
//!   every item still inside is dropped (its destructor runs once), the
//!   stage's label is printed to stderr, and the original panic resumes on
//!   the caller's thread, so `std::panic::catch_unwind` around the call
//!   sees the stage's own payload.
//! * In `pipeline!`, `?` in a stage closure stops the sources at the first
//!   error and the pipeline evaluates to `Err(e)` (see "`?` in a stage"
//!   above); with `yield`, the stream ends with the error.
//! * In a `#[para::pipeline]` loop, `?` and `return` in a stage stop the
//!   stream and make the function return that value once the workers are
//!   done (the first observed; in an `ordered` stage, the first in source
//!   order), exactly as the sequential loop would.
//! * Bad options (`threads = 0`, `capacity = 0`, `batch = 0`) panic with a
//!   message that names the problem when the run starts, as does a
//!   [`Graph`] the runtime cannot order (an ordered stage fed by several
//!   sources), which `pipeline!` rejects at compile time.
//!
//! ```
//! use para::prelude::*;
//! let caught = std::panic::catch_unwind(|| {
//!     let mut seen = 0;
//!     pipeline!(threads = 2, 0..1000 => |x: i32| {
//!         if x == 500 { panic!("bad item {x}") }
//!         x
//!     } => |_x| seen += 1);
//! });
//! let payload = caught.unwrap_err();
//! assert_eq!(payload.downcast_ref::<String>().unwrap(), "bad item 500");
//! ```
//!
//! ## Composing with rayon and with itself
//!
//! A pipeline is an ordinary library call: it may run inside a stage of
//! another pipeline, inside a rayon job (`par_iter`, `join`, `scope`), and a
//! stage may use rayon or call a function that runs a pipeline, on the same
//! pool or on different ones, without hanging. Workers are jobs of a
//! rayon-core pool: by default the current one (the global pool outside any
//! pool); with `pool = &p` that pool; with `threads = N`, the current pool
//! when the call is made from inside one, otherwise a process-wide pool of
//! `N` threads made once and reused (so repeated calls start no threads).
//! A worker that has nothing to do returns its thread to the pool, and a
//! call made from inside a pool works on its own run while it waits, so a
//! nested run always makes progress, however busy the pool is.
//!
//! ```
//! use para::prelude::*;
//! let mut total = 0u64;
//! pipeline!(threads = 2, 0..8u64 => |x| {
//!     // A library function that happens to use Para, inside a stage.
//!     let mut s = 0u64;
//!     pipeline!(threads = 2, 0..100u64 => |y| x * y => |v| s += v);
//!     s
//! } => |s| total += s);
//! assert_eq!(total, (0..8u64).sum::<u64>() * 4950);
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// ```
/// #[para::pipeline(threads = 2)]
/// fn parse_sum(lines: &[&str]) -> Result<i64, std::num::ParseIntError> {
///     let mut sum = 0;
///     #[stream]
///     for line in lines {
///         let trimmed = line.trim();
///         #[stage(parallel)]
///         let value: i64 = trimmed.parse()?;
///         #[stage(ordered)]
///         sum += value;
///     }
///     Ok(sum)
/// }
/// assert_eq!(parse_sum(&["1", " 2", "3"]), Ok(6));
/// assert!(parse_sum(&["1", "x"]).is_err());
/// ```
pub use para_macros::stream_pipeline as pipeline;
pub use para_runtime::combinators;
pub use para_runtime::{
    feed, Feed, Feeder, Graph, IntoSplit, NodeId, NodeReport, Options, Output, Port,
    ProgressSwitch, Report, SendError, Split, Stage, Stream, StreamPort, TrySendError,
};

/// What implementing a [`Stage`] by hand needs beyond [`Output`]: the batch
/// view [`Input`](stage::Input) that [`Stage::process_batch`] takes, and
/// [`StageMode`](stage::StageMode), how the runtime may call the stage.
pub mod stage {
    pub use para_runtime::{Input, Output, StageMode};
}

/// The same pipelines on a timely-dataflow cluster, across processes and
/// machines (the `cluster` feature): `pipeline!(cluster = cx, ...)` inside
/// [`cluster::execute_from_args`]. See the crate `para-cluster`.
#[cfg(feature = "cluster")]
pub use para_cluster as cluster;

/// What a pipeline needs in scope: `pipeline!`, the builder, its options,
/// the combinators and the traits, as `rayon::prelude` does for rayon.
pub mod prelude {
    /// ```
    /// use para::prelude::*;
    /// fn take(n: u64) -> impl Fn(u64) -> u64 + Send + Sync {
    ///     move |x| x + n // a function of your own named like a combinator
    /// }
    /// let mut out = Vec::new();
    /// let report = pipeline!(threads = 2,
    ///     0..100u64 => filter(|&x| x % 2 == 1) => take(1) => para::prelude::take(3)
    ///         => #[ordered] |x| out.push(x));
    /// assert_eq!(out, [2, 4, 6]);
    /// assert_eq!(report.nodes().len(), 5);
    /// ```
    pub use para_macros::pipeline;
    pub use para_runtime::combinators::{
        batch, filter, filter_map, flat_map, fold, inspect, take, take_while, unbatch,
    };
    pub use para_runtime::{Graph, IntoSplit, Options, Report, Split, Stage, Stream};
}

/// What code generated by the macros refers to. Not a public API: it may
/// change in any release. It only names things; their code lives in
/// `para-runtime`'s `support` module.
#[doc(hidden)]
pub mod __private {
    pub use para_runtime::support::bodies::{
        map_body, ordered_body, serial_body, FnBody, FoldBody, ParallelBody, SerialBody, StageBody,
    };
    pub use para_runtime::support::combinator_calls::{
        FilterCall, FilterFoldCall, FilterMapCall, FilterMapFoldCall, FlatMapCall, FlatMapFoldCall,
        FoldCall, InspectCall, InspectFoldCall, MapFoldCall, TakeWhileCall,
    };
    pub use para_runtime::support::edges::{fan_in_branch, fan_out, FanOutItem, SameItem};
    pub use para_runtime::support::fallible::{
        finish_run, finish_stream, try_map, try_ordered_map, try_ordered_sink, try_parallel_sink,
        try_serial_map, try_sink, try_yield, ErrorSlot,
    };
    pub use para_runtime::support::sources::{source, FeedSource, IterSource, SourceBody};
    pub use para_runtime::support::stream_loop::{
        parallel_step, serial_step, Control, Step, StreamSource,
    };
    pub use para_runtime::support::try_op::{ErrResidual, NoneResidual, TryReturn, TryValue};
    pub use para_runtime::support::{empty_report, DEFAULT_GPU_BATCH};
    pub use para_runtime::{Graph, NodeId, Options, Port, Report, Stage, StageMode};
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
