// `yield` with `scope = s`: the stages may borrow what outlives the scope.
use para::prelude::*;

fn main() {
    let words = vec!["a", "bb", "ccc"];
    let offset = 10;
    std::thread::scope(|s| {
        let lens = pipeline!(scope = s, words.iter() => |w| w.len() + offset => #[ordered] yield);
        assert_eq!(lens.collect::<Vec<_>>(), [11, 12, 13]);
        let stream = pipeline!(scope = s, threads = 2, 0..3usize => |i| words[i] => yield);
        let mut got: Vec<&str> = stream.collect();
        got.sort_unstable();
        assert_eq!(got, words);
    });
}
