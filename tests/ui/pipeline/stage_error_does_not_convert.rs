use para::prelude::*;

#[derive(Debug)]
struct MyErr;

fn main() {
    let r: Result<Report, MyErr> = pipeline!(vec!["1", "x"] => |s| s.parse::<u32>()? => |_n| ());
    assert!(r.is_err());
}
