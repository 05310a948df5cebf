use para::prelude::*;

fn main() {
    pipeline!();
}
