//! `pipeline!`: every grammar element of SPEC section 1, compiled and run.

use para::prelude::*;

#[test]
fn seed_example() {
    let data = vec![0, 1, 2];
    let mut sum = 0;
    pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
    assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
}

#[test]
fn chain_infers_closure_parameters_and_returns_a_report() {
    let words = vec!["alpha", "be", "gamma"];
    let mut total = 0;
    let report = pipeline!(words => |s| s.len() => |n| n * 10 => |n| total += n);
    assert_eq!(total, 120);
    assert_eq!(report.nodes().len(), 4);
    assert_eq!(report.nodes()[1].items_in(), 3);
}

#[test]
fn keyed_options() {
    let pool = rayon_core::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut n = 0;
    let report =
        pipeline!(capacity = 8, batch = 4, pool = &pool, 0..1000 => |x| x + 1 => |_x| n += 1);
    assert_eq!((n, report.threads()), (1000, 2));
    assert!(report.peak_alive() <= 8);
    let mut m = 0;
    let report = pipeline!(threads = 3, 0..10 => |x| x => |_x| m += 1;);
    assert_eq!((m, report.threads()), (10, 3));
}

#[test]
fn several_flows_and_labels() {
    let mut total = 0;
    pipeline!(0..10 => |x| x * 2 => 'sum: |x| total += x; vec![5, 6] => 'sum);
    assert_eq!(total, 90 + 11);

    // A label at the start of a flow takes that stage's output (another
    // fan-out branch); labels may be used before they are defined.
    let mut evens = Vec::new();
    let mut all = 0;
    pipeline!(
        'twice => |x| x % 4 == 0 => |b| evens.push(b);
        0..8 => 'twice: |x| x * 2 => |x| all += x;
    );
    assert_eq!(all, 56);
    assert_eq!(evens.iter().filter(|&&b| b).count(), 4);
}

#[test]
fn nested_fan_outs_and_fan_in() {
    let mut got = Vec::new();
    pipeline!(2, 0..100i64 => (|x| x + 1, (|x| x * 10, |x| -x) => |x| x * 2) => #[ordered] |x| got.push(x));
    let mut expected = Vec::new();
    for x in 0..100i64 {
        expected.extend([x + 1, x * 20, -x * 2]);
    }
    assert_eq!(got, expected);
}

#[test]
fn fan_out_to_sinks() {
    let mut a = 0;
    let mut b = 0;
    pipeline!(0..10 => (|x| a += x, |x| b += x * 2));
    assert_eq!((a, b), (45, 90));
}

#[test]
fn attributes() {
    let mut seen = Vec::new();
    let mut state = 0u64;
    let total = std::sync::atomic::AtomicU64::new(0);
    let report = pipeline!(threads = 4,
        #[split] 'numbers: 0..1000u64
            => #[replicate(2)] #[priority(3)] |x| x * 3
            => #[serial] |x| { state += 1; x + state - state }
            => #[ordered] 'check: |x| { seen.push(x); x }
            => #[parallel] |x| total.fetch_add(x, std::sync::atomic::Ordering::Relaxed)
    );
    assert_eq!(seen, (0..1000u64).map(|x| x * 3).collect::<Vec<_>>());
    assert_eq!(total.into_inner(), (0..1000u64).map(|x| x * 3).sum());
    assert_eq!(report.node("numbers").unwrap().items_out(), 1000);
    assert_eq!(report.node("check").unwrap().kind(), "ordered");
}

#[test]
fn gpu_stages() {
    let mut out = Vec::new();
    let mut calls = 0;
    pipeline!(2, 0..1000u32
        => #[gpu(batch = 64, lanes = 2)] |xs: Vec<u32>| xs.into_iter().map(|x| x + 1).collect::<Vec<_>>()
        => #[gpu] |xs: Vec<u32>| { calls += 1; xs }
        => #[ordered] |x| out.push(x));
    assert_eq!(out, (1..=1000).collect::<Vec<_>>());
    assert!(calls >= 1);
}

#[test]
fn combinators_as_bodies() {
    let mut out = Vec::new();
    pipeline!(0..100u32
        => filter(|&x| x % 3 == 0)
        => filter_map(|x| (x > 10).then_some(x * 2))
        => flat_map(|x| [x, x + 1])
        => inspect(|x| assert!(*x > 20))
        => batch(4)
        => unbatch()
        => take(7)
        => #[ordered] |x| out.push(x));
    assert_eq!(out, vec![24, 25, 30, 31, 36, 37, 42]);

    let mut small = Vec::new();
    pipeline!(0..u64::MAX => take_while(|&x| x < 50) => #[ordered] |x| small.push(x));
    assert_eq!(small, (0..50).collect::<Vec<_>>());
}

fn double(x: u64) -> u64 {
    x * 2
}

struct AddOne;
impl Stage<u64> for AddOne {
    type Out = u64;
    fn process(&self, item: u64, out: &mut para::Output<'_, u64>) {
        out.emit(item + 1);
    }
}

#[test]
fn function_paths_and_stage_values() {
    let mut out = Vec::new();
    let mut collect = |x: u64| out.push(x);
    pipeline!(0..5u64 => double => AddOne => #[ordered] &mut collect);
    assert_eq!(out, vec![1, 3, 5, 7, 9]);
    let mut total = 0;
    let mut add = |x: u64| total += x;
    pipeline!(0..5u64 => double => &mut add);
    assert_eq!(total, 20);
}

#[test]
fn parenthesised_expressions_are_bodies() {
    let mut n = 0;
    pipeline!((0..10) => (|x| x + 1) => |_x| n += 1);
    assert_eq!(n, 10);
}

#[test]
fn gpu_with_one_explicit_lane_may_own_its_body() {
    let mut batches = 0;
    let mut total = 0u64;
    pipeline!(2, 0..500u64
        => #[gpu(batch = 50, lanes = 1)] |xs: Vec<u64>| { batches += 1; xs }
        => |x| total += x);
    assert_eq!(total, (0..500).sum());
    assert!(batches >= 10);
}

/// A parallel stage type; `#[ordered]` on it must make it ordered.
struct Tag;
impl Stage<u64> for Tag {
    type Out = u64;
    fn process(&self, item: u64, out: &mut para::Output<'_, u64>) {
        out.emit(item);
    }
}

#[test]
fn ordered_attribute_on_a_stage_value() {
    let mut order = Vec::new();
    let report = pipeline!(threads = 4, batch = 8,
        0..5000u64
            => |x| {
                if x % 100 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
                x
            }
            => #[ordered] Tag
            => |x| order.push(x));
    assert_eq!(report.nodes()[2].kind(), "stage");
    // The ordered stage emits in source order, one batch at a time, and the
    // serial sink takes its batches in that order.
    assert_eq!(order, (0..5000).collect::<Vec<_>>());
}
