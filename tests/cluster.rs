//! `pipeline!(cluster = cx, ...)` on real clusters of 2 and 3 processes on
//! localhost (SPEC section 6), compared with the single-machine run of the
//! same pipeline text; and `-n 1 -w T` against single-machine Para on
//! random graphs.
//!
//! The multi-process tests start this test binary again as child processes
//! (`--ignored --exact cluster_child`, the case and timely's flags in the
//! environment), with free ports found by binding port 0 and written to a
//! hostfile for `-h`. Each child prints one `PARA_RESULT` line. Every
//! child is killed when the test ends or fails ([`Children`]'s drop), and
//! every wait has a deadline.

use para::cluster::{Cluster, Config};
use para::prelude::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The cases: one pipeline text, run on a cluster (`Some(cx)`) or on one
// machine (`None`); the value is what the sinks collected, as text.

macro_rules! case {
    ($name:ident, |$out:ident| $init:expr, $($p:tt)*) => {
        fn $name(cx: Option<&mut Cluster<'_>>) -> String {
            let mut $out = $init;
            match cx {
                Some(cx) => pipeline!(cluster = cx, $($p)*),
                None => {
                    pipeline!($($p)*);
                }
            }
            format!("{:?}", $out)
        }
    };
}

case!(chain, |out| 0u64,
    #[split] 0..20_000u64 => |x| x * 3 => filter(|x| x % 2 == 0) => |x| out += x);

case!(chain_ordered, |out| Vec::new(), batch = 64,
    0..5_000u64 => |x| x * x % 1000 => flat_map(|x| 0..x % 3) => #[ordered] |x| out.push(x));

case!(diamond, |out| Vec::new(), batch = 32,
    0..3_000u64 => (
        |x| x * 10,
        filter(|x| x % 3 == 0) => |x| x + 1,
        flat_map(|x| [x, x + 1_000_000])
    ) => #[ordered] |x| out.push(x));

case!(split_diamond, |out| Vec::new(), batch = 16,
    #[split] 0..2_000u64 => (|x| x * 2, |x| x * 3) => #[ordered] |x| out.push(x));

case!(sources, |out| 0u64,
    0..1_000u64 => |x| x + 1 => 'sum: |x| out += x;
    #[split] 5_000..9_000u64 => 'sum;
    vec![1u64, 2, 3] => |x| x * 100 => 'sum);

case!(take_first, |out| Vec::new(),
    0..u64::MAX => filter(|x| x % 7 == 3) => take(50) => #[ordered] |x| out.push(x));

case!(take_split, |out| Vec::new(), batch = 16, capacity = 64,
    #[split] 0..u64::MAX => |x| x * 2 => take(100) => #[ordered] |x| out.push(x));

case!(serial_take_while, |out| Vec::new(), batch = 50,
    0..10_000u64 => #[serial] |x| x + 1 => take_while(|x| *x < 3_000) => #[ordered] |x| out.push(x));

case!(regroup, |out| Vec::new(), batch = 10,
    0..1_000u64 => batch(7) => unbatch() => |x| x + 1 => #[ordered] |x| out.push(x));

case!(fold_counts, |out| vec![0u64; 13], batch = 64,
    #[split] 0..20_000u64 => |x| x % 13
        => fold(|| vec![0u64; 13], |mut acc: Vec<u64>, x| { acc[x as usize] += 1; acc })
        => |counts| for (i, n) in counts.into_iter().enumerate() { out[i] += n });

/// Stage `'boom` panics on process 1 only.
fn panic_on_one(cx: Option<&mut Cluster<'_>>) -> String {
    let cx = cx.expect("a cluster case");
    let process = cx.process();
    let mut n = 0u64;
    pipeline!(cluster = cx, batch = 16,
        #[split] 0..200_000u64 => 'boom: |x| {
            if process == 1 && x > 1_000 {
                panic!("boom at {x}");
            }
            x
        } => |x| n += x);
    format!("{n}")
}

/// Runs until a peer is killed: process 0's sink prints `PARA_STARTED`.
fn endless(cx: Option<&mut Cluster<'_>>) -> String {
    let cx = cx.expect("a cluster case");
    let mut n = 0u64;
    pipeline!(cluster = cx, batch = 8,
    #[split] 0..u64::MAX => |x| {
        std::thread::sleep(Duration::from_micros(100));
        x
    } => |_x| {
        n += 1;
        if n == 200 {
            println!("PARA_STARTED");
        }
    });
    format!("{n}")
}

/// A random shape (see below), its seed in `PARA_CLUSTER_SEED`.
fn random(cx: Option<&mut Cluster<'_>>) -> String {
    let seed: u64 = std::env::var("PARA_CLUSTER_SEED").map_or(0, |s| s.parse().expect("a seed"));
    random_shape(seed, cx)
}

fn random_shape(seed: u64, cx: Option<&mut Cluster<'_>>) -> String {
    let shape = shape(seed);
    let mut out = Vec::new();
    match cx {
        Some(cx) => {
            let options = para::cluster::Options::new().batch(shape.batch);
            para::cluster::run(cx, options, |g| build(g, &shape, &mut out));
        }
        None => {
            let mut g = para::Graph::new();
            build(&mut g, &shape, &mut out);
            g.run_with(para::Options::new().threads(2).batch(shape.batch.min(64)));
        }
    }
    if !shape.ordered {
        out.sort_unstable();
    }
    format!("{out:?}")
}

type Case = fn(Option<&mut Cluster<'_>>) -> String;

const CASES: &[(&str, Case)] = &[
    ("chain", chain),
    ("chain_ordered", chain_ordered),
    ("diamond", diamond),
    ("split_diamond", split_diamond),
    ("sources", sources),
    ("take_first", take_first),
    ("take_split", take_split),
    ("serial_take_while", serial_take_while),
    ("regroup", regroup),
    ("fold_counts", fold_counts),
    ("panic_on_one", panic_on_one),
    ("endless", endless),
    ("random", random),
];

fn case(name: &str) -> Case {
    CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no cluster case {name}"))
        .1
}

// ---------------------------------------------------------------------------
// The child: run one case on the cluster its flags describe.

/// The entry point of a child process (ignored in a normal run).
#[test]
#[ignore = "a child process of the cluster tests"]
fn cluster_child() {
    let name = std::env::var("PARA_CLUSTER_CASE").expect("PARA_CLUSTER_CASE");
    let args = std::env::var("PARA_CLUSTER_ARGS").expect("PARA_CLUSTER_ARGS");
    let f = case(&name);
    let mut config = Config::from_args(args.split_whitespace().map(String::from)).expect("flags");
    if let Ok(t) = std::env::var("PARA_CLUSTER_CONNECT_TIMEOUT_MS") {
        config = config.connect_timeout(Duration::from_millis(t.parse().expect("ms")));
    }
    let result =
        para::cluster::execute(config.grace(Duration::from_secs(3)), move |cx| f(Some(cx)));
    let line = match result {
        Ok(Some(v)) => format!("ok {v}"),
        Ok(None) => "none".to_string(),
        Err(e) => format!("err {e}"),
    };
    println!("PARA_RESULT {}", line.replace('\n', " "));
}

// ---------------------------------------------------------------------------
// The parent: ports, a hostfile, the children, their results.

/// The children of one test, killed (and reaped) when it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `n` ports free right now on localhost.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

fn hostfile(ports: &[u16]) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("para-cluster-{}-{n}.hosts", std::process::id()));
    let lines: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    std::fs::write(&path, lines).expect("write the hostfile");
    path
}

/// A started cluster: its children and the lines they print.
struct Run {
    children: Children,
    lines: mpsc::Receiver<(usize, String)>,
    hosts: std::path::PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.hosts);
        for p in 0..8 {
            let _ = std::fs::remove_file(self.hosts.with_extension(format!("p{p}.err")));
        }
    }
}

/// Starts processes `which` of an `n`-process cluster with `w` workers each.
fn start(name: &str, n: usize, w: usize, which: &[usize], env: &[(&str, &str)]) -> Run {
    let hosts = hostfile(&free_ports(n));
    let exe = std::env::current_exe().expect("the test binary");
    let (tx, lines) = mpsc::channel();
    let mut children = Children(Vec::new());
    for &p in which {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--ignored",
            "--exact",
            "cluster_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PARA_CLUSTER_CASE", name)
        .env(
            "PARA_CLUSTER_ARGS",
            format!("-w {w} -n {n} -p {p} -h {}", hosts.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(hosts.with_extension(format!("p{p}.err"))).expect("a log file"),
        ));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start a child");
        let out = child.stdout.take().expect("piped stdout");
        children.0.push(child);
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((p, line)).is_err() {
                    break;
                }
            }
        });
    }
    Run {
        children,
        lines,
        hosts,
    }
}

impl Run {
    /// Waits (until `deadline`) for a line starting with `prefix` from each
    /// process in `which`; returns the rest of each line, by process.
    fn wait_for(&self, prefix: &str, which: &[usize], deadline: Duration) -> Vec<String> {
        let end = Instant::now() + deadline;
        let mut got: Vec<Option<String>> = vec![None; which.len()];
        let mut seen: Vec<String> = Vec::new();
        while got.iter().any(Option::is_none) {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((p, line)) => {
                    seen.push(format!(
                        "{p}: {}",
                        line.chars().take(100).collect::<String>()
                    ));
                    // The harness may print `test cluster_child ... ` before it.
                    let rest = line.find(prefix).map(|at| &line[at + prefix.len()..]);
                    if let (Some(rest), Some(i)) = (rest, which.iter().position(|&q| q == p)) {
                        got[i].get_or_insert_with(|| rest.trim().to_string());
                    }
                }
                Err(_) => {
                    let logs: Vec<String> = which
                        .iter()
                        .map(|p| {
                            let log = std::fs::read_to_string(
                                self.hosts.with_extension(format!("p{p}.err")),
                            )
                            .unwrap_or_default();
                            let tail: String = log
                                .chars()
                                .rev()
                                .take(1500)
                                .collect::<Vec<_>>()
                                .into_iter()
                                .rev()
                                .collect();
                            format!("process {p} stderr: ...{tail}")
                        })
                        .collect();
                    let got: Vec<Option<String>> = got
                        .into_iter()
                        .map(|g| g.map(|s| s.chars().take(200).collect()))
                        .collect();
                    panic!("no `{prefix}` line from every process within {deadline:?}: got {got:?}\n{}\nlines: {seen:#?}", logs.join("\n"))
                }
            }
        }
        got.into_iter().map(Option::unwrap).collect()
    }

    /// Waits for every child to exit.
    fn wait_exit(&mut self, deadline: Duration) {
        let end = Instant::now() + deadline;
        for child in &mut self.children.0 {
            loop {
                if child.try_wait().expect("try_wait").is_some() {
                    break;
                }
                assert!(
                    Instant::now() < end,
                    "a child did not exit within {deadline:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

const DEADLINE: Duration = Duration::from_secs(120);

/// Runs case `name` on `n` processes of `w` workers; returns each
/// process's result line.
fn cluster_results(name: &str, n: usize, w: usize) -> Vec<String> {
    let all: Vec<usize> = (0..n).collect();
    let mut run = start(name, n, w, &all, &[]);
    let results = run.wait_for("PARA_RESULT ", &all, DEADLINE);
    run.wait_exit(DEADLINE);
    results
}

/// The case's result on a cluster equals the single-machine result.
fn same_as_one_machine(name: &str, n: usize, w: usize) {
    let expected = case(name)(None);
    let results = cluster_results(name, n, w);
    assert_eq!(
        results[0],
        format!("ok {expected}"),
        "case {name}, process 0"
    );
    for (p, r) in results.iter().enumerate().skip(1) {
        assert_eq!(r, "none", "case {name}, process {p}");
    }
}

#[test]
fn two_processes_chain() {
    same_as_one_machine("chain", 2, 1);
    same_as_one_machine("chain_ordered", 2, 1);
}

#[test]
fn two_processes_diamond_into_ordered() {
    same_as_one_machine("diamond", 2, 1);
    same_as_one_machine("split_diamond", 2, 2);
}

#[test]
fn three_processes() {
    same_as_one_machine("diamond", 3, 1);
    same_as_one_machine("sources", 3, 1);
}

#[test]
fn two_processes_several_sources() {
    same_as_one_machine("sources", 2, 1);
}

#[test]
fn two_processes_take() {
    same_as_one_machine("take_first", 2, 1);
    same_as_one_machine("take_split", 2, 1);
    same_as_one_machine("serial_take_while", 2, 1);
    same_as_one_machine("regroup", 2, 1);
}

#[test]
fn two_processes_fold() {
    same_as_one_machine("fold_counts", 2, 2);
}

#[test]
fn random_graphs_on_two_processes() {
    for seed in 0..6u64 {
        let seed = 0xC1u64 << 32 | (1000 + seed);
        let expected = random_shape(seed, None);
        let seed = seed.to_string();
        let mut run = start("random", 2, 2, &[0, 1], &[("PARA_CLUSTER_SEED", &seed)]);
        let results = run.wait_for("PARA_RESULT ", &[0, 1], DEADLINE);
        run.wait_exit(DEADLINE);
        assert_eq!(results[0], format!("ok {expected}"), "seed {seed}");
        assert_eq!(results[1], "none", "seed {seed}");
    }
}

#[test]
fn a_panic_on_process_one_fails_every_process() {
    for n in [2, 3] {
        let results = cluster_results("panic_on_one", n, 1);
        for (p, r) in results.iter().enumerate() {
            assert!(
                r.starts_with("err ") && r.contains("stage 'boom") && r.contains("process 1"),
                "process {p} of {n}: {r}"
            );
        }
    }
}

#[test]
fn a_killed_peer_fails_the_others() {
    let mut run = start("endless", 2, 1, &[0, 1], &[]);
    run.wait_for("PARA_STARTED", &[0], DEADLINE);
    let _ = run.children.0[1].kill();
    let results = run.wait_for("PARA_RESULT ", &[0], Duration::from_secs(60));
    assert!(
        results[0].starts_with("err ") && results[0].contains("network failed"),
        "process 0: {}",
        results[0]
    );
    run.wait_exit(Duration::from_secs(60));
}

#[test]
fn a_peer_that_never_connects_is_an_error() {
    let mut run = start(
        "chain",
        2,
        1,
        &[1],
        &[("PARA_CLUSTER_CONNECT_TIMEOUT_MS", "1500")],
    );
    let results = run.wait_for("PARA_RESULT ", &[1], Duration::from_secs(60));
    assert!(
        results[0].starts_with("err ") && results[0].contains("did not all connect"),
        "{}",
        results[0]
    );
    run.wait_exit(Duration::from_secs(30));
}

// ---------------------------------------------------------------------------
// `-n 1 -w T` against single-machine Para on random graphs: one shape,
// built by one interpreter through both builders (`para::Graph` and
// `para::cluster::ClusterGraph`).

/// A stage of a random shape (items are `u64`).
#[derive(Clone, Debug)]
enum Op {
    Map(u64),
    Filter(u64),
    FlatMap(u64),
    Serial(u64),
    Ordered(u64),
    Fan(Vec<Vec<Op>>),
    Take(usize),
}

/// A random graph: sources (`split` or not) whose flows end in one sink.
#[derive(Clone, Debug)]
struct Shape {
    sources: Vec<(bool, u64, Vec<Op>)>,
    /// An ordered sink (then there is one source): compared as a sequence.
    ordered: bool,
    batch: usize,
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_ops(rng: &mut Rng, depth: usize, top: bool) -> Vec<Op> {
    let mut ops = Vec::new();
    for _ in 0..rng.below(4) + 1 {
        let op = match rng.below(if depth < 2 { 8 } else { 6 }) {
            0 => Op::Map(rng.below(1000) + 1),
            1 => Op::Filter(rng.below(3) + 2),
            2 => Op::FlatMap(rng.below(3) + 1),
            3 => Op::Serial(rng.below(1000)),
            4 => Op::Ordered(rng.below(1000)),
            5 if top => Op::Take(rng.below(500) as usize),
            5 => Op::Map(3),
            _ => Op::Fan(
                (0..rng.below(2) + 2)
                    .map(|_| random_ops(rng, depth + 1, false))
                    .collect(),
            ),
        };
        ops.push(op);
    }
    ops
}

/// Whether the ops need a single source (an ordered stage or `take`).
fn ordered_ops(ops: &[Op]) -> bool {
    ops.iter().any(|op| match op {
        Op::Ordered(_) | Op::Take(_) => true,
        Op::Fan(branches) => branches.iter().any(|b| ordered_ops(b)),
        _ => false,
    })
}

fn shape(seed: u64) -> Shape {
    let mut rng = Rng(seed);
    let first = random_ops(&mut rng, 0, true);
    let single = ordered_ops(&first) || rng.below(2) == 0;
    let mut sources = vec![(rng.below(2) == 0, rng.below(2_000), first)];
    if !single {
        for _ in 0..rng.below(2) + 1 {
            let mut more = random_ops(&mut rng, 1, false);
            more.retain(|op| !ordered_ops(std::slice::from_ref(op)));
            sources.push((rng.below(2) == 0, rng.below(1_000), more));
        }
    }
    Shape {
        ordered: sources.len() == 1 && rng.below(3) > 0,
        sources,
        batch: [1, 7, 64, 256][rng.below(4) as usize],
    }
}

/// The builder methods the interpreter uses, over both graph kinds.
trait Builder<'a> {
    type Port;
    fn source_range(&mut self, split: bool, n: u64) -> Self::Port;
    fn op(&mut self, p: Self::Port, op: &Op) -> Self::Port;
    fn branches(&mut self, p: Self::Port, n: usize) -> Vec<Self::Port>;
    fn join(&mut self, ports: Vec<Self::Port>) -> Self::Port;
    fn collect(&mut self, p: Self::Port, ordered: bool, out: &'a mut Vec<u64>);
}

fn flat(x: u64, k: u64) -> impl Iterator<Item = u64> {
    (0..x % (k + 1)).map(move |i| x.wrapping_add(i))
}

impl<'a> Builder<'a> for para::Graph<'a> {
    type Port = para::Port<u64>;
    fn source_range(&mut self, split: bool, n: u64) -> Self::Port {
        if split {
            self.split_source(0..n)
        } else {
            self.source(0..n)
        }
    }
    fn op(&mut self, p: Self::Port, op: &Op) -> Self::Port {
        match *op {
            Op::Map(a) => self.map(p, move |x: u64| x.wrapping_mul(a).wrapping_add(1)),
            Op::Filter(m) => self.filter(p, move |x: &u64| !x.is_multiple_of(m)),
            Op::FlatMap(k) => self.flat_map(p, move |x: u64| flat(x, k)),
            Op::Serial(a) => self.serial_map(p, move |x: u64| x ^ a),
            Op::Ordered(a) => self.ordered_map(p, move |x: u64| x.wrapping_add(a)),
            Op::Take(n) => self.take(p, n),
            Op::Fan(_) => unreachable!("fans are built by `interpret`"),
        }
    }
    fn branches(&mut self, p: Self::Port, n: usize) -> Vec<Self::Port> {
        self.fan_out(p, n)
    }
    fn join(&mut self, ports: Vec<Self::Port>) -> Self::Port {
        self.fan_in(ports)
    }
    fn collect(&mut self, p: Self::Port, ordered: bool, out: &'a mut Vec<u64>) {
        if ordered {
            self.ordered_sink(p, |x| out.push(x));
        } else {
            self.sink(p, |x| out.push(x));
        }
    }
}

impl<'s, 'a> Builder<'a> for para::cluster::ClusterGraph<'s, 'a> {
    type Port = para::cluster::ClusterPort<'s, u64>;
    fn source_range(&mut self, split: bool, n: u64) -> Self::Port {
        if split {
            self.split_source(0..n)
        } else {
            self.source(0..n)
        }
    }
    fn op(&mut self, p: Self::Port, op: &Op) -> Self::Port {
        match *op {
            Op::Map(a) => self.map(p, move |x: u64| x.wrapping_mul(a).wrapping_add(1)),
            Op::Filter(m) => self.stage(p, filter(move |x: &u64| !x.is_multiple_of(m))),
            Op::FlatMap(k) => self.stage(p, flat_map(move |x: u64| flat(x, k))),
            Op::Serial(a) => self.serial_map(p, move |x: u64| x ^ a),
            Op::Ordered(a) => self.ordered_map(p, move |x: u64| x.wrapping_add(a)),
            Op::Take(n) => self.stage(p, take(n)),
            Op::Fan(_) => unreachable!("fans are built by `interpret`"),
        }
    }
    fn branches(&mut self, p: Self::Port, n: usize) -> Vec<Self::Port> {
        self.fan_out(p, n)
    }
    fn join(&mut self, ports: Vec<Self::Port>) -> Self::Port {
        self.fan_in(ports)
    }
    fn collect(&mut self, p: Self::Port, ordered: bool, out: &'a mut Vec<u64>) {
        if ordered {
            self.ordered_sink(p, |x| out.push(x));
        } else {
            self.sink(p, |x| out.push(x));
        }
    }
}

fn interpret<'a, G: Builder<'a>>(g: &mut G, mut p: G::Port, ops: &[Op]) -> G::Port {
    for op in ops {
        p = match op {
            Op::Fan(branches) => {
                let ports = g.branches(p, branches.len());
                let ends = ports
                    .into_iter()
                    .zip(branches)
                    .map(|(q, b)| interpret(g, q, b))
                    .collect();
                g.join(ends)
            }
            op => g.op(p, op),
        };
    }
    p
}

fn build<'a, G: Builder<'a>>(g: &mut G, shape: &Shape, out: &'a mut Vec<u64>) {
    let ends: Vec<G::Port> = shape
        .sources
        .iter()
        .map(|(split, n, ops)| {
            let p = g.source_range(*split, *n);
            interpret(g, p, ops)
        })
        .collect();
    let end = if ends.len() == 1 {
        ends.into_iter().next().unwrap()
    } else {
        g.join(ends)
    };
    g.collect(end, shape.ordered, out);
}

#[test]
fn one_process_equals_one_machine_on_random_graphs() {
    let cases = para_tests::env_usize("PARA_CLUSTER_RANDOM_CASES", 40) as u64;
    for seed in 0..cases {
        let shape = shape(0xC1u64 << 32 | seed);
        let mut expected = Vec::new();
        {
            let mut g = para::Graph::new();
            build(&mut g, &shape, &mut expected);
            g.run_with(para::Options::new().threads(2).batch(shape.batch.min(64)));
        }
        let workers = 1 + (seed % 3) as usize;
        let in_cluster = shape.clone();
        let got = para::cluster::execute(Config::process(workers), move |cx| {
            let mut out = Vec::new();
            let options = para::cluster::Options::new().batch(in_cluster.batch);
            para::cluster::run(cx, options, |g| build(g, &in_cluster, &mut out));
            out
        });
        let mut got = got
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
            .expect("process 0");
        if !shape.ordered {
            got.sort_unstable();
            expected.sort_unstable();
        }
        assert_eq!(got, expected, "seed {seed}, {workers} workers: {shape:?}");
    }
}

/// `capacity` bounds the items between the source and the sink: the source
/// waits on the probe. Counted with a shared counter (one process, so the
/// source on worker 0 and the sink on worker 0 share it): at most
/// `capacity` items, plus the one batch the source holds while it waits.
#[test]
fn capacity_bounds_the_items_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    for workers in [1, 3] {
        let alive = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (a, p) = (Arc::clone(&alive), Arc::clone(&peak));
        let result = para::cluster::execute(Config::process(workers), move |cx| {
            let mut n = 0u64;
            pipeline!(cluster = cx, batch = 16, capacity = 64,
            (0..20_000u64).inspect(|_| {
                let now = a.fetch_add(1, SeqCst) + 1;
                p.fetch_max(now, SeqCst);
            })
            => |x| x * 2
            => |_x| {
                n += 1;
                a.fetch_sub(1, SeqCst);
            });
            n
        });
        assert_eq!(result, Ok(Some(20_000)));
        let peak = peak.load(SeqCst);
        println!("{workers} workers: at most {peak} items alive (capacity 64, batch 16)");
        assert!(
            peak <= 64 + 16,
            "{workers} workers: {peak} items alive at once"
        );
    }
}
