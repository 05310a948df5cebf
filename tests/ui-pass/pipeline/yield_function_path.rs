// A function path as a stage of a pipeline ending in `yield` (no capture,
// no `scope` needed), and a feed as its source.
use para::prelude::*;

fn double(x: u32) -> u32 {
    x * 2
}

fn main() {
    let out: Vec<u32> = pipeline!(0..5u32 => double => #[ordered] yield).collect();
    assert_eq!(out, [0, 2, 4, 6, 8]);

    let (feeder, input) = para::feed::<String>();
    let lens = pipeline!(input => |s| s.len() => #[ordered] yield);
    let producer = std::thread::spawn(move || {
        for line in ["a", "bb"] {
            feeder.send(line.to_string()).unwrap();
        }
    });
    assert_eq!(lens.collect::<Vec<_>>(), [1, 2]);
    producer.join().unwrap();
}
