use para::prelude::*;

fn main() {
    pipeline!(0..10 => (|x| x + 1 => |x| x * 2) => |_x| ());
}
