// A cluster pipeline's results come out through sinks, not `yield`.
use para::prelude::*;

fn main() {
    let _ = para::cluster::execute(para::cluster::Config::process(1), |cx| {
        let squares = pipeline!(cluster = cx, 0..10u64 => |x| x * x => yield);
        squares
    });
}
