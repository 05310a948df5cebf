// A function of the user's own named `flat_map`, in parentheses before a
// `fold`: evaluated as written and used as a map, not fused as Para's.
use para::prelude::*;

fn flat_map(n: u64) -> impl Fn(u64) -> Vec<u64> + Send + Sync {
    move |x| vec![x; n as usize]
}

fn main() {
    let mut total = 0;
    pipeline!(0..3u64 => (flat_map(2)) => fold(|| 0usize, |a, v: Vec<u64>| a + v.len()) => |s| total += s);
    assert_eq!(total, 6);
}
