//! `progress = true` (SPEC 7, the `progress` feature): a run with the
//! progress line on gives the same results, through both macros and the
//! builder. Under `cargo test` stderr is not a terminal, so the line stays
//! silent (no ticker thread starts); the counters are still kept.
//! Run: `cargo test --features progress --test progress`.
#![cfg(feature = "progress")]

use para::prelude::*;
use para::{Graph, Options};

#[test]
fn a_run_with_progress_gives_the_same_results() {
    let mut sum = 0u64;
    let report = pipeline!(threads = 2, progress = true,
        0..100_000u64 => |x| x * 2 => (|x| x + 1, filter(|x| x % 3 == 0)) => |x| sum += x);
    let want: u64 = (0..100_000u64)
        .map(|x| x * 2)
        .map(|y| y + 1 + if y % 3 == 0 { y } else { 0 })
        .sum();
    assert_eq!(sum, want);
    assert_eq!(report.nodes()[0].items_out(), 100_000);

    let mut g = Graph::new();
    let lines = g.source(["a b", "c"].into_iter().cycle().take(1000));
    let words = g.flat_map(lines, |l: &str| l.split(' ').collect::<Vec<_>>());
    let mut n = 0;
    g.sink(words, |_w| n += 1);
    g.run_with(Options::new().threads(2).progress(true));
    assert_eq!(n, 1500);
}

#[test]
fn progress_off_is_accepted_too() {
    #[para::pipeline(threads = 2, progress = false)]
    fn total(xs: &[u32]) -> u32 {
        let mut t = 0;
        #[stream]
        for x in xs {
            #[stage]
            t += x;
        }
        t
    }
    assert_eq!(total(&[1, 2, 3]), 6);
}
