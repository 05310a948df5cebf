#[path = "../benches/workloads/mod.rs"]
#[allow(dead_code)]
mod workloads;
use workloads::Impl;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let w = workloads::build(&a[1], 1.0).unwrap();
    let imp = Impl::parse(&a[2]).unwrap();
    let threads: usize = a[3].parse().unwrap();
    let reps: usize = a[4].parse().unwrap();
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let c = w.run(imp, threads);
        eprintln!("{} {:?}", c, t.elapsed());
    }
}
