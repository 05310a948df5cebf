use para::prelude::*;

fn main() {
    pipeline!(0..10 => |x| x + 1 => );
}
