use para::prelude::*;

fn main() {
    // All three mistakes are reported in one compile, each on its own token.
    pipeline!(treads = 4, 0..10 => #[orderd] |x| x + 1 => 'nowhere);
}
