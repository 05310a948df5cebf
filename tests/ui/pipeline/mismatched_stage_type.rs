use para::prelude::*;

fn main() {
    let words = vec!["a", "bc"];
    pipeline!(words => |s: String| s.len() => |_n| ());
}
