//! Streams through the builder (SPEC section 5): `Graph::stream` and
//! `Graph::ordered_stream` end a flow in `yield`, `Graph::spawn*` start the
//! run in the background, and the `para::Stream` it returns is an iterator
//! of what reaches `yield`.
//!
//! What is checked: the order of an ordered stream is exactly the
//! sequential one (through a diamond and flat-maps, at 1, 2, 4 and 8
//! threads); a bare stream gives every item once; dropping a stream at any
//! point drops every item made exactly once and leaves the pool usable; a
//! stage panic resumes on the consumer's thread with its payload; the
//! report comes with the end; items waiting in a stream count against
//! `capacity`; scoped streams borrow; a stream can be consumed inside a
//! stage of another pipeline, inside a rayon job, or on another thread; and
//! flows that end in sinks run beside the stream.
//!
//! Every case that could hang runs under a watchdog that fails the binary
//! naming the case. `PARA_STREAM_ROUNDS` (default 10) sets how many times
//! the nesting cases repeat.

use para::{Graph, Options, Stream};
use para_tests::{env_usize, quiet_panics_of, watchdog, Boom};
use std::collections::HashMap;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const THREADS: [usize; 4] = [1, 2, 4, 8];

// ---------------------------------------------------------------------------
// Helpers.

/// The makes (constructions and clones) and drops of every item of one run,
/// by item value: tests of this binary run in parallel, so nothing global.
#[derive(Default)]
struct Counts {
    by_value: Mutex<HashMap<u64, (usize, usize)>>,
}

impl Counts {
    fn made(&self) -> usize {
        self.by_value.lock().unwrap().values().map(|c| c.0).sum()
    }

    /// Every item made was dropped exactly once (per value: a lost drop
    /// and a double drop do not cancel out).
    fn assert_all_dropped(&self, what: &str) {
        let counts = self.by_value.lock().unwrap();
        for (value, (made, dropped)) in counts.iter() {
            assert_eq!(
                made, dropped,
                "{what}: item {value} made {made} times, dropped {dropped} times"
            );
        }
    }
}

/// An item whose makes and drops are counted.
struct Tracked {
    v: u64,
    counts: Arc<Counts>,
}

impl Tracked {
    fn new(v: u64, counts: &Arc<Counts>) -> Self {
        counts.by_value.lock().unwrap().entry(v).or_default().0 += 1;
        Tracked {
            v,
            counts: counts.clone(),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked::new(self.v, &self.counts)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut counts = self.counts.by_value.lock().unwrap();
        let entry = counts.get_mut(&self.v).expect("a tracked item was made");
        entry.1 += 1;
    }
}

/// Unbalanced per-item work, so that items finish out of order.
fn work(x: u64) -> u64 {
    let mut y = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..(y >> 58) {
        y = y.rotate_left(5) ^ x;
    }
    std::hint::black_box(y);
    x // the value is `x`; the loop is the work
}

/// The pool of `threads` threads runs an ordinary pipeline to the end
/// (after a cancelled or panicking stream run on it).
fn assert_pool_usable(threads: usize, what: &str) {
    let mut sum = 0u64;
    watchdog(&format!("{what}: the pool afterwards"), || {
        let mut g = Graph::new();
        let src = g.source(0..1_000u64);
        let doubled = g.map(src, |x| x * 2);
        g.sink(doubled, |x| sum += x);
        g.run_with(Options::new().threads(threads));
    });
    assert_eq!(sum, 999 * 1_000, "{what}: the pool afterwards");
    let streamed: u64 = watchdog(&format!("{what}: a stream afterwards"), || {
        let mut g = Graph::new();
        let src = g.source(0..1_000u64);
        let out = g.stream(src);
        g.spawn_with(out, Options::new().threads(threads)).sum()
    });
    assert_eq!(streamed, 999 * 1_000 / 2, "{what}: a stream afterwards");
}

// ---------------------------------------------------------------------------
// Order and completeness.

#[test]
fn ordered_stream_in_source_order() {
    for threads in THREADS {
        let got: Vec<u64> = watchdog(&format!("squares, threads {threads}"), || {
            let mut g = Graph::new();
            let src = g.source(0..10_000u64);
            let sq = g.map(src, |x| x * x);
            let out = g.ordered_stream(sq);
            g.spawn_with(out, Options::new().threads(threads)).collect()
        });
        assert_eq!(got, (0..10_000u64).map(|x| x * x).collect::<Vec<_>>());
    }
}

/// The sequential result of the diamond below: for each `x`, branch 0's
/// output, then branch 1's (0 to 2 items), each split in two by the last
/// flat-map.
fn diamond_sequential(n: u64) -> Vec<u64> {
    (0..n)
        .flat_map(|x| {
            let branch0 = [x * 8];
            let branch1 = (0..x % 3).map(move |i| x * 8 + 1 + i);
            branch0.into_iter().chain(branch1)
        })
        .flat_map(|y| [y * 2, y * 2 + 1])
        .collect()
}

/// A diamond (fan-out, then fan-in) with a flat-map on one branch and one
/// after the join, into an ordered stream: exactly the sequential result at
/// every thread count and batch size.
#[test]
fn ordered_stream_after_a_diamond_and_flat_maps_is_sequential() {
    const N: u64 = 5_000;
    let want = diamond_sequential(N);
    for threads in THREADS {
        for batch in [1, 7, 256] {
            let what = format!("diamond, threads {threads}, batch {batch}");
            let got: Vec<u64> = watchdog(&what, || {
                let mut g = Graph::new();
                let src = g.source(0..N);
                let mut branches = g.fan_out(src, 2).into_iter();
                let (a, b) = (branches.next().unwrap(), branches.next().unwrap());
                // Connected in the other order: the branch index decides.
                let b = g.flat_map(b, |x: u64| (0..x % 3).map(move |i| work(x * 8 + 1 + i)));
                let a = g.map(a, |x: u64| work(x * 8));
                let joined = g.fan_in([a, b]);
                let split = g.flat_map(joined, |y: u64| [y * 2, y * 2 + 1]);
                let out = g.ordered_stream(split);
                g.spawn_with(out, Options::new().threads(threads).batch(batch))
                    .collect()
            });
            assert_eq!(got.len(), want.len(), "{what}");
            assert!(got == want, "{what}: not the sequential order");
        }
    }
}

/// A bare stream gives every item exactly once (in completion order).
#[test]
fn bare_stream_gives_every_item_once() {
    const N: u64 = 20_000;
    let mut want: Vec<u64> = (0..N)
        .filter(|x| x % 5 != 0)
        .flat_map(|x| [x, x + N])
        .collect();
    want.sort_unstable();
    for threads in THREADS {
        for split in [false, true] {
            let what = format!("bare stream, threads {threads}, split {split}");
            let mut got: Vec<u64> = watchdog(&what, || {
                let mut g = Graph::new();
                let src = if split {
                    g.split_source(0..N)
                } else {
                    g.source(0..N)
                };
                let kept = g.filter(src, |x| x % 5 != 0);
                let worked = g.map(kept, work);
                let both = g.flat_map(worked, |x| [x, x + N]);
                let out = g.stream(both);
                g.spawn_with(out, Options::new().threads(threads).capacity(100))
                    .collect()
            });
            got.sort_unstable();
            assert!(
                got == want,
                "{what}: {} items, want {}",
                got.len(),
                want.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Dropping a stream.

/// Where the consumer drops the stream.
#[derive(Clone, Copy, Debug)]
enum DropAt {
    /// Before the first `next`.
    Start,
    /// After taking this many items.
    After(usize),
    /// After `next` returned `None`.
    End,
}

/// Tracked items through a map, a fan-out (whose clones are tracked too)
/// and a fan-in into an ordered stream; the consumer drops the stream at
/// `at`. Every item made is dropped exactly once by the time the drop
/// returns, what was taken is a prefix of the sequential result, and the
/// pool runs the next pipelines.
#[test]
fn early_drop_at_every_position_drops_every_item_once() {
    const N: u64 = 2_000;
    let want: Vec<u64> = (0..N).flat_map(|x| [x, x + 1_000_000]).collect();
    for threads in THREADS {
        for capacity in [None, Some(16)] {
            for at in [
                DropAt::Start,
                DropAt::After(1),
                DropAt::After(want.len() / 2),
                DropAt::After(want.len() - 1),
                DropAt::End,
            ] {
                let what = format!("drop at {at:?}, threads {threads}, capacity {capacity:?}");
                let counts = Arc::new(Counts::default());
                let taken = watchdog(&what, || {
                    let mut g = Graph::new();
                    let c = counts.clone();
                    let src = g.source((0..N).map(move |x| Tracked::new(x, &c)));
                    let mapped = g.map(src, |t: Tracked| {
                        let x = work(t.v);
                        Tracked::new(x, &t.counts)
                    });
                    let mut branches = g.fan_out(mapped, 2).into_iter();
                    let (a, b) = (branches.next().unwrap(), branches.next().unwrap());
                    let b = g.map(b, |t: Tracked| Tracked::new(t.v + 1_000_000, &t.counts));
                    let joined = g.fan_in([a, b]);
                    let out = g.ordered_stream(joined);
                    let mut options = Options::new().threads(threads);
                    if let Some(capacity) = capacity {
                        options = options.capacity(capacity);
                    }
                    let mut stream = g.spawn_with(out, options);
                    let mut taken = Vec::new();
                    match at {
                        DropAt::Start => {}
                        DropAt::After(k) => {
                            taken.extend(stream.by_ref().take(k).map(|t| t.v));
                            assert_eq!(taken.len(), k, "{what}: items before the drop");
                        }
                        DropAt::End => {
                            taken.extend(stream.by_ref().map(|t| t.v));
                            assert!(stream.next().is_none(), "{what}: fused after the end");
                            assert!(stream.report().is_some(), "{what}: a report at the end");
                        }
                    }
                    drop(stream);
                    taken
                });
                assert!(taken == want[..taken.len()], "{what}: not a prefix");
                if let DropAt::End = at {
                    assert_eq!(taken.len(), want.len(), "{what}: every item");
                }
                assert!(counts.made() >= taken.len(), "{what}");
                counts.assert_all_dropped(&what);
                assert_pool_usable(threads, &what);
            }
        }
    }
}

/// An infinite source: dropping the stream after one item cancels the run
/// and returns (a hang fails the watchdog; no time is asserted), and the
/// items the source made are dropped once.
#[test]
fn early_drop_of_an_infinite_source() {
    for threads in THREADS {
        for ordered in [true, false] {
            let what = format!("infinite source, threads {threads}, ordered {ordered}");
            let counts = Arc::new(Counts::default());
            watchdog(&what, || {
                let mut g = Graph::new();
                let c = counts.clone();
                let src = g.source((0u64..).map(move |x| Tracked::new(x, &c)));
                let out = if ordered {
                    g.ordered_stream(src)
                } else {
                    g.stream(src)
                };
                let mut s = g.spawn_with(out, Options::new().threads(threads));
                let first = s.next().expect("an infinite source has a first item");
                if ordered {
                    assert_eq!(first.v, 0, "{what}");
                }
                drop(s);
            });
            assert!(counts.made() >= 1, "{what}");
            counts.assert_all_dropped(&what);
        }
    }
    assert_pool_usable(4, "infinite source");
}

/// Dropping a stream that has not started to pull while its sources are
/// parked at a small capacity (the graph is full of items waiting for the
/// consumer) cancels the run all the same.
#[test]
fn drop_of_a_stream_parked_at_its_capacity() {
    for threads in THREADS {
        let what = format!("parked stream, threads {threads}");
        let counts = Arc::new(Counts::default());
        watchdog(&what, || {
            let made = Arc::new(AtomicUsize::new(0));
            let mut g = Graph::new();
            let (c, m) = (counts.clone(), made.clone());
            let src = g.source((0u64..).map(move |x| {
                m.fetch_add(1, Ordering::SeqCst);
                Tracked::new(x, &c)
            }));
            let out = g.stream(src);
            let s = g.spawn_with(out, Options::new().threads(threads).capacity(8));
            // The graph fills up: 8 items made, then the source parks.
            while made.load(Ordering::SeqCst) < 8 {
                std::thread::yield_now();
            }
            drop(s);
            assert!(
                made.load(Ordering::SeqCst) <= 8,
                "{what}: past the capacity"
            );
        });
        counts.assert_all_dropped(&what);
    }
}

// ---------------------------------------------------------------------------
// Panics.

/// Where the injected panic happens.
#[derive(Clone, Copy, Debug)]
enum Site {
    /// In a map before an ordered stream.
    Map,
    /// In the source iterator of a bare stream.
    Source,
    /// In a sink on another flow beside the stream.
    SinkBeside,
}

/// A run whose `site` panics with `Boom(at)` at item `at` of 10,000.
fn panicking(site: Site, at: u64, threads: usize, counts: &Arc<Counts>) -> Stream<Tracked> {
    let mut g = Graph::new();
    let c = counts.clone();
    let src = g.source((0..10_000u64).map(move |x| {
        if matches!(site, Site::Source) && x == at {
            panic_any(Boom(at));
        }
        Tracked::new(x, &c)
    }));
    let mapped = g.map(src, move |t: Tracked| {
        if matches!(site, Site::Map) && t.v == at {
            panic_any(Boom(at));
        }
        t
    });
    if let Site::SinkBeside = site {
        let other = g.source(0..10_000u64);
        g.sink(other, move |x| {
            if x == at {
                panic_any(Boom(at));
            }
        });
    }
    let out = match site {
        Site::Map | Site::SinkBeside => g.ordered_stream(mapped),
        Site::Source => g.stream(mapped),
    };
    g.spawn_with(out, Options::new().threads(threads).capacity(64))
}

/// A stage panic resumes on the consumer's thread, in a `next()` call,
/// with the original payload; the stream is over after it (`None`), every
/// item is dropped once, and the pool runs the next pipelines.
#[test]
fn a_stage_panic_resumes_in_next_with_its_payload() {
    quiet_panics_of::<Boom>();
    for threads in THREADS {
        for site in [Site::Map, Site::Source, Site::SinkBeside] {
            let what = format!("panic in {site:?}, threads {threads}");
            let at = 500;
            let counts = Arc::new(Counts::default());
            let (taken, payload) = watchdog(&what, || {
                let mut s = panicking(site, at, threads, &counts);
                let consumer = std::thread::current().id();
                let mut taken = Vec::new();
                let payload = loop {
                    match catch_unwind(AssertUnwindSafe(|| s.next())) {
                        Ok(Some(t)) => taken.push(t.v),
                        Ok(None) => panic!("{what}: the stream ended without the panic"),
                        Err(payload) => break payload,
                    }
                };
                assert_eq!(std::thread::current().id(), consumer);
                // Over: the next call ends the stream instead of hanging.
                assert!(s.next().is_none(), "{what}: an item after the panic");
                assert!(s.report().is_none(), "{what}: a report after a panic");
                drop(s);
                (taken, payload)
            });
            assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(at)), "{what}");
            match site {
                // Ordered: a prefix of the items before the one that panicked.
                Site::Map => {
                    assert!(taken.len() as u64 <= at, "{what}: past the panic");
                    assert!(
                        taken.iter().copied().eq(0..taken.len() as u64),
                        "{what}: not a prefix"
                    );
                }
                // Ordered, and the panic elsewhere: a prefix.
                Site::SinkBeside => {
                    assert!(
                        taken.iter().copied().eq(0..taken.len() as u64),
                        "{what}: not a prefix"
                    );
                }
                // Only items the source made before it panicked.
                Site::Source => {
                    assert!(taken.len() as u64 <= at, "{what}");
                    assert!(taken.iter().all(|&v| v < at), "{what}");
                }
            }
            counts.assert_all_dropped(&what);
            assert_pool_usable(threads, &what);
        }
    }
}

/// `finish()` on a run whose stage panics resumes the panic, with its
/// payload, from `finish`.
#[test]
fn finish_of_a_panicking_run_panics_with_the_payload() {
    quiet_panics_of::<Boom>();
    for threads in THREADS {
        let what = format!("finish after a panic, threads {threads}");
        let counts = Arc::new(Counts::default());
        let result = watchdog(&what, || {
            let mut s = panicking(Site::Map, 300, threads, &counts);
            assert!(s.next().is_some(), "{what}: item 0 comes before the panic");
            catch_unwind(AssertUnwindSafe(move || s.finish()))
        });
        let payload = result.expect_err("finish must resume the stage's panic");
        assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(300)), "{what}");
        counts.assert_all_dropped(&what);
        assert_pool_usable(threads, &what);
    }
}

/// Dropping a stream whose run panicked discards the panic (as dropping a
/// `JoinHandle` does): the drop returns normally.
#[test]
fn dropping_a_panicked_stream_discards_the_panic() {
    quiet_panics_of::<Boom>();
    for threads in THREADS {
        let what = format!("drop after a panic, threads {threads}");
        let counts = Arc::new(Counts::default());
        let panicked = Arc::new(AtomicBool::new(false));
        let dropped = watchdog(&what, || {
            let mut g = Graph::new();
            let c = counts.clone();
            let src = g.source((0..1_000u64).map(move |x| Tracked::new(x, &c)));
            let p = panicked.clone();
            let mapped = g.map(src, move |t: Tracked| {
                if t.v == 10 {
                    p.store(true, Ordering::SeqCst);
                    panic_any(Boom(10));
                }
                t
            });
            let out = g.stream(mapped);
            let s = g.spawn_with(out, Options::new().threads(threads));
            while !panicked.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            catch_unwind(AssertUnwindSafe(move || drop(s)))
        });
        assert!(dropped.is_ok(), "{what}: the drop panicked");
        counts.assert_all_dropped(&what);
    }
}

// ---------------------------------------------------------------------------
// The report.

/// `report()` is `None` until the end was taken and `Some` after `next`
/// returned `None`; `finish()` drains the rest and returns the report, with
/// the right counts either way.
#[test]
fn finish_and_report_give_the_counts() {
    for threads in THREADS {
        let what = format!("report, threads {threads}");
        let build = || {
            let mut g = Graph::new();
            let src = g.source(0..1_000u32);
            g.label(src.node(), "src");
            let evens = g.filter(src, |x| x % 2 == 0);
            g.label(evens.node(), "evens");
            let out = g.stream(evens);
            let id = out.node();
            (g.spawn_with(out, Options::new().threads(threads)), id)
        };
        watchdog(&what, || {
            // finish() after three items.
            let (mut s, out) = build();
            let first: Vec<u32> = s.by_ref().take(3).collect();
            assert_eq!(first.len(), 3, "{what}");
            assert!(s.report().is_none(), "{what}: a report before the end");
            let report = s.finish();
            assert_eq!(report.node("src").unwrap().items_out(), 1_000, "{what}");
            assert_eq!(report.node("evens").unwrap().items_in(), 1_000, "{what}");
            assert_eq!(report.node("evens").unwrap().items_out(), 500, "{what}");
            assert_eq!(report.nodes()[out.index()].items_in(), 500, "{what}");
            assert_eq!(report.nodes()[out.index()].kind(), "yield", "{what}");
            assert_eq!(report.threads(), threads, "{what}");

            // report() after exhaustion.
            let (mut s, out) = build();
            let mut n = 0;
            while let Some(x) = s.next() {
                assert_eq!(x % 2, 0, "{what}");
                n += 1;
                if n < 500 {
                    assert!(s.report().is_none(), "{what}: a report before the end");
                }
            }
            assert_eq!(n, 500, "{what}");
            let report = s.report().expect("a report after the end").clone();
            assert_eq!(report.nodes()[out.index()].items_in(), 500, "{what}");
            assert_eq!(report.node("src").unwrap().items_out(), 1_000, "{what}");
            // finish() on an exhausted stream gives the same report.
            let again = s.finish();
            assert_eq!(again.nodes(), report.nodes(), "{what}");
        });
    }
}

// ---------------------------------------------------------------------------
// Capacity.

/// Items waiting in a stream count against `capacity`: over a million items
/// and a consumer that sleeps now and then, the items the source has made
/// minus those the consumer has taken never exceed the capacity (a lower
/// bound of the runtime's count: an item is made after its room is
/// reserved, and its room is given back after it is taken), nor does
/// `peak_alive`; and every item arrives.
#[test]
fn a_slow_consumer_keeps_the_run_within_capacity() {
    const N: u64 = 1_000_000;
    const C: usize = 64;
    for (threads, ordered) in [(4, false), (2, true)] {
        let what = format!("backpressure, threads {threads}, ordered {ordered}");
        let made = Arc::new(AtomicUsize::new(0));
        let (count, sum, report) = watchdog(&what, || {
            let mut g = Graph::new();
            let m = made.clone();
            let src = g.source((0..N).inspect(move |_| {
                m.fetch_add(1, Ordering::SeqCst);
            }));
            let mapped = g.map(src, |x| x ^ 1);
            let out = if ordered {
                g.ordered_stream(mapped)
            } else {
                g.stream(mapped)
            };
            let mut s = g.spawn_with(out, Options::new().threads(threads).capacity(C));
            let (mut count, mut sum, mut worst) = (0usize, 0u64, 0usize);
            for x in s.by_ref() {
                count += 1;
                sum += x;
                let ahead = made.load(Ordering::SeqCst).saturating_sub(count);
                worst = worst.max(ahead);
                if count % 50_000 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                if ordered {
                    assert_eq!(x, (count as u64 - 1) ^ 1, "{what}: out of order");
                }
            }
            assert!(worst <= C, "{what}: {worst} items made and not taken");
            (count, sum, s.finish())
        });
        assert_eq!(count as u64, N, "{what}");
        assert_eq!(sum, (0..N).map(|x| x ^ 1).sum::<u64>(), "{what}");
        assert!(
            report.peak_alive() <= C,
            "{what}: peak_alive {} > capacity {C}",
            report.peak_alive()
        );
    }
}

// ---------------------------------------------------------------------------
// Scoped streams.

/// `spawn_scoped`: stages borrow a local `Vec`, the items are `&str`
/// borrowed from another, a sink beside the stream mutates a local; the
/// results are right, and a stream dropped early inside the scope ends its
/// run before the scope does.
#[test]
fn scoped_streams_borrow_locals() {
    let words: Vec<String> = (0..2_000).map(|i| format!("w{i}")).collect();
    let banned: Vec<usize> = (0..2_000).filter(|i| i % 7 == 3).collect();
    let want: Vec<&str> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 3)
        .map(|(_, w)| w.as_str())
        .collect();
    for threads in THREADS {
        let what = format!("scoped, threads {threads}");
        let mut beside = 0u64;
        watchdog(&what, || {
            std::thread::scope(|s| {
                let mut g = Graph::new();
                let src = g.source(words.iter().map(String::as_str));
                let kept = g.filter(src, |w: &&str| {
                    let i: usize = w[1..].parse().unwrap();
                    banned.binary_search(&i).is_err()
                });
                let other = g.source(0..100u64);
                g.sink(other, |x| beside += x);
                let out = g.ordered_stream(kept);
                let got: Vec<&str> = g
                    .spawn_scoped_with(s, out, Options::new().threads(threads))
                    .collect();
                assert_eq!(got, want, "{what}");

                // Dropped early, inside the scope.
                let mut g = Graph::new();
                let src = g.source(words.iter().map(String::as_str));
                let lens = g.map(src, |w: &str| (w, w.len() + banned.len()));
                let out = g.ordered_stream(lens);
                let mut stream = g.spawn_scoped_with(s, out, Options::new().threads(threads));
                assert_eq!(stream.next(), Some(("w0", 2 + banned.len())), "{what}");
                assert_eq!(stream.next(), Some(("w1", 2 + banned.len())), "{what}");
                drop(stream);

                // Default options.
                let mut g = Graph::new();
                let src = g.source(words.iter());
                let lens = g.map(src, |w: &String| w.len());
                let out = g.stream(lens);
                let total: usize = g.spawn_scoped(s, out).sum();
                assert_eq!(
                    total,
                    words.iter().map(String::len).sum::<usize>(),
                    "{what}"
                );
            });
        });
        assert_eq!(beside, 4_950, "{what}: the sink beside the stream");
    }
}

// ---------------------------------------------------------------------------
// Where the consumer runs.

/// How many times the nesting cases repeat.
fn rounds() -> usize {
    env_usize("PARA_STREAM_ROUNDS", 10)
}

/// The sum of `x * y` for `y < 100`, through a stream.
fn inner_stream_sum(x: u64, options: Options<'static>) -> u64 {
    let mut g = Graph::new();
    let src = g.source(0..100u64);
    let products = g.map(src, move |y| x * y);
    let out = g.stream(products);
    g.spawn_with(out, options).sum()
}

const NESTED_TOTAL: u64 = 4_950 * (40 * 39 / 2);

/// A stream consumed inside a stage of another pipeline, at 1 and 4 threads
/// outer and inner, and with the inner run's default options (its workers
/// then go to a pool of their own: the consumer is a pool thread).
#[test]
fn a_stream_inside_a_stage_of_another_pipeline() {
    for round in 0..rounds() {
        for (outer, inner) in [(1, 1), (1, 4), (4, 1), (4, 4), (2, 0)] {
            let what = format!("stream in a stage, round {round}, outer {outer}, inner {inner}");
            let mut total = 0u64;
            watchdog(&what, || {
                let mut g = Graph::new();
                let src = g.source(0..40u64);
                let sums = g.map(src, move |x| {
                    let options = if inner == 0 {
                        Options::new()
                    } else {
                        Options::new().threads(inner)
                    };
                    inner_stream_sum(x, options)
                });
                g.sink(sums, |s| total += s);
                g.run_with(Options::new().threads(outer).capacity(4));
            });
            assert_eq!(total, NESTED_TOTAL, "{what}");
        }
    }
}

/// A stream consumed inside a rayon job: on a pool of two threads, with its
/// workers on another pool (default options, and `threads = 2`) and on the
/// very pool whose threads consume (`Options::pool`, scoped), one consumer
/// at a time and one per pool thread at once.
#[test]
fn a_stream_consumed_inside_a_rayon_job() {
    use rayon::prelude::*;
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for round in 0..rounds() {
        let what = format!("stream in a rayon job, round {round}");
        watchdog(&what, || {
            let one = pool.install(|| inner_stream_sum(7, Options::new()));
            assert_eq!(one, 7 * 4_950, "{what}: default options");
            let one = pool.install(|| inner_stream_sum(7, Options::new().threads(2)));
            assert_eq!(one, 7 * 4_950, "{what}: threads 2");
            let many: u64 = pool.install(|| {
                (0..40u64)
                    .into_par_iter()
                    .map(|x| inner_stream_sum(x, Options::new()))
                    .sum()
            });
            assert_eq!(many, NESTED_TOTAL, "{what}: par_iter");
            // The workers on the consumers' own pool.
            let same: u64 = pool.install(|| {
                (0..8u64)
                    .into_par_iter()
                    .map(|x| {
                        std::thread::scope(|s| {
                            let mut g = Graph::new();
                            let src = g.source(0..100u64);
                            let products = g.map(src, move |y| x * y);
                            let out = g.stream(products);
                            g.spawn_scoped_with(s, out, Options::new().pool(&pool))
                                .sum::<u64>()
                        })
                    })
                    .sum()
            });
            assert_eq!(same, 4_950 * 28, "{what}: on the same pool");
        });
    }
}

/// A stream moved to another thread after a few items and consumed there;
/// another dropped there mid-run.
#[test]
fn a_stream_moved_to_another_thread() {
    for threads in THREADS {
        let what = format!("moved stream, threads {threads}");
        watchdog(&what, || {
            let mut g = Graph::new();
            let src = g.source(0..10_000u64);
            let out = g.ordered_stream(src);
            let mut s = g.spawn_with(out, Options::new().threads(threads));
            let head: Vec<u64> = s.by_ref().take(10).collect();
            let tail = std::thread::spawn(move || s.collect::<Vec<u64>>())
                .join()
                .unwrap();
            assert_eq!(head, (0..10).collect::<Vec<_>>(), "{what}");
            assert_eq!(tail, (10..10_000).collect::<Vec<_>>(), "{what}");

            let counts = Arc::new(Counts::default());
            let mut g = Graph::new();
            let c = counts.clone();
            let src = g.source((0u64..).map(move |x| Tracked::new(x, &c)));
            let out = g.stream(src);
            let s = g.spawn_with(out, Options::new().threads(threads).capacity(32));
            std::thread::spawn(move || {
                let mut s = s;
                assert!(s.next().is_some());
                drop(s);
            })
            .join()
            .unwrap();
            counts.assert_all_dropped(&what);
        });
    }
}

// ---------------------------------------------------------------------------
// Other flows beside the stream.

/// Two sources: one flow ends in a sink, the other in the stream. Both run
/// to the end; the report counts the sink's items.
#[test]
fn flows_ending_in_sinks_beside_the_stream() {
    for threads in THREADS {
        let what = format!("sinks beside, threads {threads}");
        let sunk = Arc::new(AtomicU64::new(0));
        let (got, report, sink) = watchdog(&what, || {
            let mut g = Graph::new();
            let a = g.source(0..5_000u64);
            let a = g.map(a, |x| x * 3);
            let total = sunk.clone();
            let sink = g.sink(a, move |x| {
                total.fetch_add(x, Ordering::Relaxed);
            });
            let b = g.source(0..3_000u64);
            let b = g.map(b, |x| x + 1);
            let out = g.ordered_stream(b);
            let mut s = g.spawn_with(out, Options::new().threads(threads));
            let got: Vec<u64> = s.by_ref().collect();
            (got, s.finish(), sink)
        });
        assert_eq!(got, (1..=3_000u64).collect::<Vec<_>>(), "{what}");
        assert_eq!(
            sunk.load(Ordering::Relaxed),
            3 * 4_999 * 5_000 / 2,
            "{what}"
        );
        assert_eq!(report.nodes()[sink.index()].items_in(), 5_000, "{what}");
    }
    // One source fanned out to a sink and to the stream.
    for threads in THREADS {
        let what = format!("fan-out to a sink and the stream, threads {threads}");
        let sunk = Arc::new(AtomicU64::new(0));
        let got: Vec<u64> = watchdog(&what, || {
            let mut g = Graph::new();
            let src = g.source(0..5_000u64);
            let mut branches = g.fan_out(src, 2).into_iter();
            let (a, b) = (branches.next().unwrap(), branches.next().unwrap());
            let total = sunk.clone();
            g.sink(a, move |x| {
                total.fetch_add(x, Ordering::Relaxed);
            });
            let out = g.ordered_stream(b);
            g.spawn_with(out, Options::new().threads(threads)).collect()
        });
        assert_eq!(got, (0..5_000u64).collect::<Vec<_>>(), "{what}");
        assert_eq!(sunk.load(Ordering::Relaxed), 4_999 * 5_000 / 2, "{what}");
    }
}

/// An ordered stream that two sources reach is refused when the run
/// starts, on the caller's thread, as an ordered sink is.
#[test]
fn an_ordered_stream_from_two_sources_is_refused() {
    let refused = catch_unwind(|| {
        let mut g = Graph::new();
        let a = g.source(0..10u64);
        let b = g.source(0..10u64);
        let joined = g.fan_in([a, b]);
        let out = g.ordered_stream(joined);
        g.spawn_with(out, Options::new().threads(2)).count()
    });
    let payload = refused.expect_err("an ordered stream reached from two sources");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("several sources"), "{message}");
}
