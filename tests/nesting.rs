//! Para inside Para, inside rayon, and rayon inside Para: a library call
//! that happens to run a pipeline must behave like any other call, whatever
//! pools the two use. Every round runs under a watchdog that turns a hang
//! into a failure naming the round, instead of a stuck CI.
//!
//! `PARA_NESTING_ROUNDS` (default 60) sets the rounds per case; thousands
//! are worth running locally after a scheduler change.

use para::prelude::*;
use rayon::prelude::*;
use std::sync::mpsc;
use std::time::Duration;

/// Rounds per case.
fn rounds() -> usize {
    std::env::var("PARA_NESTING_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

/// Runs `round(i)` for every round on a thread of its own and fails if one
/// round has not finished after `LIMIT` (a hang: a round takes milliseconds).
fn watched(case: &'static str, round: impl Fn(usize) + Send + 'static) {
    const LIMIT: Duration = Duration::from_secs(60);
    let rounds = rounds();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..rounds {
            round(i);
            if done.send(i).is_err() {
                return;
            }
        }
    });
    for i in 0..rounds {
        match finished.recv_timeout(LIMIT) {
            Ok(r) => assert_eq!(r, i),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("{case}: round {i} of {rounds} hung (no progress for {LIMIT:?})")
            }
            // The round panicked: its thread is gone; the panic was printed.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{case}: round {i} of {rounds} panicked")
            }
        }
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
    let pool = std::sync::Arc::new(
        rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );
    watched("shared pool", move |_| {
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
