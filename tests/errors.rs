//! `?` in `pipeline!` stages (SPEC section 1, "Errors"): the first error
//! stops the sources, the pipeline evaluates to `Err(e)`, the first error
//! is the first in source order for an `#[ordered]` stage, and with
//! `yield` the stream ends with the error.

use para::prelude::*;
use para_tests::watchdog;
use std::num::ParseIntError;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `n` numbered lines, those in `bad` unparsable.
fn lines(n: usize, bad: &[usize]) -> Vec<String> {
    (0..n)
        .map(|i| {
            if bad.contains(&i) {
                format!("line {i} is not a number")
            } else {
                i.to_string()
            }
        })
        .collect()
}

/// The case: the workaround of carrying `Result` items parses all
/// 200,000 lines; with `?` the run stops soon after line 1,000, having
/// parsed no more than what was already inside the graph (its capacity).
#[test]
fn an_error_stops_the_sources() {
    const CAPACITY: usize = 256;
    let input = lines(200_000, &[1_000]);
    for threads in [1, 2, 4, 8] {
        let parsed = AtomicUsize::new(0);
        let mut sum = 0u64;
        let result: Result<Report, ParseIntError> = watchdog("an error stops the sources", || {
            pipeline!(threads = threads, capacity = CAPACITY,
                input.iter() => #[ordered] |l| {
                    parsed.fetch_add(1, Ordering::Relaxed);
                    l.parse::<u64>()?
                } => |v| sum += v)
        });
        let error = result.expect_err("line 1000 does not parse");
        assert_eq!(error, "x".parse::<u64>().unwrap_err());
        let parsed = parsed.into_inner();
        assert!(
            parsed <= 1_001 + CAPACITY,
            "threads = {threads}: {parsed} lines parsed after the error at line 1000"
        );
        // The lines before the error all reached the sink.
        assert!(sum >= (0..1_000u64).sum::<u64>(), "threads = {threads}");
    }
}

/// With an `#[ordered]` failing stage, the error is the first in source
/// order, however the items were scheduled.
#[test]
fn the_first_error_in_source_order() {
    let input = lines(20_000, &[5_000, 7_000, 15_000]);
    for threads in [1, 2, 4, 8] {
        for _ in 0..5 {
            let result: Result<Report, String> = pipeline!(threads = threads, capacity = 64,
                input.iter() => |l| l.clone() => #[ordered] |l| {
                    l.parse::<u64>().map_err(|_| l.clone())?
                } => |_v| ());
            assert_eq!(result.unwrap_err(), "line 5000 is not a number");
        }
    }
}

/// A parallel stage's error is the first observed: one of those that
/// happened, and the run stops.
#[test]
fn a_parallel_error_is_one_that_happened() {
    let input = lines(50_000, &[100, 30_000]);
    for threads in [1, 2, 4] {
        let result: Result<Report, String> = pipeline!(threads = threads,
            input.iter() => |l| l.parse::<u64>().map_err(|_| l.clone())? => |_v| ());
        let error = result.unwrap_err();
        assert!(
            error == "line 100 is not a number" || error == "line 30000 is not a number",
            "{error}"
        );
    }
}

/// No error: `Ok(report)`, every item through.
#[test]
fn no_error_is_ok_with_the_report() {
    let input = lines(10_000, &[]);
    let mut sum = 0u64;
    let result: Result<Report, ParseIntError> =
        pipeline!(threads = 2, input.iter() => |l| l.parse::<u64>()? => |v| sum += v);
    let report = result.expect("every line parses");
    assert_eq!(report.nodes()[2].items_in(), 10_000);
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
}

/// Several fallible stages share the pipeline's error type; `?` converts
/// with `From` in each.
#[test]
fn fallible_stages_share_one_error_type() {
    #[derive(Debug, PartialEq)]
    enum Bad {
        Parse,
        Odd(u64),
    }
    impl From<ParseIntError> for Bad {
        fn from(_: ParseIntError) -> Self {
            Bad::Parse
        }
    }
    let check = |v: u64| if v == 777 { Err(Bad::Odd(v)) } else { Ok(v) };
    let input = lines(2_000, &[]);
    let mut seen = 0;
    let result: Result<Report, Bad> = pipeline!(threads = 2,
        input.iter() => |l| l.parse::<u64>()? => #[ordered] |v| check(v)? => |_v| seen += 1);
    assert_eq!(result.unwrap_err(), Bad::Odd(777));
    assert!(seen >= 777);
}

/// With `yield`, the stream's items are `Ok`, then the first error, then
/// the end.
#[test]
fn a_stream_ends_with_the_error() {
    for threads in [1, 2, 4] {
        let input = lines(10_000, &[2_500]);
        let items: Vec<Result<u64, ParseIntError>> =
            watchdog("a stream ends with the error", || {
                pipeline!(threads = threads, capacity = 128,
                input => #[ordered] |l| l.parse::<u64>()? => #[ordered] yield)
                .collect()
            });
        let (last, oks) = items.split_last().expect("items and the error");
        assert!(last.is_err(), "threads = {threads}: ends with the error");
        let oks: Vec<u64> = oks.iter().map(|r| *r.as_ref().unwrap()).collect();
        // In source order, every line before the bad one, and fewer than
        // all of those after it.
        assert_eq!(&oks[..2_500], (0..2_500u64).collect::<Vec<_>>());
        assert!(oks.len() < 9_999, "threads = {threads}: the run went on");
    }
}

/// A pipeline with `?` is an ordinary library call: inside a stage of
/// another pipeline and inside a rayon job it stops at its error and
/// returns it, at 1 and 8 threads, with a small capacity.
#[test]
fn errors_inside_a_stage_and_inside_a_rayon_job() {
    fn first_error(bad: usize, threads: usize) -> Result<u64, ParseIntError> {
        let input = lines(5_000, &[bad]);
        let mut sum = 0u64;
        pipeline!(threads = threads, capacity = 16,
            input.iter() => |l| l.parse::<u64>()? => |v| sum += v)?;
        Ok(sum)
    }
    for threads in [1, 8] {
        let mut errors = 0;
        watchdog("? inside a stage", || {
            pipeline!(threads = threads, 0..4usize => |k| first_error(1_000 * k + 10, threads)
                => |r| errors += usize::from(r.is_err()));
        });
        assert_eq!(errors, 4, "threads = {threads}");
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (a, b) = watchdog("? inside a rayon job", || {
            pool.install(|| {
                rayon_core::join(|| first_error(100, threads), || first_error(4_000, threads))
            })
        });
        assert!(a.is_err() && b.is_err(), "threads = {threads}");
    }
}

/// A panic in a stage ends a pipeline with `?` like any other: the panic
/// resumes on the caller with its payload, even after an error was
/// recorded, and the pool runs the next pipeline.
#[test]
fn a_panic_after_an_error_reaches_the_caller() {
    let input = lines(10_000, &[100]);
    for threads in [1, 2, 8] {
        let caught = std::panic::catch_unwind(|| {
            let result: Result<Report, ParseIntError> = pipeline!(threads = threads, capacity = 8,
                input.iter() => #[ordered] |l| {
                    let v = l.parse::<u64>();
                    if l == "50" {
                        panic!("bad line {l}");
                    }
                    v?
                } => |_v| ());
            result
        });
        let payload = caught.expect_err("the stage panicked");
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "bad line 50");
        let mut n = 0;
        let again: Result<Report, ParseIntError> = pipeline!(threads = threads, 0..100u32 => |x| Ok::<u32, ParseIntError>(x)? => |_x| n += 1);
        assert!(again.is_ok());
        assert_eq!(n, 100);
    }
}
