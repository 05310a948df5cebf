use para::prelude::*;

fn main() {
    let out: Vec<u32> = pipeline!(0..10u32 => |x| x + 1 => yield x).collect();
    assert_eq!(out.len(), 10);
}
