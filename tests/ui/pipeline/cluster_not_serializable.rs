// Items that reach a stage on worker 0 cross processes: they need serde.
use para::prelude::*;

#[derive(Clone)]
struct Point {
    x: u64,
}

fn main() {
    let _ = para::cluster::execute(para::cluster::Config::process(1), |cx| {
        let mut n = 0u64;
        pipeline!(cluster = cx, 0..10u64 => |x| Point { x } => |p| n += p.x);
        n
    });
}
