use para::prelude::*;

// A function of the user's own named like a closure combinator, called with a
// closure: an error on the callee, never a silent swap for Para's `filter`.
fn filter<F: Fn(u64) -> u64 + Send + Sync>(f: F) -> F {
    f
}

fn main() {
    pipeline!(0..3u64 => filter(|x| x * 10) => |_x| ());
}
