//! A real GPU stage: W2's Mandelbrot rows (benches/README.md) computed by a
//! wgpu compute shader inside a `#[gpu(batch = N, lanes = 1)]` stage, and
//! beside a CPU map in the same pipeline.
//!
//! The image is 2000 x 2000 pixels over x in [-2, 1], y in [-1.5, 1.5], at
//! most 500 iterations, one row per item, iteration counts `% 256` as bytes,
//! rows assembled by an `#[ordered]` sink, as W2. The escape-time loop runs in
//! Q14 fixed point on `i32` instead of `f64`: WGSL has no `f64` (wgpu offers
//! it only as a native feature of some adapters), and `f32` results differ
//! between backends and from the CPU (fused multiply-add, the shader
//! compiler's reassociation). With integers the
//! CPU reference and the shader compute bit-identical iteration counts on
//! every adapter, so the images are compared for equality, byte for byte.
//!
//! Three pipelines, each checked against the sequential loop:
//! - `cpu`: `0..side => |y| row(y) => #[ordered] sink`, the CPU workers only;
//! - `gpu`: `0..side => #[gpu(batch = N, lanes = 1)] shader => #[ordered] sink`:
//!   the stage's `FnMut` body holds the wgpu device and queue, created once,
//!   with the shader's pipeline and buffers reused by every batch;
//! - `both`: a router tags each row for the device while fewer than two
//!   device batches wait there and for the CPU otherwise; a fan-out with one
//!   `filter` per branch sends it to the CPU map or to the `#[gpu]` stage,
//!   and both branches feed the same ordered sink. The CPU workers and the
//!   device then compute rows at the same time, each as fast as it can; the
//!   pipeline's `capacity` (default `16 * batch` rows) paces the source so
//!   that rows are routed as room appears.
//!
//! The device is whatever adapter wgpu finds: a real GPU where there is one,
//! Mesa's lavapipe (a Vulkan driver running on the CPU, Debian package
//! `mesa-vulkan-drivers`) where there is none. On lavapipe the "device" shares
//! the CPU cores with the workers, so `both` cannot beat the cores' total.
//!
//! Run: `cargo run --release --example gpu_mandel --features gpu -- [OPTIONS]`
//! with `--mode cpu|gpu|both|all` (default `all`), `--side N` (default 2000),
//! `--threads T` (default 2), `--batch B` (rows per device batch, default 32),
//! `--runs R` (timed runs per mode, the median is printed; default 3),
//! `--capacity C` (`both`'s capacity, default `16 * batch`), `--trace FILE`
//! (`both` writes a Chrome trace of its last run there: open it in Perfetto
//! to see the device lane and the workers computing at once) and `--report`
//! (print each mode's `para::Report`). On Linux without a GPU set
//! `WGPU_BACKEND=vulkan` (keeps a GL adapter out) and `XDG_RUNTIME_DIR`
//! (Mesa warns without it). Exits with 1 if an image differs from the
//! sequential one, with 2 on bad arguments or when no adapter is found.

use para::prelude::*;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// W2's bound on the escape-time iteration.
const MAX_ITERATIONS: u32 = 500;

/// Fractional bits of the fixed-point numbers: `v` stands for `v / 2^14`.
///
/// Why nothing overflows `i32` (so wrapping never happens and a debug build
/// would panic if it did): a product is only formed while `|zx|` and `|zy|`
/// are at most 2, that is `2^15`, so each product is at most `2^30`; the
/// squares shifted back are at most `2^16`, the new `z` at most
/// `2^16 + 2^15 + |c|`, well inside `i32`. `>>` on a negative `i32` rounds
/// towards minus infinity in Rust and in WGSL alike (arithmetic shift).
const FRAC: u32 = 14;

/// The WGSL twin of [`Frame::pixel`]: one invocation per pixel, `id.x` the
/// column and `id.y` the row's index inside the batch.
const SHADER: &str = r#"
struct Params {
    side: u32,
    rows: u32,
    max_iterations: u32,
    pad: u32,
}

const FRAC: u32 = 14u;
const TWO: i32 = 32768;   // 2 << FRAC
const FOUR: i32 = 65536;  // 4 << FRAC

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ys: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let px = id.x;
    let r = id.y;
    if (px >= params.side || r >= params.rows) {
        return;
    }
    let cx = -TWO + i32((3u << FRAC) * px / params.side);
    let cy = -(3 << (FRAC - 1u)) + i32((3u << FRAC) * ys[r] / params.side);
    var zx = 0;
    var zy = 0;
    var i = 0u;
    loop {
        if (i >= params.max_iterations || abs(zx) > TWO || abs(zy) > TWO) {
            break;
        }
        let xx = (zx * zx) >> FRAC;
        let yy = (zy * zy) >> FRAC;
        if (xx + yy > FOUR) {
            break;
        }
        let t = xx - yy + cx;
        zy = ((zx * zy) >> (FRAC - 1u)) + cy;
        zx = t;
        i = i + 1u;
    }
    counts[r * params.side + px] = i % 256u;
}
"#;

/// The image: `side` x `side` pixels over W2's window.
#[derive(Clone, Copy)]
struct Frame {
    side: usize,
}

impl Frame {
    /// The point of pixel `p` on an axis that starts at `start` (fixed
    /// point) and is 3 wide, as W2's `start + 3 * p / side`, rounded down.
    fn coordinate(&self, start: i32, p: usize) -> i32 {
        // u32 as in the shader; `side <= MAX_SIDE` keeps the product in range.
        start + ((3u32 << FRAC) * p as u32 / self.side as u32) as i32
    }

    /// The iteration count `% 256` of pixel (`px`, `y`): W2's loop in fixed
    /// point, the same operations as [`SHADER`].
    fn pixel(&self, px: usize, y: usize) -> u8 {
        const TWO: i32 = 2 << FRAC;
        const FOUR: i32 = 4 << FRAC;
        let cx = self.coordinate(-TWO, px);
        let cy = self.coordinate(-(3 << (FRAC - 1)), y);
        let (mut zx, mut zy, mut i) = (0i32, 0i32, 0u32);
        while i < MAX_ITERATIONS && zx.abs() <= TWO && zy.abs() <= TWO {
            let xx = (zx * zx) >> FRAC;
            let yy = (zy * zy) >> FRAC;
            if xx + yy > FOUR {
                break;
            }
            let t = xx - yy + cx;
            zy = ((zx * zy) >> (FRAC - 1)) + cy;
            zx = t;
            i += 1;
        }
        (i % 256) as u8
    }

    /// Row `y` on the CPU.
    fn row(&self, y: usize) -> Vec<u8> {
        (0..self.side).map(|px| self.pixel(px, y)).collect()
    }
}

/// The largest side for which `(3 << FRAC) * p` fits in `u32`.
const MAX_SIDE: usize = (u32::MAX / (3 << FRAC)) as usize;

/// A wgpu device with the Mandelbrot pipeline and buffers for up to
/// `max_rows` rows, all made once and reused by every batch.
struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    params: wgpu::Buffer,
    ys: wgpu::Buffer,
    counts: wgpu::Buffer,
    readback: wgpu::Buffer,
    frame: Frame,
    max_rows: usize,
    adapter: String,
}

impl Gpu {
    /// Opens the adapter wgpu picks (honouring `WGPU_BACKEND`,
    /// `WGPU_ADAPTER_NAME` and `WGPU_POWER_PREF`) and builds the pipeline.
    fn new(frame: Frame, max_rows: usize) -> Result<Gpu, String> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(wgpu::util::initialize_adapter_from_env_or_default(
            &instance, None,
        ))
        .map_err(|e| format!("no wgpu adapter: {e}"))?;
        let info = adapter.get_info();
        let adapter_name = format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gpu_mandel"),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| format!("{adapter_name}: no device: {e}"))?;

        let counts_size = (max_rows * frame.side * 4) as u64;
        let limits = device.limits();
        if counts_size > limits.max_storage_buffer_binding_size {
            return Err(format!(
                "{adapter_name}: {max_rows} rows of {} pixels need {counts_size} bytes, over the \
                 adapter's storage binding limit {}; use a smaller --batch",
                frame.side, limits.max_storage_buffer_binding_size
            ));
        }
        if max_rows > limits.max_compute_workgroups_per_dimension as usize {
            return Err(format!(
                "{adapter_name}: --batch {max_rows} is over the adapter's dispatch limit"
            ));
        }

        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("mandel.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("mandel"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let buffer = |label, size, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let params = buffer("params", 16, U::UNIFORM | U::COPY_DST);
        let ys = buffer("ys", (max_rows * 4) as u64, U::STORAGE | U::COPY_DST);
        let counts = buffer("counts", counts_size, U::STORAGE | U::COPY_SRC);
        let readback = buffer("readback", counts_size, U::MAP_READ | U::COPY_DST);
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mandel"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: ys.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: counts.as_entire_binding(),
                },
            ],
        });
        Ok(Gpu {
            device,
            queue,
            pipeline,
            bind_group,
            params,
            ys,
            counts,
            readback,
            frame,
            max_rows,
            adapter: adapter_name,
        })
    }

    /// Rows `ys` (any indices, in any order) computed by the shader, in the
    /// order of `ys`: the body of the `#[gpu]` stage.
    fn rows(&mut self, ys: &[usize]) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(ys.len());
        // The runtime never hands over more than `batch` rows; chunking keeps
        // this correct for any caller.
        for chunk in ys.chunks(self.max_rows) {
            self.dispatch(chunk, &mut out);
        }
        out
    }

    fn dispatch(&mut self, ys: &[usize], out: &mut Vec<Vec<u8>>) {
        let side = self.frame.side;
        // `Params` in the shader: side, rows, max_iterations, padding.
        let params = [side as u32, ys.len() as u32, MAX_ITERATIONS, 0];
        let indices: Vec<u32> = ys.iter().map(|&y| y as u32).collect();
        self.queue
            .write_buffer(&self.params, 0, bytemuck::cast_slice(&params));
        self.queue
            .write_buffer(&self.ys, 0, bytemuck::cast_slice(&indices));

        let bytes = (ys.len() * side * 4) as u64;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.dispatch_workgroups(side.div_ceil(64) as u32, ys.len() as u32, 1);
        }
        encoder.copy_buffer_to_buffer(&self.counts, 0, &self.readback, 0, bytes);
        let submitted = self.queue.submit([encoder.finish()]);

        let slice = self.readback.slice(..bytes);
        let (mapped_tx, mapped_rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |mapped| {
            // The receiver waits below; it is gone only if this thread panicked.
            let _ = mapped_tx.send(mapped);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submitted),
                timeout: None,
            })
            .expect("gpu_mandel: waiting for the device");
        mapped_rx
            .recv()
            .expect("gpu_mandel: the map callback ran")
            .expect("gpu_mandel: mapping the readback buffer");
        {
            let view = slice
                .get_mapped_range()
                .expect("gpu_mandel: reading the readback buffer");
            let counts: &[u32] = bytemuck::cast_slice(&view);
            out.extend(
                counts
                    .chunks_exact(side)
                    .map(|row| row.iter().map(|&c| c as u8).collect()),
            );
        }
        self.readback.unmap();
    }
}

/// Which pipelines to time.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Cpu,
    Gpu,
    Both,
    All,
}

struct Args {
    mode: Mode,
    side: usize,
    threads: usize,
    batch: usize,
    runs: usize,
    /// `both`'s capacity: rows alive at once (default `16 * batch`).
    capacity: Option<usize>,
    report: bool,
    /// `both` writes a trace of its runs here (the last run's stays).
    trace: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mode: Mode::All,
        side: 2000,
        threads: 2,
        batch: 32,
        runs: 3,
        capacity: None,
        report: false,
        trace: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--report" {
            args.report = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} takes a positive integer, not `{value}`"))
        };
        match flag.as_str() {
            "--mode" => {
                args.mode = match value.as_str() {
                    "cpu" => Mode::Cpu,
                    "gpu" => Mode::Gpu,
                    "both" => Mode::Both,
                    "all" => Mode::All,
                    _ => return Err(format!("--mode takes cpu, gpu, both or all, not `{value}`")),
                }
            }
            "--side" => args.side = number()?,
            "--threads" => args.threads = number()?,
            "--batch" => args.batch = number()?,
            "--runs" => args.runs = number()?,
            "--capacity" => args.capacity = Some(number()?),
            "--trace" => args.trace = Some(value.into()),
            _ => {
                return Err(format!(
                    "unknown option `{flag}`; the options are --mode, --side, --threads, --batch, \
                     --runs, --capacity, --trace and --report"
                ))
            }
        }
    }
    if args.side > MAX_SIDE {
        return Err(format!("--side is at most {MAX_SIDE}"));
    }
    Ok(args)
}

/// One timed run of a pipeline: its image, seconds and report, and for
/// `both` the rows the device took.
struct Run {
    image: Vec<u8>,
    seconds: f64,
    report: para::Report,
    device_rows: usize,
    /// Time spent computing rows, summed over the CPU workers and over the
    /// device lane (`both` only; measured per row and per batch, so exact,
    /// unlike the report's sampled busy times).
    cpu_busy: Duration,
    device_busy: Duration,
}

/// `cpu`: the CPU workers compute every row.
fn run_cpu(frame: Frame, threads: usize) -> Run {
    let mut image = Vec::with_capacity(frame.side * frame.side);
    let started = Instant::now();
    let report = pipeline!(threads = threads,
        0..frame.side
            => 'row: |y| frame.row(y)
            => #[ordered] 'image: |row| image.extend_from_slice(&row));
    let seconds = started.elapsed().as_secs_f64();
    Run {
        image,
        seconds,
        report,
        device_rows: 0,
        cpu_busy: Duration::ZERO,
        device_busy: Duration::ZERO,
    }
}

/// `gpu`: the device computes every row. The lane's `FnMut` body holds the
/// only handle to the device, `&mut Gpu`: exclusive like an owned value, and
/// a borrow so that `main` opens the device once and every timed run reuses
/// it.
fn run_gpu(frame: Frame, threads: usize, batch: usize, gpu: &mut Gpu) -> Run {
    let mut image = Vec::with_capacity(frame.side * frame.side);
    let started = Instant::now();
    let report = pipeline!(threads = threads,
        0..frame.side
            => #[gpu(batch = batch, lanes = 1)] 'shader: |ys: Vec<usize>| gpu.rows(&ys)
            => #[ordered] 'image: |row| image.extend_from_slice(&row));
    let seconds = started.elapsed().as_secs_f64();
    Run {
        image,
        seconds,
        report,
        device_rows: frame.side,
        cpu_busy: Duration::ZERO,
        device_busy: Duration::ZERO,
    }
}

/// `both`: rows go to the device while fewer than two of its batches wait
/// there (so it is never idle), to the CPU map otherwise; the fan-out's two
/// filters agree because the router decided once per row.
///
/// `capacity` paces the source, so each row is routed when there is room
/// for it rather than all at once at the start (which would leave the
/// device two batches and the CPU everything else). It must leave the CPU
/// a window: the rows it finishes while the device still holds older ones
/// stay alive in the ordered sink until those arrive.
///
/// With `trace`, the run writes a Chrome trace there (SPEC section 7): the
/// device lane's track and the workers' tracks show both sides computing
/// rows at the same time.
fn run_both(
    frame: Frame,
    threads: usize,
    batch: usize,
    capacity: usize,
    gpu: &mut Gpu,
    trace: Option<&std::path::Path>,
) -> Run {
    let waiting = AtomicUsize::new(0);
    let device_rows = AtomicUsize::new(0);
    let (cpu_ns, device_ns) = (AtomicU64::new(0), AtomicU64::new(0));
    let timed = |ns: &AtomicU64, started: Instant| {
        ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed)
    };
    let mut image = Vec::with_capacity(frame.side * frame.side);
    let started = Instant::now();
    // The same pipeline with and without the `trace` option.
    macro_rules! both {
        ($($trace:tt)*) => { pipeline!(threads = threads, capacity = capacity, $($trace)*
        0..frame.side
            => 'route: |y| {
                let to_device = waiting
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| (w < 2 * batch).then_some(w + 1))
                    .is_ok();
                (y, to_device)
            }
            => (
                filter(|&(_, to_device)| !to_device) => 'row: |(y, _)| {
                    let started = Instant::now();
                    let row = frame.row(y);
                    timed(&cpu_ns, started);
                    row
                },
                filter(|&(_, to_device)| to_device) => |(y, _)| y
                    => #[gpu(batch = batch, lanes = 1)] 'shader: |ys: Vec<usize>| {
                        let started = Instant::now();
                        let rows = gpu.rows(&ys);
                        timed(&device_ns, started);
                        waiting.fetch_sub(ys.len(), Ordering::Relaxed);
                        device_rows.fetch_add(ys.len(), Ordering::Relaxed);
                        rows
                    },
            )
            => #[ordered] 'image: |row| image.extend_from_slice(&row)) };
    }
    let report = match trace {
        Some(path) => both!(trace = path,),
        None => both!(),
    };
    let seconds = started.elapsed().as_secs_f64();
    Run {
        image,
        seconds,
        report,
        device_rows: device_rows.into_inner(),
        cpu_busy: Duration::from_nanos(cpu_ns.into_inner()),
        device_busy: Duration::from_nanos(device_ns.into_inner()),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("gpu_mandel: {message}");
            return ExitCode::from(2);
        }
    };
    let frame = Frame { side: args.side };
    let rows = frame.side as f64;

    let started = Instant::now();
    let expected: Vec<u8> = (0..frame.side).flat_map(|y| frame.row(y)).collect();
    let sequential = rows / started.elapsed().as_secs_f64();

    let capacity = args.capacity.unwrap_or(16 * args.batch);
    let wants = |mode| args.mode == mode || args.mode == Mode::All;
    let mut gpu = if wants(Mode::Gpu) || wants(Mode::Both) {
        match Gpu::new(frame, args.batch) {
            Ok(gpu) => Some(gpu),
            Err(message) => {
                eprintln!("gpu_mandel: {message}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };

    println!(
        "W2 rows: {side} x {side} pixels, at most {MAX_ITERATIONS} iterations in Q{FRAC} fixed point; \
         threads = {threads}, device batches of {batch} rows, `both` at capacity {capacity}, median \
         of {runs} runs",
        side = frame.side,
        threads = args.threads,
        batch = args.batch,
        runs = args.runs,
    );
    if let Some(gpu) = &gpu {
        println!("device: {}", gpu.adapter);
    }
    println!(
        "{:<26} {:>10.0} rows/s",
        "sequential loop (1 thread)", sequential
    );

    let mut all_match = true;
    let modes: [(Mode, &str); 3] = [
        (Mode::Cpu, "cpu: CPU map only"),
        (Mode::Gpu, "gpu: #[gpu] stage only"),
        (Mode::Both, "both: CPU map + #[gpu]"),
    ];
    for (mode, name) in modes {
        if !wants(mode) {
            continue;
        }
        let mut rates = Vec::new();
        let mut device_share = Vec::new();
        let mut differing = 0;
        let mut last = None;
        for _ in 0..args.runs {
            let run = match (mode, gpu.as_mut()) {
                (Mode::Cpu, _) => run_cpu(frame, args.threads),
                (Mode::Gpu, Some(gpu)) => run_gpu(frame, args.threads, args.batch, gpu),
                (Mode::Both, Some(gpu)) => run_both(
                    frame,
                    args.threads,
                    args.batch,
                    capacity,
                    gpu,
                    args.trace.as_deref(),
                ),
                _ => unreachable!("the device is opened for the gpu and both modes"),
            };
            differing = differing.max(if run.image.len() == expected.len() {
                run.image
                    .iter()
                    .zip(&expected)
                    .filter(|(a, b)| a != b)
                    .count()
            } else {
                expected.len()
            });
            rates.push(rows / run.seconds);
            device_share.push(run.device_rows);
            last = Some(run);
        }
        all_match &= differing == 0;
        let split = if mode == Mode::Both {
            format!(
                "  (rows on the device per run: {device_share:?} of {})",
                frame.side
            )
        } else {
            String::new()
        };
        println!(
            "{name:<26} {:>10.0} rows/s  image {}{split}",
            median(rates),
            if differing == 0 {
                "matches".to_string()
            } else {
                format!("DIFFERS in {differing} pixels")
            },
        );
        let Some(last) = last else { continue };
        if mode == Mode::Both {
            // Busy times that add up to more than the wall time: the CPU
            // workers and the device lane computed rows at the same time.
            println!(
                "{:<26} last run: {} ms computing rows on the CPU workers and {} ms on the \
                 device lane, in {} ms",
                "",
                last.cpu_busy.as_millis(),
                last.device_busy.as_millis(),
                (last.seconds * 1e3).round(),
            );
        }
        if args.report {
            println!("{}", last.report);
        }
    }
    if all_match {
        ExitCode::SUCCESS
    } else {
        eprintln!("gpu_mandel: an image differs from the sequential loop's");
        ExitCode::from(1)
    }
}
