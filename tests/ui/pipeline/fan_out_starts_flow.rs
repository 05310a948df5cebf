use para::prelude::*;

fn main() {
    pipeline!((|x: i32| x, |x: i32| x) => |_x| ());
}
