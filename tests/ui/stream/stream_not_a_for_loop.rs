#[para::pipeline]
fn total(values: &[u64]) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    #[stream]
    while i < values.len() {
        sum += values[i];
        i += 1;
    }
    sum
}

fn main() {
    total(&[1, 2]);
}
