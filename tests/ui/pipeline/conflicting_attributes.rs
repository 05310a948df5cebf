use para::prelude::*;

fn main() {
    pipeline!(0..10 => #[ordered] #[parallel] |x| x + 1 => |_x| ());
}
