//! The seed example of the SPEC, exactly as written, plus its report.
//!
//! Run: `cargo run --example seed`

use para::prelude::*;

fn main() {
    let data = vec![0, 1, 2];
    let mut sum = 0;
    let report = pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
    assert_eq!(sum, 0); // (2x - x) + (-x) summed over the data
    println!("sum = {sum}\n\n{report}\n\n{}", report.to_dot());
}
