//! One markdown table of the reference workloads (benches/README.md W1..W7
//! and W6b) for every implementation: sequential loop, rayon, crossbeam (one
//! item per message), crossbeam-batch (1024 items per message) and Para.
//!
//! Columns: time per item (median of the runs), speed-up over the sequential
//! loop, ratio to the best alternative (time / best time among rayon and the
//! crossbeam pipelines), and notes: for W5 the ratio to the bound
//! max(2 µs / threads, 0.5 µs, 2.5 µs / cores), for W6 and W6b the peak
//! memory (VmHWM) at N and 10 N, each measured in a child process running
//! that one implementation once (Para's, which the bar judges: the median of
//! three processes at each size). Checksums are asserted equal across
//! implementations on every run. W7's Para version counts with `fold`; its
//! bar line also gives the whole run's time in ms.
//!
//! A second table measures the variants (benches/README.md, "Streams" and
//! W7): W1 ending in a bare stream and W2 and W3 ending in an ordered
//! stream, each consumed by a `for` loop, W6 and W6b with the items made on
//! the workers (`para-split`, judged by W6's bars against the best
//! alternative measured again in the same rounds) and through one iterator
//! with no runtime (`serial-source-16`, `-64`), and W7 with a plain counting
//! sink instead of `fold`, against Para's own version measured again in the
//! same round-robin; and W2 as an iterator with dpc-pariter's
//! `parallel_map` and rayon's `par_bridge()` against Para's ordered stream.
//!
//! Run: `cargo run --release --example bench_table -- [--threads T] [--runs R]
//! [--scale S] [--only W1,W6b]` (defaults: 2 threads, 3 runs, scale from
//! `PARA_BENCH_SCALE` or 1.0, all workloads).

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::process::Command;
use std::time::Instant;
use workloads::w5_stateful::{self, Stateful};
use workloads::w6_memory;
use workloads::{Impl, Variant, Workload};

/// The hidden first argument of the W6/W6b memory child process.
const W6_CHILD: &str = "--w6-child";

struct Args {
    threads: usize,
    runs: usize,
    scale: f64,
    only: Vec<String>,
}

fn usage() -> ! {
    eprintln!("usage: bench_table [--threads T] [--runs R] [--scale S] [--only W1,W6b]");
    std::process::exit(2)
}

fn parse_args(args: &[String]) -> Args {
    let mut parsed = Args {
        threads: 2,
        runs: 3,
        scale: workloads::scale_from_env(),
        only: workloads::IDS.iter().map(|s| s.to_string()).collect(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--threads" => parsed.threads = value.parse().unwrap_or_else(|_| usage()),
            "--runs" => parsed.runs = value.parse().unwrap_or_else(|_| usage()),
            "--scale" => parsed.scale = value.parse().unwrap_or_else(|_| usage()),
            "--only" => {
                parsed.only = value
                    .split(',')
                    .map(|id| match workloads::canonical_id(id) {
                        Some(known) => known.to_string(),
                        None => {
                            eprintln!(
                                "unknown workload {id}; expected some of {:?}",
                                workloads::IDS
                            );
                            std::process::exit(2);
                        }
                    })
                    .collect()
            }
            _ => usage(),
        }
    }
    if parsed.threads == 0 || parsed.runs == 0 || parsed.scale <= 0.0 {
        usage();
    }
    parsed
}

/// This process's peak resident set size (VmHWM) in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    line.split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse().ok())
        .expect("VmHWM value in kB")
}

/// The memory child: runs one implementation or variant of W6 or W6b once
/// at N items; prints its checksum and VmHWM.
fn w6_child(args: &[String]) {
    let [id, name, n, threads] = args else {
        panic!("{W6_CHILD} W6|W6b IMPL|VARIANT N THREADS")
    };
    let w = w6_memory::with_items(id, n.parse().expect("N")).expect("W6 or W6b");
    let threads = threads.parse().expect("THREADS");
    let checksum = match Impl::parse(name) {
        Some(imp) => w.run(imp, threads),
        None => {
            let variant = w.variants().iter().find(|v| v.name() == name);
            w.run_variant(
                *variant.expect("an implementation or variant name"),
                threads,
            )
        }
    };
    println!("{checksum} {}", vm_hwm_kib());
}

/// Runs the memory child of workload `id` (W6 or W6b) for the
/// implementation or variant `name` at `n` items: (checksum, VmHWM in KiB).
fn w6_peak(id: &str, name: &str, n: u64, threads: usize) -> (u64, u64) {
    let exe = std::env::current_exe().expect("current executable");
    let out = Command::new(exe)
        .args([W6_CHILD, id, name, &n.to_string(), &threads.to_string()])
        .output()
        .expect("start the memory child");
    assert!(
        out.status.success(),
        "{id} child {name} N={n} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().expect("a number"));
    (
        fields.next().expect("checksum"),
        fields.next().expect("VmHWM"),
    )
}

/// Para's peaks are judged (the bar: the same at N and 10 N), so they are
/// medians of this many child processes each: one process's VmHWM moves by
/// several per cent with the sizes its batch climb passes through.
const PARA_PEAK_SAMPLES: usize = 3;

/// Peak memory at N and 10 N of `name` on workload `id` (W6 or W6b):
/// `samples` child processes at each size, alternating, and the median of
/// each size's peaks. Returns the checksums at N and 10 N (asserted equal
/// across the samples) and the two peaks in KiB.
fn w6_peak_medians(id: &str, name: &str, n: u64, threads: usize, samples: usize) -> [u64; 4] {
    let mut sums = None;
    let (mut at_n, mut at_10n) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let (sum_n, peak_n) = w6_peak(id, name, n, threads);
        let (sum_10n, peak_10n) = w6_peak(id, name, 10 * n, threads);
        let first = *sums.get_or_insert((sum_n, sum_10n));
        assert_eq!(
            first,
            (sum_n, sum_10n),
            "{id} child {name}: checksums differ"
        );
        at_n.push(peak_n);
        at_10n.push(peak_10n);
    }
    let median = |mut xs: Vec<u64>| {
        xs.sort_unstable();
        xs[xs.len() / 2]
    };
    let (sum_n, sum_10n) = sums.expect("at least one sample");
    [sum_n, sum_10n, median(at_n), median(at_10n)]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// A time per item with readable units.
fn per_item(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("unix time {secs}")
        })
}

/// The measured median time per item (ns) of every implementation, in
/// [`Impl::ALL`] order, and the checksum they agree on.
fn measure(w: &dyn Workload, threads: usize, runs: usize) -> (Vec<f64>, u64) {
    // One untimed run each: warms caches and the allocator, and checks the
    // checksums agree before anything is timed.
    let checksum = workloads::agreed_checksum(w, threads);
    w.verify(threads);
    let mut times = vec![Vec::with_capacity(runs); Impl::ALL.len()];
    // Round-robin over the implementations, so that a slow spell of this
    // noisy machine hits them all alike.
    for _ in 0..runs {
        for (i, imp) in Impl::ALL.into_iter().enumerate() {
            let started = Instant::now();
            let got = w.run(imp, threads);
            let elapsed = started.elapsed();
            assert_eq!(got, checksum, "{} {}: checksum changed", w.id(), imp.name());
            times[i].push(elapsed.as_secs_f64() * 1e9 / w.items() as f64);
        }
    }
    (times.into_iter().map(median).collect(), checksum)
}

/// One timed run of `run`, which must return `checksum`: ns per item of `w`.
fn time_per_item(w: &dyn Workload, name: &str, checksum: u64, run: impl FnOnce() -> u64) -> f64 {
    let started = Instant::now();
    let got = run();
    let elapsed = started.elapsed();
    assert_eq!(got, checksum, "{} {name}: checksum changed", w.id());
    elapsed.as_secs_f64() * 1e9 / w.items() as f64
}

/// The median time per item (ns) of Para's sink version ([`Impl::Para`])
/// and of every [`Variant`] of `w`, in [`Workload::variants`] order. They
/// are measured round-robin in a pass of their own, so that the ratios
/// between them come from the same spell of this noisy machine.
fn measure_variants(
    w: &dyn Workload,
    threads: usize,
    runs: usize,
    checksum: u64,
    also: Option<Impl>,
) -> (f64, Vec<f64>, Option<f64>) {
    // One untimed run each (the sink version had its own in `measure`).
    workloads::agreed_variants(w, threads, checksum);
    let variants = w.variants();
    let mut sink = Vec::with_capacity(runs);
    let mut times = vec![Vec::with_capacity(runs); variants.len()];
    let mut also_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        sink.push(time_per_item(w, Impl::Para.name(), checksum, || {
            w.run(Impl::Para, threads)
        }));
        for (i, &variant) in variants.iter().enumerate() {
            times[i].push(time_per_item(w, variant.name(), checksum, || {
                w.run_variant(variant, threads)
            }));
        }
        if let Some(imp) = also {
            also_times.push(time_per_item(w, imp.name(), checksum, || {
                w.run(imp, threads)
            }));
        }
    }
    let also = also.map(|_| median(also_times));
    (median(sink), times.into_iter().map(median).collect(), also)
}

/// The rows and bar lines of one workload's variants.
struct VariantRows {
    rows: Vec<String>,
    bars: Vec<String>,
}

/// What the variants' bar lines need from the main table.
struct VariantContext {
    /// The best alternative of the main table (by its median there) and
    /// its median time per item, measured again round-robin with the
    /// variants where one is judged against it.
    best_alternative: (f64, &'static str),
    /// `para-split`'s VmHWM (KiB) at N and 10 N (W6 and W6b).
    split_peaks: Option<(u64, u64)>,
}

/// The variant table's rows for `w`: Para's own version, then every
/// variant with its ratio to what it is compared with, and the bar lines
/// (the streams: within 2% of the sink version where the sink is ordered;
/// `para-split`: W6's bars, against the main table's best alternative).
fn variant_rows(
    w: &dyn Workload,
    sequential: f64,
    sink: f64,
    times: &[f64],
    context: &VariantContext,
) -> VariantRows {
    let variants = w.variants();
    let sink_name = if variants.contains(&Variant::ParaOrderedStream) {
        "para (ordered sink)"
    } else if variants.contains(&Variant::ParaCountingSink) {
        "para (fold)"
    } else {
        "para (sink)"
    };
    let time_of = |compared_with: Option<Variant>| match compared_with {
        None => (sink, sink_name),
        Some(v) => {
            let i = variants.iter().position(|&x| x == v).expect("listed");
            (times[i], v.name())
        }
    };
    let row = |name: &str, t: f64, ratio: String, against: &str| {
        format!(
            "| {} `{}` | {name} | {} | {:.2}x | {ratio} | {against} |",
            w.id(),
            w.name(),
            per_item(t),
            sequential / t
        )
    };
    let mut rows = vec![row(sink_name, sink, "1.00".into(), "(the reference)")];
    let mut bars = Vec::new();
    for (&variant, &t) in variants.iter().zip(times) {
        let (reference, against) = time_of(variant.compared_with());
        let ratio = t / reference;
        rows.push(row(variant.name(), t, format!("{ratio:.3}"), against));
        bars.push(match variant {
            Variant::ParaOrderedStream => format!(
                "{} stream: para-ordered-stream (a `for` loop) {ratio:.3}x the ordered sink's \
                 time per item; bar: at most 1.02x: {}",
                w.id(),
                Bar::met(ratio <= 1.02)
            ),
            Variant::ParaStream => format!(
                "{} stream: para-stream (a `for` loop) {} per item, {ratio:.2}x the sink's ({}) \
                 (no bar)",
                w.id(),
                per_item(t),
                per_item(reference)
            ),
            Variant::ParaCountingSink => format!(
                "{} without fold: para-counting-sink (every word through one serial sink) {} \
                 per item, {ratio:.2}x the fold's ({}) (no bar)",
                w.id(),
                per_item(t),
                per_item(reference)
            ),
            Variant::SerialSource(k) => format!(
                "{} through one iterator with no runtime: {} {} per item, {ratio:.2}x Para's ({}); \
                 {k} items of 4 KiB per grab (no bar)",
                w.id(),
                variant.name(),
                per_item(t),
                per_item(reference)
            ),
            Variant::ParaSplit => {
                let (at_n, at_10n) = context.split_peaks.expect("measured for para-split");
                let (best, name) = context.best_alternative;
                format!(
                    "{} with the items made on the workers (as rayon's): para-split (`#[split]` \
                     source, producer and byte sum fused) {} per item, {ratio:.2}x Para's serial \
                     source ({}); VmHWM {} at N, {} at 10 N (bar: the same: {}); {:.2}x the best \
                     alternative ({name}, {} in the same rounds) (bar: at most 1.00x: {})",
                    w.id(),
                    per_item(t),
                    per_item(reference),
                    mib(at_n),
                    mib(at_10n),
                    Bar::met(at_10n as f64 <= at_n as f64 * 1.1),
                    t / best,
                    per_item(best),
                    Bar::met(t <= best)
                )
            }
            Variant::Pariter | Variant::RayonParBridge => format!(
                "{} as an iterator: {against} {:.2}x the time per item of {} ({}) (no bar)",
                w.id(),
                reference / t,
                variant.name(),
                per_item(t)
            ),
        });
    }
    VariantRows { rows, bars }
}

/// `--features mimalloc`: the allocator study (benches/README.md, W6b).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this binary was built with, for the table's header.
const ALLOCATOR_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system malloc"
};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(W6_CHILD) {
        w6_child(&argv[1..]);
        return;
    }
    let args = parse_args(&argv);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let env_scale = std::env::var("PARA_BENCH_SCALE")
        .map(|s| format!("PARA_BENCH_SCALE={s} "))
        .unwrap_or_default();
    println!(
        "Para reference workloads — {}, nproc {cores}, threads {}, scale {}, median of {} runs, {ALLOCATOR_NAME}",
        date(),
        args.threads,
        args.scale,
        args.runs
    );
    println!(
        "command: `{env_scale}cargo run --release --example bench_table{} --{}`\n",
        if cfg!(feature = "mimalloc") {
            " --features mimalloc"
        } else {
            ""
        },
        argv.iter().map(|a| format!(" {a}")).collect::<String>()
    );

    let mut table = vec![
        "| workload | implementation | time per item | speed-up vs sequential | ratio to best alternative | notes |".to_string(),
        "| --- | --- | ---: | ---: | ---: | --- |".to_string(),
    ];
    let mut variant_table = vec![
        "| workload | implementation | time per item | speed-up vs sequential | ratio | compared with |".to_string(),
        "| --- | --- | ---: | ---: | ---: | --- |".to_string(),
    ];
    let mut footnotes = Vec::new();
    let mut bars = Vec::new();
    let mut variant_bars = Vec::new();
    for id in &args.only {
        let w = workloads::build(id, args.scale).expect("known workload");
        let label = format!("{} `{}` (N = {})", w.id(), w.name(), w.items());
        eprintln!("running {label} ...");
        let (times, checksum) = measure(w.as_ref(), args.threads, args.runs);
        footnotes.push(format!("{label}: checksums: all equal ({checksum:#018x})"));
        if let Some(note) = w.note() {
            footnotes.push(format!("{}: {note}", w.id()));
        }

        let sequential = times[0];
        let (best_alternative, best_name) = Impl::ALL
            .into_iter()
            .zip(&times)
            .filter(|(imp, _)| imp.is_alternative())
            .map(|(imp, &t)| (t, imp.name()))
            .fold((f64::INFINITY, ""), |a, b| if b.0 < a.0 { b } else { a });
        let mut notes = vec![String::new(); Impl::ALL.len()];
        if w.id() == "W5" {
            let bound = Stateful::bound_ns(args.threads, cores);
            for (note, &t) in notes.iter_mut().zip(&times) {
                *note = format!("{:.2}x the bound ({})", t / bound, per_item(bound));
            }
            footnotes.push(format!(
                "W5: bound = max(2 µs / {} threads, 0.5 µs, 2.5 µs / min({0} threads, {cores} cores)) = {}",
                args.threads,
                per_item(bound)
            ));
        }
        let para = times[Impl::ALL.len() - 1];
        let (para_peaks, checksum_10n) = if w6_memory::IDS.contains(&w.id()) {
            let (id, n) = (w.id(), w.items());
            let mut reference_10n = None;
            let mut para_peaks = (0, 0);
            for (note, imp) in notes.iter_mut().zip(Impl::ALL) {
                eprintln!("  {id} peak memory: {} at N and 10 N ...", imp.name());
                let samples = if imp == Impl::Para {
                    PARA_PEAK_SAMPLES
                } else {
                    1
                };
                let [sum_n, sum_10n, peak_n, peak_10n] =
                    w6_peak_medians(id, imp.name(), n, args.threads, samples);
                assert_eq!(sum_n, checksum, "{id} child {}: checksum", imp.name());
                assert_eq!(
                    *reference_10n.get_or_insert(sum_10n),
                    sum_10n,
                    "{id} child {} at 10 N: checksum",
                    imp.name()
                );
                *note = format!("VmHWM {} at N, {} at 10 N", mib(peak_n), mib(peak_10n));
                if imp == Impl::Para {
                    para_peaks = (peak_n, peak_10n);
                }
            }
            (Some(para_peaks), reference_10n)
        } else {
            (None, None)
        };
        let bar = Bar {
            id: w.id(),
            items: w.items(),
            times: &times,
            para,
            threads: args.threads,
            cores,
        };
        bars.push(bar.verdict(para_peaks));
        for ((imp, &t), note) in Impl::ALL.into_iter().zip(&times).zip(&notes) {
            table.push(format!(
                "| {} `{}` | {} | {} | {:.2}x | {:.2} | {} |",
                w.id(),
                w.name(),
                imp.name(),
                per_item(t),
                sequential / t,
                t / best_alternative,
                note
            ));
        }
        if !w.variants().is_empty() {
            eprintln!("  {} variants ...", w.id());
            // A variant judged against the best alternative (`para-split`)
            // has it measured again in the same rounds.
            let split = w.variants().contains(&Variant::ParaSplit);
            let best = Impl::parse(best_name).filter(|_| split);
            let (sink, variant_times, best_again) =
                measure_variants(w.as_ref(), args.threads, args.runs, checksum, best);
            let split_peaks = split.then(|| {
                let (id, n, name) = (w.id(), w.items(), Variant::ParaSplit.name());
                eprintln!("  {id} peak memory: {name} at N and 10 N ...");
                let [sum_n, sum_10n, peak_n, peak_10n] =
                    w6_peak_medians(id, name, n, args.threads, PARA_PEAK_SAMPLES);
                assert_eq!(sum_n, checksum, "{id} child {name}: checksum");
                assert_eq!(
                    Some(sum_10n),
                    checksum_10n,
                    "{id} child {name} at 10 N: checksum"
                );
                (peak_n, peak_10n)
            });
            let context = VariantContext {
                best_alternative: (best_again.unwrap_or(best_alternative), best_name),
                split_peaks,
            };
            let VariantRows { rows, bars } =
                variant_rows(w.as_ref(), sequential, sink, &variant_times, &context);
            variant_table.extend(rows);
            variant_bars.extend(bars);
        }
    }
    println!("{}\n", table.join("\n"));
    for line in footnotes {
        println!("{line}");
    }
    if !variant_bars.is_empty() {
        println!(
            "\nVariants: streams (SPEC section 5: the pipeline ends in `yield` and a `for` loop \
             takes its results), W6 and W6b with the items made on the workers (`para-split`) \
             and through one iterator with no runtime (`serial-source-k`), and W7 with a \
             counting sink instead of `fold`; Para's own version measured again, round-robin \
             with the variants. Speed-up: against the sequential median of the table above; \
             checksums asserted equal to it.\n"
        );
        println!("{}", variant_table.join("\n"));
    }
    println!("\nBars (benches/README.md, at {} threads):", args.threads);
    if args.scale != 1.0 {
        println!(
            "(scale {}: the bars are defined at the full sizes, so at this scale the \
             verdicts below only exercise the judging)",
            args.scale
        );
    }
    for line in bars.iter().chain(&variant_bars) {
        println!("- {line}");
    }
}

/// One workload's results, judged against its bar in benches/README.md.
struct Bar<'a> {
    id: &'static str,
    /// Items per run (W7's bar line gives whole runs in ms).
    items: u64,
    /// Median ns per item, in [`Impl::ALL`] order.
    times: &'a [f64],
    para: f64,
    threads: usize,
    cores: usize,
}

impl Bar<'_> {
    fn time(&self, imp: Impl) -> f64 {
        let i = Impl::ALL.iter().position(|&x| x == imp).expect("listed");
        self.times[i]
    }

    /// The fastest of `imps` and its name.
    fn best(&self, imps: &[Impl]) -> (f64, &'static str) {
        imps.iter()
            .map(|&imp| (self.time(imp), imp.name()))
            .fold((f64::INFINITY, ""), |a, b| if b.0 < a.0 { b } else { a })
    }

    fn met(ok: bool) -> &'static str {
        if ok {
            "met"
        } else {
            "NOT met"
        }
    }

    /// One line: the bar, the measured figure, and whether it is met.
    /// `w6_peaks`: Para's VmHWM (KiB) at N and 10 N (W6 and W6b).
    fn verdict(&self, w6_peaks: Option<(u64, u64)>) -> String {
        let sequential = self.time(Impl::Sequential);
        match self.id {
            "W1" | "W4" => {
                // Rayon is not a pipeline: it fuses the stages into one
                // parallel loop, so the bar compares with the pipelines.
                let (best, name) = self.best(&[Impl::Crossbeam, Impl::CrossbeamBatch]);
                let ratio = self.para / best;
                format!(
                    "{}: para {:.2}x the time per item of the best pipeline alternative \
                     ({name}); bar: at most 0.50x: {}",
                    self.id,
                    ratio,
                    Self::met(ratio <= 0.5)
                )
            }
            "W2" | "W3" => {
                let speedup = sequential / self.para;
                let (best, name) = self.best(&[Impl::Rayon, Impl::Crossbeam, Impl::CrossbeamBatch]);
                let best_speedup = sequential / best;
                // 0.95 x threads, but no more threads than cores can run.
                let want = 0.95 * self.threads.min(self.cores) as f64;
                format!(
                    "{}: para speed-up {speedup:.2}x; bar: at least {want:.2}x (0.95 x {} \
                     usable threads) and at least the best alternative's ({name} {best_speedup:.2}x): {}",
                    self.id,
                    self.threads.min(self.cores),
                    Self::met(speedup >= want && self.para <= best)
                )
            }
            "W5" => {
                // The spin loops are calibrated to the nominal 2 µs and
                // 0.5 µs once per process, which misses by a few per cent
                // (2.42-2.52 µs for the nominal 2.5 in one day's tables):
                // the bound is judged in this run's units, its stage costs
                // scaled by the sequential loop's time per item.
                let bound = Stateful::bound_ns(self.threads, self.cores);
                let nominal = w5_stateful::PARALLEL_NS + w5_stateful::SERIAL_NS;
                let run_bound = bound * sequential / nominal;
                let ratio = self.para / run_bound;
                format!(
                    "W5: para {ratio:.3}x the bound ({}: the bound's stage costs scaled by this \
                     run's sequential loop, {} per item for the nominal {}), {:.3}x the nominal \
                     bound ({}); bar: within 2%: {}",
                    per_item(run_bound),
                    per_item(sequential),
                    per_item(nominal),
                    self.para / bound,
                    per_item(bound),
                    Self::met(ratio <= 1.02)
                )
            }
            "W6" | "W6b" => {
                let (at_n, at_10n) = w6_peaks.expect("W6 and W6b measure peak memory");
                let (best, name) = self.best(&[Impl::Rayon, Impl::Crossbeam, Impl::CrossbeamBatch]);
                // "The same at N and 10 N": within 10% (the allocator's
                // own bookkeeping varies a little from run to run).
                let flat = at_10n as f64 <= at_n as f64 * 1.1;
                format!(
                    "{}: para VmHWM {} at N, {} at 10 N (bar: the same: {}); time per item \
                     {:.2}x the best alternative ({name}) (bar: at most 1.00x: {})",
                    self.id,
                    mib(at_n),
                    mib(at_10n),
                    Self::met(flat),
                    self.para / best,
                    Self::met(self.para <= best)
                )
            }
            "W7" => {
                let rayon = self.time(Impl::Rayon);
                let ms = |t: f64| format!("{:.1} ms", t * self.items as f64 / 1e6);
                format!(
                    "W7: para (fold) {} a run, speed-up {:.2}x; rayon (fold/reduce) {}, {:.2}x; \
                     sequential {}; bar: at least rayon's speed-up: {}",
                    ms(self.para),
                    sequential / self.para,
                    ms(rayon),
                    sequential / rayon,
                    ms(sequential),
                    Self::met(self.para <= rayon)
                )
            }
            other => format!("{other}: no bar"),
        }
    }
}
