use para::prelude::*;

fn main() {
    let mut n = 0;
    pipeline!(0..10 => #[serial] #[replicate(2)] |x| { n += 1; x } => |_x| ());
}
