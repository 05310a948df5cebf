use para::prelude::*;

fn main() {
    let mut total = 0;
    std::thread::scope(|s| {
        pipeline!(scope = s, 0..10u32 => |x| x + 1 => |x| total += x);
    });
    assert_eq!(total, 55);
}
