// The first of two fused maps taking the wrong type is an error on the
// first map's closure, as for a map on its own.
use para::prelude::*;

fn main() {
    let words = vec!["a", "bc"];
    pipeline!(words => |s: String| s.len() => |n| n + 1 => |_n| ());
}
