#[para::pipeline(cluster = cx)]
fn total(values: &[u64]) -> u64 {
    let mut sum = 0;
    #[stream]
    for v in values {
        #[stage]
        sum += v;
    }
    sum
}

fn main() {
    total(&[1, 2]);
}
