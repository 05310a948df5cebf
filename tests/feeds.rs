//! Feeds through the builder (SPEC section 5): `para::feed`,
//! `Graph::feed_source`, `Feeder::send` and `Feeder::try_send`.
//!
//! What is checked: every item sent by any number of producers reaches a
//! sink once, and an ordered stream gives them in the order they were
//! queued; items sent before the run are processed; `try_send` reports a
//! full graph and hands the item back; `send` blocks at the capacity and
//! fails, handing the item back, once the run is over (cancelled, panicked,
//! or stopped by `take`); and a feed never blocks a worker, where a channel
//! used as a source does.
//!
//! Every case that could hang runs under a watchdog that fails the binary
//! naming the case.

use para::{Graph, Options, SendError, TrySendError};
use para_tests::{quiet_panics_of, watchdog, Boom};
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const THREADS: [usize; 4] = [1, 2, 4, 8];

/// Makes and drops of one test's items.
#[derive(Debug, Default)]
struct Counts {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counts {
    fn assert_all_dropped(&self, what: &str) {
        let made = self.made.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        assert_eq!(
            made, dropped,
            "{what}: {made} items made, {dropped} dropped"
        );
    }
}

/// An item whose makes and drops are counted.
#[derive(Debug)]
struct Tracked {
    v: u64,
    counts: Arc<Counts>,
}

impl Tracked {
    fn new(v: u64, counts: &Arc<Counts>) -> Self {
        counts.made.fetch_add(1, Ordering::SeqCst);
        Tracked {
            v,
            counts: counts.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Unbalanced per-item work, so that items finish out of order.
fn work(x: u64) -> u64 {
    let mut y = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..(y >> 58) {
        y = y.rotate_left(5) ^ x;
    }
    std::hint::black_box(y);
    x
}

// ---------------------------------------------------------------------------
// Every item, in the queue's order.

/// Items per producer.
const M: u64 = 2_000;

/// 1, 2, 4 and 8 producers (cloned feeders, each sending its own range) at
/// 1, 2, 4 and 8 threads, into a sink: every item exactly once.
#[test]
fn many_producers_into_a_sink() {
    for producers in [1u64, 2, 4, 8] {
        for threads in THREADS {
            let what = format!("sink, producers {producers}, threads {threads}");
            let mut got = Vec::new();
            watchdog(&what, || {
                let (feeder, input) = para::feed::<u64>();
                std::thread::scope(|s| {
                    for p in 0..producers {
                        let feeder = feeder.clone();
                        s.spawn(move || {
                            for i in p * M..(p + 1) * M {
                                feeder.send(i).unwrap();
                            }
                        });
                    }
                    drop(feeder);
                    let mut g = Graph::new();
                    let src = g.feed_source(input);
                    let worked = g.map(src, work);
                    g.sink(worked, |x| got.push(x));
                    // Items sent before the run starts are queued without a
                    // bound (the producers race with the start), so no bound
                    // on `peak_alive` here: see `send_blocks_at_the_capacity`.
                    let report = g.run_with(Options::new().threads(threads).capacity(64));
                    assert_eq!(report.nodes()[0].items_out(), producers * M, "{what}");
                });
            });
            got.sort_unstable();
            assert!(
                got.iter().copied().eq(0..producers * M),
                "{what}: {} items, not each once",
                got.len()
            );
        }
    }
}

/// The same into an ordered stream: each producer's items come out in the
/// order it sent them (the feed's order is the order of its queue).
#[test]
fn many_producers_into_an_ordered_stream_keep_each_send_order() {
    for producers in [1u64, 2, 4, 8] {
        for threads in THREADS {
            let what = format!("ordered stream, producers {producers}, threads {threads}");
            let got: Vec<u64> = watchdog(&what, || {
                let (feeder, input) = para::feed::<u64>();
                let mut g = Graph::new();
                let src = g.feed_source(input);
                let worked = g.map(src, work);
                let out = g.ordered_stream(worked);
                let stream = g.spawn_with(out, Options::new().threads(threads).capacity(32));
                let handles: Vec<_> = (0..producers)
                    .map(|p| {
                        let feeder = feeder.clone();
                        std::thread::spawn(move || {
                            for i in p * M..(p + 1) * M {
                                feeder.send(i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(feeder);
                let got = stream.collect();
                for h in handles {
                    h.join().unwrap();
                }
                got
            });
            assert_eq!(got.len() as u64, producers * M, "{what}");
            for p in 0..producers {
                let mine: Vec<u64> = got.iter().copied().filter(|x| x / M == p).collect();
                assert!(
                    mine.iter().copied().eq(p * M..(p + 1) * M),
                    "{what}: producer {p}'s items out of its send order"
                );
            }
        }
    }
}

/// With the producers' sends serialised and logged under one lock, the
/// queue's order is the log's: an ordered stream gives exactly the log.
#[test]
fn an_ordered_stream_of_a_feed_is_exactly_the_queue_order() {
    for threads in THREADS {
        let what = format!("queue order, threads {threads}");
        let log = Mutex::new(Vec::new());
        let got: Vec<u64> = watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            std::thread::scope(|s| {
                let mut g = Graph::new();
                let src = g.feed_source(input);
                let worked = g.map(src, work);
                let out = g.ordered_stream(worked);
                let stream = g.spawn_with(out, Options::new().threads(threads).capacity(16));
                for p in 0..4u64 {
                    let (feeder, log) = (feeder.clone(), &log);
                    s.spawn(move || {
                        for i in p * M..(p + 1) * M {
                            let mut log = log.lock().unwrap();
                            feeder.send(i).unwrap();
                            log.push(i);
                        }
                    });
                }
                drop(feeder);
                stream.collect()
            })
        });
        let log = log.into_inner().unwrap();
        assert_eq!(got.len(), log.len(), "{what}");
        assert!(got == log, "{what}: not the order of the queue");
    }
}

// ---------------------------------------------------------------------------
// Before the run.

/// Items sent before the run starts (more than the capacity), the feeder
/// then dropped: the run processes them all and ends.
#[test]
fn items_sent_before_the_run_are_all_processed() {
    for threads in THREADS {
        for capacity in [4, 10_000] {
            let what = format!("sent before, threads {threads}, capacity {capacity}");
            let mut got = Vec::new();
            watchdog(&what, || {
                let (feeder, input) = para::feed::<u64>();
                for i in 0..1_000 {
                    feeder.send(i).unwrap();
                }
                drop(feeder);
                let mut g = Graph::new();
                let src = g.feed_source(input);
                let worked = g.map(src, work);
                g.ordered_sink(worked, |x| got.push(x));
                g.run_with(Options::new().threads(threads).capacity(capacity));
            });
            assert_eq!(got, (0..1_000).collect::<Vec<_>>(), "{what}");
        }
    }
}

/// Eight producers send while the run starts (a stream's run starts on
/// its keeper thread, after `spawn` returned): a send that found no run yet
/// and queued its item after the start had counted the early items put an
/// item into the graph without a capacity unit, and its release took the
/// count of items alive below zero, so the graph looked full for good (a
/// blocked `send`, a hung run). After every item sent is taken, the graph
/// is empty: `try_send` must find room.
#[test]
fn sends_racing_the_start_keep_the_count_of_items_alive() {
    const PRODUCERS: u64 = 8;
    const EACH: u64 = 2_000;
    for round in 0..20 {
        let what = format!("sends racing the start, round {round}");
        watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.stream(src);
            let barrier = Arc::new(std::sync::Barrier::new(PRODUCERS as usize + 1));
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let (feeder, barrier) = (feeder.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        for i in p * EACH..(p + 1) * EACH {
                            feeder.send(i).unwrap();
                        }
                    })
                })
                .collect();
            barrier.wait();
            let mut stream = g.spawn_with(out, Options::new().threads(2).capacity(1 << 20));
            for p in producers {
                p.join().unwrap();
            }
            let mut got: Vec<u64> = stream.by_ref().take((PRODUCERS * EACH) as usize).collect();
            got.sort_unstable();
            assert!(got.iter().copied().eq(0..PRODUCERS * EACH), "{what}");
            match feeder.try_send(u64::MAX) {
                Ok(()) => {}
                Err(e) => panic!("{what}: {e:?} from an empty graph of capacity 2^20"),
            }
            drop(feeder);
            assert_eq!(stream.collect::<Vec<_>>(), [u64::MAX], "{what}");
        });
    }
}

/// Items sent before a stream's run, then more while it runs: all of them,
/// in order.
#[test]
fn items_sent_before_and_during_a_stream() {
    for threads in THREADS {
        let what = format!("before and during, threads {threads}");
        let got: Vec<u64> = watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            for i in 0..500 {
                feeder.send(i).unwrap();
            }
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.ordered_stream(src);
            let stream = g.spawn_with(out, Options::new().threads(threads).capacity(8));
            let producer = std::thread::spawn(move || {
                for i in 500..1_000 {
                    feeder.send(i).unwrap();
                }
            });
            let got = stream.collect();
            producer.join().unwrap();
            got
        });
        assert_eq!(got, (0..1_000).collect::<Vec<_>>(), "{what}");
    }
}

// ---------------------------------------------------------------------------
// Capacity.

/// A feed into a stream of capacity 4 whose consumer does not pull:
/// `try_send` succeeds until the graph is full (4 items: an item counts
/// from its send), then hands the item back in `Full`; once the consumer
/// has taken the items, `try_send` succeeds again. (The first item, sent
/// and taken before, shows the run has started: see
/// `sends_right_after_spawn_count_against_the_capacity` for sends before.)
#[test]
fn try_send_reports_a_full_graph_and_hands_the_item_back() {
    for threads in THREADS {
        let what = format!("try_send, threads {threads}");
        watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.ordered_stream(src);
            let mut stream = g.spawn_with(out, Options::new().threads(threads).capacity(4));
            feeder.send(0).unwrap();
            assert_eq!(stream.next(), Some(0), "{what}: the run started");
            let mut sent = 1u64;
            let back = loop {
                match feeder.try_send(sent) {
                    Ok(()) => sent += 1,
                    Err(TrySendError::Full(item)) => break item,
                    Err(TrySendError::Ended(_)) => panic!("{what}: ended"),
                }
                assert!(
                    sent <= 5,
                    "{what}: {} items in a graph of capacity 4",
                    sent - 1
                );
            };
            assert_eq!(back, sent, "{what}: the item handed back");
            assert_eq!(sent - 1, 4, "{what}: full before the capacity");
            // Still full: nobody pulled.
            match feeder.try_send(back) {
                Err(TrySendError::Full(item)) => assert_eq!(item, back, "{what}"),
                other => panic!("{what}: {other:?} from a full graph"),
            }
            for i in 1..sent {
                assert_eq!(stream.next(), Some(i), "{what}");
            }
            // The consumer took them: room again, at once.
            feeder
                .try_send(sent)
                .unwrap_or_else(|e| panic!("{what}: {e:?} after the consumer pulled"));
            drop(feeder);
            assert_eq!(stream.collect::<Vec<_>>(), [sent], "{what}");
        });
    }
}

/// Sends right after `spawn` returned, before the consumer pulls anything,
/// count against the capacity as any other: at most 4 `try_send`s succeed
/// in a graph of capacity 4. (The run starts on a keeper thread; a send
/// that comes before that thread has attached the feed is queued as if
/// sent before the run, without a bound.)
#[test]
fn sends_right_after_spawn_count_against_the_capacity() {
    for threads in THREADS {
        let what = format!("sends right after spawn, threads {threads}");
        let accepted = watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.ordered_stream(src);
            let stream = g.spawn_with(out, Options::new().threads(threads).capacity(4));
            let accepted = (0..1_000u64)
                .filter(|&i| feeder.try_send(i).is_ok())
                .count();
            drop(stream);
            accepted
        });
        assert!(
            accepted <= 4,
            "{what}: {accepted} items accepted into a graph of capacity 4"
        );
    }
}

/// A producer thread sends 1000 items into a stream of capacity 8 whose
/// consumer is slow: `send` blocks, so the items sent and not yet taken
/// never exceed 8 (a lower bound of the runtime's count), nor does
/// `peak_alive`; nothing is lost.
#[test]
fn send_blocks_at_the_capacity() {
    for threads in [1, 4] {
        let what = format!("blocking send, threads {threads}");
        let sent = Arc::new(AtomicUsize::new(0));
        let (got, worst, report) = watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let worked = g.map(src, work);
            let out = g.ordered_stream(worked);
            let mut stream = g.spawn_with(out, Options::new().threads(threads).capacity(8));
            // The run has started once the first item came out.
            feeder.send(0).unwrap();
            assert_eq!(stream.next(), Some(0), "{what}");
            sent.fetch_add(1, Ordering::SeqCst);
            let counter = sent.clone();
            let producer = std::thread::spawn(move || {
                for i in 1..1_000 {
                    feeder.send(i).unwrap();
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            let (mut got, mut worst) = (vec![0], 0);
            for x in stream.by_ref() {
                got.push(x);
                worst = worst.max(sent.load(Ordering::SeqCst).saturating_sub(got.len()));
                if got.len() % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            producer.join().unwrap();
            (got, worst, stream.finish())
        });
        assert_eq!(got, (0..1_000).collect::<Vec<_>>(), "{what}");
        assert!(worst <= 8, "{what}: {worst} items sent and not taken");
        assert!(
            report.peak_alive() <= 8,
            "{what}: peak_alive {}",
            report.peak_alive()
        );
    }
}

// ---------------------------------------------------------------------------
// After the run.

/// The stream dropped early: `send` and `try_send` hand the item back.
/// Every item made is dropped once.
#[test]
fn send_after_the_stream_was_dropped_fails_with_the_item() {
    for threads in THREADS {
        let what = format!("send after drop, threads {threads}");
        let counts = Arc::new(Counts::default());
        watchdog(&what, || {
            let (feeder, input) = para::feed::<Tracked>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.ordered_stream(src);
            let mut stream = g.spawn_with(out, Options::new().threads(threads));
            for i in 0..3 {
                feeder.send(Tracked::new(i, &counts)).unwrap();
            }
            assert_eq!(stream.next().map(|t| t.v), Some(0), "{what}");
            drop(stream);
            match feeder.send(Tracked::new(7, &counts)) {
                Err(SendError(item)) => assert_eq!(item.v, 7, "{what}"),
                Ok(()) => panic!("{what}: a send after the run was accepted"),
            }
            match feeder.try_send(Tracked::new(8, &counts)) {
                Err(TrySendError::Ended(item)) => assert_eq!(item.v, 8, "{what}"),
                other => panic!("{what}: {other:?} after the run"),
            }
        });
        counts.assert_all_dropped(&what);
    }
}

/// A producer blocked in `send` (the graph full, the consumer not pulling)
/// when the stream is dropped: its `send` returns the item.
#[test]
fn a_send_blocked_at_the_capacity_fails_when_the_stream_is_dropped() {
    for threads in THREADS {
        let what = format!("blocked send, threads {threads}");
        let counts = Arc::new(Counts::default());
        let (ok, failed) = watchdog(&what, || {
            let (feeder, input) = para::feed::<Tracked>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let out = g.stream(src);
            let stream = g.spawn_with(out, Options::new().threads(threads).capacity(2));
            let accepted = Arc::new(AtomicUsize::new(0));
            let (c, a) = (counts.clone(), accepted.clone());
            let producer = std::thread::spawn(move || {
                let mut i = 0;
                loop {
                    match feeder.send(Tracked::new(i, &c)) {
                        Ok(()) => a.fetch_add(1, Ordering::SeqCst),
                        Err(SendError(item)) => return (i, item.v),
                    };
                    i += 1;
                }
            });
            // Full: two items in, the third send blocks (or is about to).
            while accepted.load(Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
            drop(stream);
            producer.join().unwrap()
        });
        assert_eq!(ok, failed, "{what}: the item handed back is the one sent");
        assert!(ok >= 2, "{what}: {ok} items accepted");
        counts.assert_all_dropped(&what);
    }
}

/// A stage panics: the consumer gets the panic, and a later `send` hands
/// the item back.
#[test]
fn send_after_a_stage_panic_fails_with_the_item() {
    quiet_panics_of::<Boom>();
    for threads in THREADS {
        let what = format!("send after a panic, threads {threads}");
        let counts = Arc::new(Counts::default());
        watchdog(&what, || {
            let (feeder, input) = para::feed::<Tracked>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let checked = g.map(src, |t: Tracked| {
                if t.v == 5 {
                    panic_any(Boom(5));
                }
                t
            });
            let out = g.ordered_stream(checked);
            let mut stream = g.spawn_with(out, Options::new().threads(threads));
            for i in 0..10 {
                // Sends racing with the panic may be accepted (and dropped
                // by the cancelled run) or refused (handed back): both fine.
                let _ = feeder.send(Tracked::new(i, &counts));
            }
            let payload = loop {
                match catch_unwind(AssertUnwindSafe(|| stream.next())) {
                    Ok(Some(t)) => assert!(t.v < 5, "{what}: item {} after the panic", t.v),
                    Ok(None) => panic!("{what}: no panic"),
                    Err(payload) => break payload,
                }
            };
            assert_eq!(payload.downcast_ref::<Boom>(), Some(&Boom(5)), "{what}");
            match feeder.send(Tracked::new(100, &counts)) {
                Err(SendError(item)) => assert_eq!(item.v, 100, "{what}"),
                Ok(()) => panic!("{what}: a send after the panic was accepted"),
            }
        });
        counts.assert_all_dropped(&what);
    }
}

/// `take(10)` after a feed stops the run while a producer keeps sending:
/// the run returns, the sink saw exactly the first ten, and the producer's
/// next `send` fails with its item.
#[test]
fn take_after_a_feed_stops_the_run() {
    for threads in THREADS {
        let what = format!("take after a feed, threads {threads}");
        let mut got = Vec::new();
        let (sent, refused) = watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            std::thread::scope(|s| {
                let producer = s.spawn(move || {
                    let mut i = 0u64;
                    loop {
                        if let Err(SendError(item)) = feeder.send(i) {
                            return (i, item);
                        }
                        i += 1;
                    }
                });
                let mut g = Graph::new();
                let src = g.feed_source(input);
                let first = g.take(src, 10);
                g.ordered_sink(first, |x| got.push(x));
                g.run_with(Options::new().threads(threads).capacity(16));
                producer.join().unwrap()
            })
        });
        assert_eq!(got, (0..10).collect::<Vec<_>>(), "{what}");
        assert_eq!(sent, refused, "{what}: the item handed back");
        assert!(sent >= 10, "{what}: {sent} items accepted");
    }
}

/// `take(3)` after a feed whose feeder stays alive and idle (5 items sent,
/// nothing more): the run ends all the same, into a stream and into a
/// sink, and a later `send` fails with its item.
#[test]
fn take_after_an_idle_feed_ends_the_run_while_a_feeder_lives() {
    for threads in THREADS {
        let what = format!("take after an idle feed, stream, threads {threads}");
        watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let first = g.take(src, 3);
            let out = g.ordered_stream(first);
            let stream = g.spawn_with(out, Options::new().threads(threads));
            for i in 0..5 {
                // Items past the cut may be refused once the sources stop.
                let _ = feeder.send(i);
            }
            assert_eq!(stream.collect::<Vec<_>>(), [0, 1, 2], "{what}");
            assert_eq!(feeder.send(5), Err(SendError(5)), "{what}");
        });

        let what = format!("take after an idle feed, sink, threads {threads}");
        let mut got = Vec::new();
        watchdog(&what, || {
            let (feeder, input) = para::feed::<u64>();
            for i in 0..5 {
                feeder.send(i).unwrap();
            }
            let mut g = Graph::new();
            let src = g.feed_source(input);
            let first = g.take(src, 3);
            g.ordered_sink(first, |x| got.push(x));
            g.run_with(Options::new().threads(threads));
            assert_eq!(feeder.send(5), Err(SendError(5)), "{what}");
        });
        assert_eq!(got, [0, 1, 2], "{what}");
    }
}

// ---------------------------------------------------------------------------
// A feed never blocks a worker.

/// The first source of a one-thread run.
#[derive(Clone, Copy, Debug)]
enum Input {
    Feed,
    Channel,
}

const RANGE: u64 = 10_000;
const LATE: u64 = 10;

/// A one-thread run with two sources into one sink: `input` (sent to only
/// once the other source's items have all reached the sink, or once the
/// producer has waited `patience`) and a range. Returns whether the
/// producer ran out of patience, and what the sink saw.
fn one_worker_two_sources(input: Input, patience: Duration) -> (bool, Vec<u64>) {
    let range_seen = AtomicUsize::new(0);
    let timed_out = AtomicBool::new(false);
    let mut got = Vec::new();
    let (feeder, feed) = para::feed::<u64>();
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    std::thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            while range_seen.load(Ordering::SeqCst) < RANGE as usize {
                if start.elapsed() > patience {
                    timed_out.store(true, Ordering::SeqCst);
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            for i in 0..LATE {
                match input {
                    Input::Feed => feeder.send(RANGE + i).unwrap(),
                    Input::Channel => tx.send(RANGE + i).unwrap(),
                }
            }
            drop((feeder, tx));
        });
        let mut g = Graph::new();
        let first = match input {
            Input::Feed => g.feed_source(feed),
            Input::Channel => g.source(rx),
        };
        let range = g.source(0..RANGE);
        let all = g.fan_in([first, range]);
        g.sink(all, |x| {
            if x < RANGE {
                range_seen.fetch_add(1, Ordering::SeqCst);
            }
            got.push(x);
        });
        g.run_with(Options::new().threads(1));
    });
    got.sort_unstable();
    (timed_out.into_inner(), got)
}

/// With one worker, a feed that nothing has been sent to yet leaves the
/// worker free: the range's items all reach the sink before the producer
/// sends anything. A channel receiver used as a source instead blocks the
/// only worker in `next()`, so the range stalls until the producer gives
/// up waiting and sends.
#[test]
fn a_feed_never_blocks_a_worker_where_a_channel_source_does() {
    let want: Vec<u64> = (0..RANGE + LATE).collect();
    let (timed_out, got) = watchdog("feed beside a range, one thread", || {
        one_worker_two_sources(Input::Feed, Duration::from_secs(30))
    });
    assert!(!timed_out, "the feed blocked the only worker");
    assert_eq!(got, want, "feed: every item");

    let (timed_out, got) = watchdog("channel beside a range, one thread", || {
        one_worker_two_sources(Input::Channel, Duration::from_millis(500))
    });
    assert!(
        timed_out,
        "the channel source did not block the only worker: the comparison shows nothing"
    );
    assert_eq!(got, want, "channel: every item");
}

/// A feed whose run is a library call inside a stage of another pipeline,
/// and inside a rayon job: each inner run takes its producer's items and
/// returns when the producer is done, at 1 and 8 threads, with a small
/// capacity (the producer blocks in `send` meanwhile).
#[test]
fn a_feed_inside_a_stage_and_inside_a_rayon_job() {
    fn fed_sum(base: u64, threads: usize) -> u64 {
        let (feeder, input) = para::feed::<u64>();
        let producer = std::thread::spawn(move || {
            for i in 0..200 {
                feeder.send(base + i).unwrap();
            }
        });
        let mut sum = 0;
        let mut g = Graph::new();
        let items = g.feed_source(input);
        let doubled = g.map(items, |x| x * 2);
        g.sink(doubled, |x| sum += x);
        g.run_with(Options::new().threads(threads).capacity(4));
        producer.join().unwrap();
        sum
    }
    let expected = |base: u64| (0..200).map(|i| 2 * (base + i)).sum::<u64>();
    for threads in [1, 8] {
        let total = watchdog("a feed inside a stage", || {
            let mut total = 0;
            let mut g = Graph::new();
            let bases = g.source(0..6u64);
            let sums = g.map(bases, move |b| fed_sum(b * 1000, threads));
            g.sink(sums, |s| total += s);
            g.run_with(Options::new().threads(threads));
            total
        });
        assert_eq!(total, (0..6).map(|b| expected(b * 1000)).sum::<u64>());
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let in_job = watchdog("a feed inside a rayon job", || {
            pool.install(|| {
                let (a, b) = rayon_core::join(|| fed_sum(0, threads), || fed_sum(5000, threads));
                a + b
            })
        });
        assert_eq!(in_job, expected(0) + expected(5000));
    }
}
