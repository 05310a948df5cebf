#[para::pipeline(threads = 2)]
fn total(values: &[u64]) -> u64 {
    let mut sum = 0;
    for v in values {
        sum += v;
    }
    sum
}

fn main() {
    total(&[1, 2]);
}
