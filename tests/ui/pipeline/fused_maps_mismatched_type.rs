// Two maps in a row run fused (`Graph::map_then`): a second map whose
// parameter does not fit the first's output is still an error on the
// second map's closure, naming both types.
use para::prelude::*;

fn main() {
    pipeline!(0..10u32 => |x| x * 2 => |s: String| s.len() => |_n| ());
}
