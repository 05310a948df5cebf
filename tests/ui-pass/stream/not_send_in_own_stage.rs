// A local that is not `Send` and is used only in its own stage stays there,
// even when a later stage uses the same name in a `match` arm and an
// `if let` of its own.
use std::rc::Rc;

#[para::pipeline(threads = 2)]
fn own_stage(values: &[Option<u64>]) -> u64 {
    let mut total = 0;
    #[stream]
    for value in values {
        let shared = Rc::new(*value);
        let copy = *shared;
        #[stage]
        match copy {
            Some(shared) => total += shared,
            None => {}
        }
        if let Some(shared) = copy {
            total += shared;
        }
    }
    total
}

fn main() {
    assert_eq!(own_stage(&[Some(1), None, Some(2)]), 6);
}
