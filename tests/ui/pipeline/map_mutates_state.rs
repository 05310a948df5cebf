use para::prelude::*;

fn main() {
    let mut seen = 0;
    pipeline!(0..10 => |x| { seen += 1; x } => |_x| ());
}
