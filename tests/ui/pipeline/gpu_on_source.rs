use para::prelude::*;

fn main() {
    pipeline!(#[gpu] 0..10 => |_x| ());
}
