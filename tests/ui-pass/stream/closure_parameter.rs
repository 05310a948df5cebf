// A closure parameter named like a loop local is not a use of the local:
// `v` (an `Rc`, not `Send`) stays in the source.
use std::rc::Rc;

#[para::pipeline(threads = 2)]
fn closures(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    #[stream]
    for x in 0..n {
        let v = Rc::new(x);
        let y = *v;
        #[stage(parallel)]
        let add = |v: u64| v + 1;
        let z = add(y);
        #[stage(ordered)]
        out.push(z);
    }
    out
}

fn main() {
    assert_eq!(closures(3), [1, 2, 3]);
}
