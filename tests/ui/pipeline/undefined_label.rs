use para::prelude::*;

fn main() {
    let mut total = 0;
    pipeline!('sum: 0..10 => |x| total += x; vec![5] => 'sun);
}
