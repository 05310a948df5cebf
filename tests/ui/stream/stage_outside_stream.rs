#[para::pipeline]
fn total(values: &[u64]) -> u64 {
    let mut sum = 0;
    #[stream]
    for v in values {
        #[stage]
        sum += v;
    }
    #[stage]
    let doubled = sum * 2;
    doubled
}

fn main() {
    total(&[1, 2]);
}
