use para::prelude::*;

fn main() {
    pipeline!(0..10 => #[split] |x| x + 1 => |_x| ());
}
