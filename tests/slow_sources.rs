//! A serial source over a slow iterator (a channel whose items arrive over
//! time) emits what it has read once reading takes longer than a batch's
//! time budget, so an item waits for about one item's arrival, not for a
//! whole batch, and a panic downstream reaches the caller after about one
//! item, not when the iterator ends (see `Graph::source`).
//!
//! No test here asserts a duration: the producer paces its items, and the
//! tests assert how many items it had sent when something happened.

use para::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Gap between two items of the slow producer.
const GAP: Duration = Duration::from_millis(5);

/// Sends `0..total` on a channel, one every `GAP`, counting what it sent,
/// until `stop` is set; keeps the sender alive until then.
fn slow_producer(
    total: u64,
    sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> (
    std::thread::JoinHandle<()>,
    crossbeam_channel::Receiver<u64>,
) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = std::thread::spawn(move || {
        for i in 0..total {
            if stop.load(Ordering::Acquire) {
                break;
            }
            sent.fetch_add(1, Ordering::SeqCst);
            if tx.send(i).is_err() {
                break;
            }
            std::thread::sleep(GAP);
        }
        // Keep the channel open until told: the pipeline must not need the
        // end of the input to make progress.
        while !stop.load(Ordering::Acquire) {
            std::thread::sleep(GAP);
        }
    });
    (handle, rx)
}

/// Counts how often the pipeline asked for an item, so that the producer
/// can wait for the pipeline to be reading before it starts (a slow start
/// of the run would otherwise queue items up before the first read).
struct Watched<I> {
    inner: I,
    reads: Arc<AtomicUsize>,
}

impl<I: Iterator> Iterator for Watched<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.next()
    }
}

/// Items reach the sink about as they arrive: when the sink sees item `i`,
/// the producer has sent few items past it. Before, a batch of up to the
/// batch size was read before anything was emitted, so every item waited
/// for the later items of its batch.
#[test]
fn slow_items_are_not_held_back_for_a_batch() {
    for threads in [2, 8] {
        let total = 40u64;
        let sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::unbounded();
        let producer = {
            let (sent, stop, reads) = (sent.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while reads.load(Ordering::SeqCst) == 0 && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(GAP / 5);
                }
                for i in 0..total {
                    sent.fetch_add(1, Ordering::SeqCst);
                    tx.send(i).unwrap();
                    std::thread::sleep(GAP);
                }
            })
        };
        let items = Watched {
            inner: rx.into_iter(),
            reads,
        };
        let mut lag = Vec::new();
        let report = pipeline!(threads = threads, items
        => |x| x * 2
        => #[ordered] |x| {
            let i = (x / 2) as usize;
            lag.push(sent.load(Ordering::SeqCst) - (i + 1));
        });
        stop.store(true, Ordering::Release);
        producer.join().unwrap();
        assert_eq!(lag.len(), total as usize);
        // Each read waits for the next item, longer than a batch's budget,
        // so the source emits items about one at a time, where it read
        // batches of many items before (5 batches for these 40 items in a
        // debug build, fewer in release). A machine that holds the reader
        // back while items queue up merges a few; hence the margins.
        let batches = report.nodes()[0].batches();
        assert!(
            batches >= total / 4,
            "threads = {threads}: {total} slow items in {batches} batches (lags {lag:?})"
        );
        // Typically the sink saw an item before the next one was sent.
        lag.sort_unstable();
        let median = lag[lag.len() / 2];
        assert!(
            median <= 2,
            "threads = {threads}: the median item waited for {median} later items (lags {lag:?})"
        );
    }
}

/// With one thread batches never depend on timing (runs are
/// deterministic), so a slow iterator's items wait for whole batches, but
/// every one arrives, in order.
#[test]
fn one_thread_reads_a_slow_iterator_to_the_end() {
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (producer, rx) = slow_producer(30, sent, stop.clone());
    let mut out = Vec::new();
    pipeline!(threads = 1, rx.iter().take(30) => |x| x + 1 => #[ordered] |x| out.push(x));
    stop.store(true, Ordering::Release);
    producer.join().unwrap();
    assert_eq!(out, (1..=30).collect::<Vec<u64>>());
}

/// A stage that panics on item 3 of a slow channel ends the run while the
/// channel is still open: the panic reaches the caller after a few items,
/// not when the producer finally stops.
#[test]
fn a_panic_does_not_wait_for_the_end_of_a_slow_input() {
    let total = 5_000u64; // 25 s of items: far more than the run may take
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (producer, rx) = slow_producer(total, sent.clone(), stop.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut seen = 0;
        pipeline!(threads = 2, rx.iter() => |x: u64| {
            if x == 3 {
                panic!("item 3");
            }
            x
        } => |_x| seen += 1);
    }));
    let sent_at_return = sent.load(Ordering::SeqCst);
    stop.store(true, Ordering::Release);
    producer.join().unwrap();
    let payload = result.expect_err("the stage panicked");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"item 3"));
    assert!(
        sent_at_return < 100,
        "the panic reached the caller only after {sent_at_return} items were sent"
    );
}

/// An iterator that says how many items it has (a range, a `Vec`) is read
/// in whole batches: the time budget only applies past those items.
#[test]
fn promised_items_are_read_in_whole_batches() {
    let mut sum = 0u64;
    let report = pipeline!(threads = 2, batch = 1024, 0..100_000u64 => |x| x + 1 => |x| sum += x);
    assert_eq!(sum, (1..=100_000u64).sum());
    // Far fewer batches than items: a range is never read item by item.
    assert!(report.nodes()[0].batches() < 10_000);
}
