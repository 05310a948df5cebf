use para::prelude::*;

fn main() {
    pipeline!(0..10 => 'a: |x| x + 1 => 'a: |_x| ());
}
