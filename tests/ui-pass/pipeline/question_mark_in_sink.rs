// `?` in a serial sink (it may mutate what it captures) and in a
// `#[parallel]` sink; a `return` in a fallible closure still returns its
// value; a `?` inside a nested closure is that closure's.
use para::prelude::*;
use std::num::ParseIntError;
use std::sync::atomic::{AtomicU32, Ordering};

fn main() {
    let mut seen = Vec::new();
    let r: Result<_, ParseIntError> = pipeline!(vec!["1", "2", "3"] => |s| {
        let parse = |t: &str| -> Option<u8> { Some(t.parse::<u8>().ok()? + 1) };
        parse(s).unwrap()
    } => |n| {
        if n == 0 {
            return;
        }
        seen.push(n.to_string().parse::<u8>()?);
    });
    assert!(r.is_ok());
    seen.sort_unstable();
    assert_eq!(seen, [2, 3, 4]);

    let sum = AtomicU32::new(0);
    let r: Result<Report, ParseIntError> = pipeline!(vec!["1", "x"] => #[parallel] |s| {
        sum.fetch_add(s.parse::<u32>()?, Ordering::Relaxed);
    });
    assert!(r.is_err());
    assert!(sum.load(Ordering::Relaxed) <= 1);
}
