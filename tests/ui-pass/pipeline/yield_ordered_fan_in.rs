// `#[ordered] yield` after a fan-out and a fan-in: source order, the two
// branch outputs of one item next to each other.
use para::prelude::*;

fn main() {
    let out: Vec<u32> =
        pipeline!(threads = 4, 0..200u32 => (|x| x * 2, |x| x * 3 + 1) => #[ordered] yield)
            .collect();
    assert_eq!(out.len(), 400);
    for (i, pair) in out.chunks(2).enumerate() {
        let i = i as u32;
        let mut pair = pair.to_vec();
        pair.sort_unstable();
        assert_eq!(pair, [2 * i, 3 * i + 1]);
    }
}
