use para::prelude::*;

fn main() {
    pipeline!(0..10 => 'a: |x| x + 1 => |_x| (); 0..3 => 'a => |_x| ());
}
