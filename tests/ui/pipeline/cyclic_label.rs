use para::prelude::*;

fn main() {
    pipeline!(0..10 => 'a: |x: i32| x + 1 => |x| x * 2 => 'a);
}
