use para::prelude::*;

fn main() {
    pipeline!(0..10 => #[priority(1)] #[priority(2)] |x| x + 1 => |_x| ());
}
