//! # Para: pipeline parallelism on all cores
//!
//! Para runs a graph of closures ("stages") on all cores of one machine.
//! Items flow from sources through stages; independent stages and independent
//! items run at the same time, in per-stage batches taken by work-stealing
//! workers. The graph is static and fully typed: connecting a stage whose
//! input type differs from the upstream output does not compile.
//!
//! Two macro front ends (`pipeline!` and `#[para::pipeline]`) are on their
//! way; both expand to the runtime this crate re-exports, and [`Graph`] builds
//! the same graphs by hand today.
//!
//! ## The seed example, with the builder
//!
//! `data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x`:
//! a source, a fan-out to two branches, and a fan-in to one sink.
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
//! assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
//! println!("{report}");
//! ```
//!
//! ## A tour
//!
//! * Sources: any `IntoIterator` whose items are `Send` ([`Graph::source`]);
//!   splittable sources that several workers produce from at once
//!   ([`Graph::split_source`]: ranges, slices, `Vec`).
//! * Maps run on many workers ([`Graph::map`], `Fn + Sync`); serial stages on
//!   one at a time ([`Graph::serial_map`], [`Graph::sink`], `FnMut`, never
//!   behind a blocking lock); ordered stages see items in source order
//!   ([`Graph::ordered_map`], [`Graph::ordered_sink`]), even after filters,
//!   flat-maps and a fan-out/fan-in diamond.
//! * Combinators: [`Graph::filter`], [`Graph::filter_map`],
//!   [`Graph::flat_map`], [`Graph::inspect`], [`Graph::batch`],
//!   [`Graph::unbatch`], [`Graph::take`], [`Graph::take_while`], or any
//!   [`Stage`] value with [`Graph::stage`].
//! * Device stages ([`Graph::device`]): batches of up to `batch` items on
//!   dedicated lanes, for external hardware such as a GPU.
//! * Attributes: [`Graph::label`], [`Graph::priority`], [`Graph::replicate`].
//! * Options: `threads`, `pool`, `capacity` (bounded memory), `batch`
//!   ([`Options`]).
//! * Every run returns a [`Report`]: per-stage counters, a table, and a
//!   Graphviz drawing ([`Report::to_dot`]).
//!
//! ```
//! use para::prelude::*;
//!
//! // Ordered output after a parallel, unbalanced stage and a filter.
//! let mut lines = Vec::new();
//! let mut g = Graph::new();
//! let rows = g.split_source(0..100u32);
//! let rendered = g.map(rows, |y| format!("row {y}: {}", "#".repeat((y % 7) as usize)));
//! let kept = g.filter(rendered, |line| !line.ends_with(": "));
//! g.ordered_sink(kept, |line| lines.push(line));
//! g.run_with(Options::new().threads(2).capacity(16));
//! assert_eq!(lines[0], "row 1: #");
//! assert_eq!(lines.len(), 100 - 15);
//! ```
//!
//! Stages may borrow from the caller's stack: a run returns only after every
//! stage has finished. A panicking stage cancels the run, every item still
//! inside is dropped, and the panic resumes on the caller.

#![warn(missing_docs)]

pub use para_runtime::*;

/// What a pipeline needs in scope: the builder, its options, the combinators
/// and the traits, as `rayon::prelude` does for rayon.
pub mod prelude {
    pub use para_runtime::combinators::{
        batch, filter, filter_map, flat_map, inspect, take, take_while, unbatch,
    };
    pub use para_runtime::{Graph, IntoSplit, Options, Report, Split, Stage};
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
