//! `pipeline!`: every grammar element of SPEC section 1, compiled and run.

use para::prelude::*;

#[test]
fn seed_example() {
    let data = vec![0, 1, 2];
    let mut sum = 0;
    pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
    assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
}
