use para::prelude::*;

fn main() {
    let mut out = Vec::new();
    pipeline!(0..10 => 'all: #[ordered] |x| out.push(x); 20..30 => 'all);
}
