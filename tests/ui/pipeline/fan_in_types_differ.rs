use para::prelude::*;

fn main() {
    pipeline!(0..3 => (|x| x + 1, |x: i32| x.to_string()) => |_x| ());
}
