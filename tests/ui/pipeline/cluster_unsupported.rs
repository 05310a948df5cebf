// What cannot run on a timely cluster is an error on its own token.
use para::prelude::*;

fn main() {
    let _ = para::cluster::execute(para::cluster::Config::process(1), |cx| {
        let mut n = 0u64;
        pipeline!(cluster = cx, threads = 4, 0..10u64 => |x| n += x);
        pipeline!(cluster = cx, 0..10u64 => #[gpu] |xs: Vec<u64>| xs => |x| n += x);
        pipeline!(cluster = cx, 0..10u64 => #[replicate(2)] |x| x + 1 => |x| n += x);
        pipeline!(cluster = cx, 0..10u64 => #[priority(3)] |x| x + 1 => |x| n += x);
        pipeline!(cluster = cx, vec!["1"] => |s| s.parse::<u64>()? => |x| n += x);
        pipeline!(cluster = cx, trace = "run.json", 0..10u64 => |x| n += x);
        pipeline!(cluster = cx, progress = true, 0..10u64 => |x| n += x);
        n
    });
}
