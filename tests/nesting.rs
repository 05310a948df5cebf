//! Para inside Para, inside rayon, and rayon inside Para: a library call
//! that happens to run a pipeline must behave like any other call, whatever
//! pools the two use. Every round runs under a watchdog that turns a hang
//! into a failure naming the round, instead of a stuck CI.
//!
//! `PARA_NESTING_ROUNDS` (default 60) sets the rounds per case; thousands
//! are worth running locally after a scheduler change. A panicking stage
//! prints its label to stderr; the panic test does that on purpose.

use para::prelude::*;
use para_tests::{env_usize, watchdog};
use rayon::prelude::*;

/// Runs `round` `PARA_NESTING_ROUNDS` times (default 60), each under a
/// watchdog that fails the binary naming the round if it hangs.
fn watched(case: &str, round: impl Fn(usize)) {
    let rounds = env_usize("PARA_NESTING_ROUNDS", 60);
    for i in 0..rounds {
        watchdog(&format!("{case}: round {i} of {rounds}"), || round(i));
    }
}

/// What the nested pipelines below compute.
const EXPECTED: u64 = 40 * 4950 + 100 * (40 * 39 / 2);

#[test]
fn pipeline_in_a_stage_each_on_its_own_pool() {
    watched("own pools", |_| {
        let mut total = 0u64;
        pipeline!(threads = 2, 0..40u64 => |x| {
            let mut s = 0u64;
            pipeline!(threads = 2, 0..100u64 => |y| y + x => |y| s += y);
            s
        } => |s| total += s);
        assert_eq!(total, EXPECTED);
    });
}

#[test]
fn pipeline_in_a_stage_on_the_default_pool() {
    watched("default pool", |_| {
        let mut total = 0u64;
        pipeline!(threads = 2, 0..40u64 => |x| {
            let mut s = 0u64;
            pipeline!(0..100u64 => |y| y + x => |y| s += y);
            s
        } => |s| total += s);
        assert_eq!(total, EXPECTED);
    });
}

#[test]
fn pipeline_in_a_stage_sharing_one_pool() {
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    watched("shared pool", |_| {
        let mut total = 0u64;
        pipeline!(pool = &pool, 0..40u64 => |x| {
            let mut s = 0u64;
            pipeline!(pool = &pool, 0..100u64 => |y| y + x => |y| s += y);
            s
        } => |s| total += s);
        assert_eq!(total, EXPECTED);
    });
}

#[test]
fn rayon_in_a_stage() {
    watched("rayon in a stage", |_| {
        let mut total = 0u64;
        pipeline!(threads = 2, 0..40u64 => |x| {
            (0..100u64).into_par_iter().map(|y| y + x).sum::<u64>()
        } => |s| total += s);
        assert_eq!(total, EXPECTED);
    });
}

#[test]
fn pipeline_in_a_rayon_job() {
    watched("pipeline in par_iter", |_| {
        let total: u64 = (0..40u64)
            .into_par_iter()
            .map(|x| {
                let mut s = 0u64;
                pipeline!(threads = 2, 0..100u64 => |y| y + x => |y| s += y);
                s
            })
            .sum();
        assert_eq!(total, EXPECTED);
    });
}

#[test]
fn three_levels_deep() {
    watched("three levels", |_| {
        let mut total = 0u64;
        pipeline!(threads = 2, 0..6u64 => |x| {
            let mut s = 0u64;
            pipeline!(threads = 2, 0..6u64 => |y| {
                let mut t = 0u64;
                pipeline!(0..10u64 => |z| x + y + z => |v| t += v);
                t
            } => |t| s += t);
            s
        } => |s| total += s);
        // Sum over x, y < 6 and z < 10 of x + y + z.
        assert_eq!(total, 2 * 10 * 6 * 15 + 36 * 45);
    });
}

/// Every pairing of one and eight threads, outer and inner, with a small
/// capacity and a `batch` group inside the nested runs: the bound and the
/// groups' partial emission must not deadlock a nested run.
#[test]
fn one_and_eight_threads_with_a_small_capacity() {
    watched("threads matrix", |_| {
        for (outer, inner) in [(1, 1), (1, 8), (8, 1), (8, 8)] {
            let mut total = 0u64;
            pipeline!(threads = outer, capacity = 2, 0..40u64 => |x| {
                let mut s = 0u64;
                pipeline!(threads = inner, capacity = 2,
                    0..100u64 => |y| y + x => batch(3) => |g: Vec<u64>| s += g.iter().sum::<u64>());
                s
            } => |s| total += s);
            assert_eq!(total, EXPECTED, "outer {outer}, inner {inner}");
        }
    });
}

/// A panic in a nested run cancels it, unwinds through the outer stage,
/// cancels the outer run, and reaches the caller with its payload; the
/// pools serve the next runs as before. A few rounds only: every panic
/// prints to stderr.
#[test]
fn a_panic_in_a_nested_run_reaches_the_caller() {
    for round in 0..3 {
        for threads in [1, 2, 8] {
            let what = format!("nested panic: round {round}, threads {threads}");
            let caught = watchdog(&what, || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut total = 0u64;
                    pipeline!(threads = threads, capacity = 4, 0..40u64 => |x| {
                    let mut s = 0u64;
                    pipeline!(threads = threads, 0..100u64 => |y| {
                        if x == 17 && y == 50 {
                            panic!("inner {round}");
                        }
                        y
                    } => |y| s += y);
                    s
                } => |s| total += s);
                }))
            });
            let payload = caught.expect_err("the inner stage panicked");
            assert_eq!(
                payload.downcast_ref::<String>().map(String::as_str),
                Some(format!("inner {round}").as_str())
            );
            // The same pools run the next pipeline to the end.
            let mut total = 0u64;
            watchdog(&what, || {
                pipeline!(threads = threads, 0..40u64 => |x| {
                    let mut s = 0u64;
                    pipeline!(threads = threads, 0..100u64 => |y| y + x => |y| s += y);
                    s
                } => |s| total += s);
            });
            assert_eq!(total, EXPECTED, "{what}");
        }
    }
}

/// A serial stage and a replicated one behind a parallel stage take their
/// batches straight from the worker when a slot is idle (`Executor::deliver`).
/// Inside a stage of another pipeline and inside a rayon job, at 1 and 8
/// threads with capacity 2: every item arrives once, and a panic in the
/// inner serial stage reaches the outer caller with its payload.
#[test]
fn handed_over_serial_stages_nested_and_panicking() {
    let inner = |x: u64, threads: usize, fail: bool| {
        let mut h = 0u64;
        let mut s = 0u64;
        pipeline!(threads = threads, capacity = 2,
            0..100u64 => |y| y + x
            => #[serial] |y| {
                if fail && x == 17 && y == 67 {
                    panic!("serial {x}");
                }
                h = h.wrapping_mul(31).wrapping_add(y);
                y
            }
            => #[replicate(2)] |y| y
            => |y| s += y);
        s
    };
    watched("handed-over serial stages", |_| {
        for threads in [1, 8] {
            let mut total = 0u64;
            pipeline!(threads = threads, capacity = 2,
                0..40u64 => |x| inner(x, threads, false) => |s| total += s);
            assert_eq!(total, EXPECTED, "in a stage, threads {threads}");
            let total: u64 = (0..40u64)
                .into_par_iter()
                .map(|x| inner(x, threads, false))
                .sum();
            assert_eq!(total, EXPECTED, "in a rayon job, threads {threads}");
        }
    });
    for threads in [1, 8] {
        let what = format!("panic in a handed-over serial stage, threads {threads}");
        let caught = watchdog(&what, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut total = 0u64;
                pipeline!(threads = threads, capacity = 2,
                    0..40u64 => |x| inner(x, threads, true) => |s| total += s);
            }))
        });
        let payload = caught.expect_err("the inner serial stage panicked");
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("serial 17"),
            "{what}"
        );
    }
}
