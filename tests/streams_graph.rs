//! Streams and feeds through the builder (SPEC section 5).

use para::{Graph, Options};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn ordered_stream_in_source_order() {
    for threads in [1, 2, 4, 8] {
        let mut g = Graph::new();
        let src = g.source(0..10_000u64);
        let sq = g.map(src, |x| x * x);
        let out = g.ordered_stream(sq);
        let got: Vec<u64> = g.spawn_with(out, Options::new().threads(threads)).collect();
        assert_eq!(got, (0..10_000u64).map(|x| x * x).collect::<Vec<_>>());
    }
}

#[test]
fn early_drop_of_an_infinite_source() {
    let mut g = Graph::new();
    let src = g.source(0u64..);
    let out = g.ordered_stream(src);
    let mut s = g.spawn_with(out, Options::new().threads(4));
    assert_eq!(s.next(), Some(0));
    drop(s);
}

#[test]
fn feed_with_sink() {
    let (feeder, input) = para::feed::<u64>();
    let total = Arc::new(AtomicUsize::new(0));
    let t = total.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..10_000 {
            feeder.send(i).unwrap();
        }
    });
    let mut g = Graph::new();
    let src = g.feed_source(input);
    g.sink(src, move |x| {
        t.fetch_add(x as usize, Ordering::Relaxed);
    });
    g.run_with(Options::new().threads(2).capacity(16));
    producer.join().unwrap();
    assert_eq!(total.load(Ordering::Relaxed), (0..10_000).sum::<usize>());
}
