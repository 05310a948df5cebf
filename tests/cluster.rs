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
    ("panic_on_one", panic_on_one),
    ("endless", endless),
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
    assert!(results[0].starts_with("err "), "process 0: {}", results[0]);
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
