use para::prelude::*;

fn main() {
    let out: Vec<u32> = pipeline!(yield => |x: u32| x + 1 => |_x| ()).collect();
    assert!(out.is_empty());
}
