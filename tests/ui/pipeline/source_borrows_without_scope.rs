use para::prelude::*;

fn main() {
    let words = vec!["a", "bb", "ccc"];
    let lens: Vec<usize> = pipeline!(words.iter() => |w| w.len() => #[ordered] yield).collect();
    assert_eq!(lens, [1, 2, 3]);
}
