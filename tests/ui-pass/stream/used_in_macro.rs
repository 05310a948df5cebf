// A loop local read only inside macro calls of a later stage travels to it.
#[para::pipeline(threads = 2)]
fn formatted(n: u64) -> Vec<String> {
    let mut out = Vec::new();
    #[stream]
    for x in 0..n {
        let name = format!("item{x}");
        let square = x * x;
        #[stage(ordered)]
        assert!(square >= x, "{name}");
        out.push(format!("{name}={}", square));
    }
    out
}

fn main() {
    assert_eq!(formatted(3), ["item0=0", "item1=1", "item2=4"]);
}
