use para::prelude::*;

fn main() {
    pipeline!(trace = 42, 0..10 => |_x| ());
}
