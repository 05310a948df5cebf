use para::prelude::*;

fn main() {
    // The `progress` feature of `para` is off in this build.
    pipeline!(threads = 2, progress = true, 0..10 => |_x| ());
}
