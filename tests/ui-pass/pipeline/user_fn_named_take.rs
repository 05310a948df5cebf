// A function of the user's own called `take` is the user's: `take(3)` is
// evaluated as written and used as a map, not replaced by Para's `take`.
use para::prelude::*;

fn take(n: u64) -> impl Fn(u64) -> u64 + Send + Sync {
    move |x| x + n
}

fn main() {
    let mut out = Vec::new();
    pipeline!(0..5u64 => take(3) => #[ordered] |x| out.push(x));
    assert_eq!(out, [3, 4, 5, 6, 7]);
}
