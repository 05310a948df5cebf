use para::prelude::*;

fn main() {
    pipeline!(0..10 => #[gpu(batch = 4, lane = 2)] |xs: Vec<i32>| xs => |_x| ());
}
