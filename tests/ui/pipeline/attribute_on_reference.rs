use para::prelude::*;

fn main() {
    pipeline!(0..10 => 'a: |x| x + 1 => |_x: i32| (); 0..3 => #[ordered] 'a);
}
