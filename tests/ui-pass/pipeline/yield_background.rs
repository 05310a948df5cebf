// `yield` without `scope`: the pipeline runs in the background and returns
// a `Stream`; `move` closures and `Arc`s share what the stages need; other
// flows may end in sinks or send into the labelled `yield`.
use para::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn squares() -> para::Stream<u64> {
    pipeline!(threads = 4, 0..1_000u64 => |x| x * x => #[ordered] yield)
}

fn main() {
    assert_eq!(squares().take(3).collect::<Vec<_>>(), [0, 1, 4]);

    let factor = Arc::new(3u64);
    let f = factor.clone();
    let mut all: Vec<u64> = pipeline!(0..10u64 => move |x| x * *f => yield).collect();
    all.sort_unstable();
    assert_eq!(all, (0..10).map(|x| x * 3).collect::<Vec<_>>());

    let total = Arc::new(AtomicU64::new(0));
    let t = total.clone();
    let stream = pipeline!(capacity = 8,
        0..5u64 => |x| x => 'out: yield;
        10..15u64 => |x| x => 'out;
        0..4u64 => move |x| { t.fetch_add(x, Ordering::Relaxed); });
    let mut items: Vec<u64> = stream.collect();
    items.sort_unstable();
    assert_eq!(items, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    // The sink's flow is part of the same run, which has ended.
    assert_eq!(total.load(Ordering::Relaxed), 6);
}
