// `?` is decided by types: an alias of `Option` works as `Option` does.
type Maybe<T> = Option<T>;

#[para::pipeline(threads = 2)]
fn all_even(values: &[u32]) -> Maybe<u32> {
    let mut sum = 0;
    #[stream]
    for &v in values {
        #[stage(ordered)]
        let half = (v % 2 == 0).then_some(v / 2)?;
        #[stage]
        sum += half;
    }
    Some(sum)
}

fn main() {
    assert_eq!(all_even(&[2, 4, 6]), Some(6));
    assert_eq!(all_even(&[2, 3, 6]), None);
}
