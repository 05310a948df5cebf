use para::prelude::*;

fn main() {
    struct Token(u32);
    pipeline!((0..3).map(Token) => (|t: Token| t.0, |t: Token| t.0 + 1));
}
