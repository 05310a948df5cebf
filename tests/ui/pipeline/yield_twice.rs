use para::prelude::*;

fn main() {
    let out: Vec<u32> = pipeline!(0..10u32 => |x| x => yield; 0..5u32 => |x| x + 1 => yield).collect();
    assert_eq!(out.len(), 15);
}
