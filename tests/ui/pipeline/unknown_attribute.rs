use para::prelude::*;

fn main() {
    pipeline!(0..10 => #[orderd] |x| x + 1 => |_x| ());
}
