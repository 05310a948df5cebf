use para::prelude::*;

// A mutating method call on captured state in a parallel map cannot be told
// from syntax: rustc's own E0596 reports it (the fix is `#[serial]`).
fn main() {
    let mut seen = Vec::new();
    pipeline!(0..10 => |x| { seen.push(x); x } => |_x| ());
}
