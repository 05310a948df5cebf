use para::prelude::*;

fn main() {
    pipeline!(treads = 4, 0..10 => |_x| ());
}
