use para::prelude::*;

fn main() {
    pipeline!(42u32 => |x| x + 1 => |_x| ());
}
