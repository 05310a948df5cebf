// A feed runs on one machine: a cluster source is an iterator.
use para::prelude::*;

fn main() {
    let _ = para::cluster::execute(para::cluster::Config::process(1), |cx| {
        let (_feeder, input) = para::feed::<u64>();
        let mut n = 0u64;
        pipeline!(cluster = cx, input => |x| x + 1 => |x| n += x);
        n
    });
}
