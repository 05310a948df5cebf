use para::prelude::*;

// A function of the user's own named `flat_map` right before a `fold`: the
// pair is read as Para's, to be fused into one loop, so this is an error on
// the callee (the note says to put the call in parentheses), never a silent
// swap for Para's `flat_map`.
fn flat_map(n: u64) -> impl Fn(u64) -> Vec<u64> + Send + Sync {
    move |x| vec![x; n as usize]
}

fn main() {
    pipeline!(0..3u64 => flat_map(2) => fold(|| 0u64, |a, x| a + x) => |_s| ());
}
