// A later stage shadows a loop local before reading it: the earlier value
// (here not `Send`) must not travel.
use std::rc::Rc;

#[para::pipeline(threads = 2)]
fn shadowed(n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    #[stream]
    for x in 0..n {
        let v = Rc::new(x);
        let doubled = *v * 2;
        #[stage(parallel)]
        let v = doubled + 1;
        let v = v * 10;
        #[stage(ordered)]
        out.push(v);
    }
    out
}

fn main() {
    assert_eq!(shadowed(3), [10, 30, 50]);
}
