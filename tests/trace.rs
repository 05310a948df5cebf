//! The timeline trace (SPEC 7, `trace = "run.json"` / `Options::trace`):
//! the file is Chrome trace-event JSON, it has one slice for every batch the
//! `Report` counts, and the slices of one track never overlap. Checked at 1,
//! 2 and 4 threads on a fan-out / fan-in graph with a `#[gpu]` stage, a
//! fold and an ordered sink, through the builder and through both macros.

use para::prelude::*;
use para::{Graph, Options, Report};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A fresh path for one test's trace.
fn trace_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("para-trace-{}-{name}.json", std::process::id()))
}

/// Microseconds with three decimals (as the trace writes them) to whole ns.
fn ns(v: &Value) -> u64 {
    (v.as_f64().expect("a number") * 1000.0).round() as u64
}

/// Reads the trace at `path` (and removes it), checks it against `report`,
/// and returns its events by phase, for further checks.
fn check(path: &Path, report: &Report) -> BTreeMap<String, Vec<Value>> {
    let text = std::fs::read_to_string(path).expect("the trace file was written");
    std::fs::remove_file(path).unwrap();
    let json: Value = serde_json::from_str(&text).expect("the trace is JSON");
    let events = json["traceEvents"].as_array().expect("a traceEvents array");
    let mut by_phase: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        let ph = e["ph"].as_str().expect("every event has a phase");
        by_phase.entry(ph.to_string()).or_default().push(e.clone());
    }
    let slices = by_phase.get("X").cloned().unwrap_or_default();

    // One slice per batch the report counts, node by node.
    let batches: u64 = report.nodes().iter().map(|n| n.batches()).sum();
    assert_eq!(
        slices.len() as u64,
        batches,
        "slices vs the report's batches"
    );
    let mut per_node = vec![0u64; report.nodes().len()];
    let mut items_in = vec![0u64; report.nodes().len()];
    for s in &slices {
        let node = s["args"]["node"].as_u64().expect("a node id") as usize;
        per_node[node] += 1;
        items_in[node] += s["args"]["items_in"].as_u64().unwrap();
        assert_eq!(
            s["name"],
            report.nodes()[node].label(),
            "slice named by its stage"
        );
        assert_eq!(s["cat"], report.nodes()[node].kind());
    }
    for n in report.nodes() {
        assert_eq!(
            per_node[n.id().index()],
            n.batches(),
            "batches of {}",
            n.label()
        );
        assert_eq!(
            items_in[n.id().index()],
            n.items_in(),
            "items in of {}",
            n.label()
        );
    }

    // Slices on one track never overlap.
    let mut tracks: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for s in &slices {
        let tid = s["tid"].as_u64().unwrap();
        let start = ns(&s["ts"]);
        tracks
            .entry(tid)
            .or_default()
            .push((start, start + ns(&s["dur"])));
    }
    for (tid, spans) in &mut tracks {
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "track {tid}: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
    }

    // Every track that has events is named.
    let named: BTreeSet<u64> = by_phase["M"]
        .iter()
        .filter(|m| m["name"] == "thread_name")
        .map(|m| m["tid"].as_u64().unwrap())
        .collect();
    for tid in tracks.keys() {
        assert!(named.contains(tid), "track {tid} has no name");
    }
    // Workers are tracks 0..threads.
    for t in 0..report.threads() as u64 {
        assert!(named.contains(&t), "worker {t} has no track");
    }

    // The counter of items alive, and instants that name their stage.
    let counters = by_phase.get("C").cloned().unwrap_or_default();
    if batches > 0 {
        assert!(!counters.is_empty(), "no items-alive counter");
    }
    for c in &counters {
        assert_eq!(c["name"], "items alive");
        assert!(c["args"]["alive"].is_u64());
    }
    for i in by_phase.get("i").into_iter().flatten() {
        let name = i["name"].as_str().unwrap();
        assert!(["park", "steal", "stall flush"].contains(&name), "{name}");
        let stage = i["args"]["stage"].as_str().unwrap();
        assert!(report.node(stage).is_some(), "instant names stage {stage}");
    }
    by_phase
}

/// A fan-out to a device stage and a map, a fan-in, a fold, and an ordered
/// sink beside them, through the builder.
fn diamond(threads: usize, capacity: usize, path: &Path) -> (Report, u64, u64) {
    let mut g = Graph::new();
    let src = g.source(0..20_000u64);
    g.label(src.node(), "numbers");
    let [a, b, c] = <[_; 3]>::try_from(g.fan_out(src, 3)).unwrap();
    let squared = g.device(a, 64, 2, |xs: Vec<u64>| {
        xs.into_iter().map(|x| x * x).collect()
    });
    g.label(squared.node(), "square");
    let tripled = g.map(b, |x: u64| 3 * x);
    let both = g.fan_in([squared, tripled]);
    let sums = g.fold(both, || 0u64, |acc, x| acc.wrapping_add(x));
    let mut total = 0u64;
    g.sink(sums, |s| total = total.wrapping_add(s));
    let mut checksum = 0u64;
    g.ordered_sink(c, |x| checksum = checksum.wrapping_mul(31).wrapping_add(x));
    let options = Options::new()
        .threads(threads)
        .capacity(capacity)
        .trace(path);
    let report = g.run_with(options);
    (report, total, checksum)
}

#[test]
fn builder_trace_matches_the_report_at_1_2_and_4_threads() {
    let want_total = (0..20_000u64).fold(0u64, |a, x| a.wrapping_add(x * x).wrapping_add(3 * x));
    let want_checksum = (0..20_000u64).fold(0u64, |a, x| a.wrapping_mul(31).wrapping_add(x));
    for threads in [1, 2, 4] {
        for capacity in [64, 1 << 14] {
            let path = trace_path(&format!("diamond-{threads}-{capacity}"));
            let (report, total, checksum) =
                para_tests::watchdog("traced diamond", || diamond(threads, capacity, &path));
            assert_eq!((total, checksum), (want_total, want_checksum));
            let events = check(&path, &report);
            let names: BTreeSet<String> = events["M"]
                .iter()
                .filter(|m| m["name"] == "thread_name")
                .map(|m| m["args"]["name"].as_str().unwrap().to_string())
                .collect();
            if threads > 1 {
                // The device stage runs on two lanes of its own, each a track.
                assert!(names.contains("lane square.0"), "{names:?}");
                assert!(names.contains("lane square.1"), "{names:?}");
                let lane_slices = events["X"]
                    .iter()
                    .filter(|s| s["tid"].as_u64().unwrap() >= threads as u64)
                    .count();
                assert!(lane_slices > 0, "no slice on a lane");
            }
        }
    }
}

#[test]
fn macro_option_writes_a_trace() {
    let path = trace_path("macro");
    let mut sum = 0u64;
    let mut order = Vec::new();
    let report = pipeline!(threads = 2, trace = &path,
        0..5_000u64 => (|x| x + 1, #[gpu(batch = 32, lanes = 1)] |xs: Vec<u64>| xs.into_iter().map(|x| x * 2).collect::<Vec<_>>())
            => 'gather: |x| sum += x;
        vec![3u8, 1, 2] => #[ordered] |x| order.push(x)
    );
    assert_eq!(sum, (0..5_000u64).map(|x| 3 * x + 1).sum::<u64>());
    assert_eq!(order, [3, 1, 2]);
    let events = check(&path, &report);
    assert!(events["X"].iter().any(|s| s["name"] == "gather"));
}

/// A `flat_map` fused with the `fold` after it (one loop, see
/// `Graph::flat_map_fold`): both stages keep their slices, one per batch
/// the report counts for each, and the fold's never overlap the
/// `flat_map`'s on a track, at 1, 2 and 4 threads.
#[test]
fn a_fused_pair_traces_both_stages() {
    for threads in [1, 2, 4] {
        let path = trace_path(&format!("fused-{threads}"));
        let mut total = 0u64;
        let report = pipeline!(threads = threads, trace = &path,
            0..20_000u64 => 'pairs: flat_map(|x| [x, 2 * x]) => 'sum: fold(|| 0u64, |a, x| a + x)
                => |s| total += s);
        assert_eq!(total, 3 * (0..20_000u64).sum::<u64>());
        let events = check(&path, &report);
        for stage in ["pairs", "sum"] {
            assert!(
                events["X"].iter().any(|s| s["name"] == stage),
                "no {stage} slice"
            );
        }
    }
}

#[test]
fn attribute_option_writes_a_trace() {
    #[para::pipeline(threads = 2, trace = trace_path("attribute"))]
    fn squares(xs: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        #[stream]
        for x in xs {
            #[stage(parallel)]
            let y = x * x;
            #[stage(ordered)]
            out.push(y);
        }
        out
    }
    let xs: Vec<u64> = (0..1000).collect();
    assert_eq!(squares(&xs)[999], 999 * 999);
    let path = trace_path("attribute");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert!(json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["ph"] == "X"));
}

#[test]
fn an_empty_run_writes_a_trace_with_worker_tracks() {
    let path = trace_path("empty");
    let mut g = Graph::new();
    let src = g.source(Vec::<u32>::new());
    g.sink(src, |_x| ());
    let report = g.run_with(Options::new().threads(2).trace(&path));
    check(&path, &report);
}

#[test]
fn a_trace_is_written_when_a_stage_panics() {
    para_tests::quiet_panics_of::<&str>();
    let path = trace_path("panic");
    let result = std::panic::catch_unwind(|| {
        let mut g = Graph::new();
        let src = g.source(0..1000u32);
        let m = g.map(src, |x: u32| {
            if x == 500 {
                std::panic::panic_any("boom");
            }
            x
        });
        g.sink(m, |_x| ());
        g.run_with(Options::new().threads(2).trace(&path));
    });
    assert!(result.is_err());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let json: Value = serde_json::from_str(&text).expect("a complete JSON file");
    assert!(json["traceEvents"].is_array());
}

#[test]
#[should_panic(expected = "para: cannot create the trace file")]
fn an_unwritable_trace_path_fails_before_the_run() {
    let mut g = Graph::new();
    let src = g.source(0..10u32);
    g.sink(src, |_x| ());
    g.run_with(Options::new().trace("/nonexistent-dir/para/run.json"));
}
