// The second of two fused maps is still a parallel stage: mutating what it
// captures is the same error as for any map, on the mutation.
use para::prelude::*;

fn main() {
    let mut seen = 0;
    pipeline!(0..10 => |x| x + 1 => |x| { seen += 1; x } => |_x| ());
}
