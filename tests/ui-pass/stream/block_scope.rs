// A name bound in an inner block does not leak: the later stage's `t` is
// the loop local bound at the stage's top level, and the block's own `t`
// (not `Send`) never travels.
use std::cell::RefCell;

#[para::pipeline(threads = 2)]
fn scoped(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    #[stream]
    for x in 0..n {
        let t = x + 1;
        {
            let t = RefCell::new(x);
            *t.borrow_mut() += 1;
        }
        #[stage(ordered)]
        out.push(t);
    }
    out
}

fn main() {
    assert_eq!(scoped(3), [1, 2, 3]);
}
