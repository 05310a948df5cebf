// `?` in a pipeline that ends in `yield`: a stream of `Result`s, the items
// and then the first error; without an error, only `Ok`s. With `scope`,
// the items may borrow.
use para::prelude::*;
use std::num::ParseIntError;

fn main() {
    let stream: para::Stream<Result<u32, ParseIntError>> =
        pipeline!(vec!["1", "2", "x", "4"] => #[ordered] |s| s.parse::<u32>()? => #[ordered] yield);
    let items: Vec<_> = stream.collect();
    assert_eq!(items[..2], [Ok(1), Ok(2)]);
    assert!(items.last().unwrap().is_err());
    assert_eq!(items.iter().filter(|r| r.is_err()).count(), 1);

    let words = vec!["10", "20"];
    let bad = vec!["1", "y"];
    std::thread::scope(|s| {
        let stream = pipeline!(scope = s, words.iter() => |w| w.parse::<u64>()? => yield);
        let mut all: Vec<u64> = stream.collect::<Result<_, ParseIntError>>().unwrap();
        all.sort_unstable();
        assert_eq!(all, [10, 20]);
        // Borrowed items, then the error.
        let stream = pipeline!(scope = s, bad.iter() => #[ordered] |w| {
            w.parse::<u64>()?;
            *w
        } => #[ordered] yield);
        let items: Vec<Result<&str, ParseIntError>> = stream.collect();
        assert_eq!(items[0], Ok("1"));
        assert!(items[1].is_err());
        assert_eq!(items.len(), 2);
    });
}
