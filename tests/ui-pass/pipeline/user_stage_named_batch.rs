// User functions named like Para's combinators and returning the user's
// own `Stage` run as that stage; a user `filter` taking a closure is used
// through parentheses.
use para::prelude::*;

struct Twice;

impl Stage<u64> for Twice {
    type Out = u64;
    fn process(&self, item: u64, out: &mut para::Output<'_, u64>) {
        out.emit(item);
        out.emit(item);
    }
}

fn batch(_size: usize) -> Twice {
    Twice
}

fn filter<F: Fn(u64) -> u64 + Send + Sync>(f: F) -> F {
    f
}

fn main() {
    let mut out = Vec::new();
    pipeline!(0..3u64 => batch(100) => (filter(|x: u64| x * 10)) => #[ordered] |x| out.push(x));
    assert_eq!(out, [0, 0, 10, 10, 20, 20]);
}
