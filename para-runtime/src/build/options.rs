//! [`Options`]: how to run a graph, and how unset options are resolved
//! (worker count, pool, default capacity, batch size) into the settings of
//! one run.

use crate::build::plan::{Role, Spec};
use crate::exec::scheduler::{shared_pool, Pool, Settings};
use rayon_core::ThreadPool;
use std::fmt;
use std::path::Path;

/// How to run a graph: worker count, pool, capacity and batch size.
///
/// ```
/// use para::{Graph, Options};
/// let mut g = Graph::new();
/// let src = g.source(0..1000u32);
/// let mut n = 0;
/// g.sink(src, |_| n += 1);
/// g.run_with(Options::new().threads(2).capacity(64).batch(16));
/// assert_eq!(n, 1000);
/// ```
#[derive(Clone, Copy, Default)]
pub struct Options<'p> {
    pub(crate) threads: Option<usize>,
    pub(crate) capacity: Option<usize>,
    pub(crate) batch: Option<usize>,
    pub(crate) pool: Option<&'p ThreadPool>,
    pub(crate) trace: Option<&'p Path>,
    pub(crate) progress: bool,
}

/// The largest batch a worker takes from one stage when `batch` is not set
/// and the run has one thread, and the unit of the default capacity
/// ([`Options::capacity`]).
///
/// With one thread, batch sizes double up to this cap without timing (a
/// single-thread run must be deterministic), so it must suit large items
/// too: 2048 buffers of 4 KiB are already more than a core's L2. On the
/// 3-stage W1 chain, 1024 gave 0.67 ns/item, 2048 0.52 and 4096 0.45.
pub const DEFAULT_BATCH: usize = 2048;

/// The largest batch a worker takes from one stage when `batch` is not set
/// and the run has more than one thread.
///
/// Batches below it are sized by measured cost (a time target of 100 µs of
/// work per batch or less, see the runtime's sizing policy), so this cap
/// matters for cheap items only, for which a batch's own cost is what
/// counts: at 2 threads a batch costs about 1 µs of CPU in cache lines the
/// workers share, a quarter of W1's 2048-item batch. At 8192, in
/// alternating `bench_table` runs at 2 threads, W1 took 0.49 ns per item
/// against 0.56-0.63 at 2048, and W4 1.02-1.03 against 1.13-1.17.
pub const DEFAULT_TIMED_BATCH: usize = 8192;

impl<'p> Options<'p> {
    /// Default options: the current rayon-core pool's size, the default
    /// capacity ([`Options::capacity`]), batches of up to [`DEFAULT_BATCH`]
    /// items with one thread and [`DEFAULT_TIMED_BATCH`] with more.
    pub fn new() -> Self {
        Self::default()
    }

    /// Worker count. `0` is rejected when the run starts.
    ///
    /// Where the workers run, without a [`pool`](Options::pool): called from
    /// a thread of a rayon-core pool (a stage of another pipeline, a rayon
    /// job), the `threads` workers are jobs of that pool, so no thread is
    /// started and nested runs share their threads; called from any other
    /// thread, they run on a process-wide pool of `threads` threads, made
    /// the first time a run asks for that many and kept for the life of the
    /// process (as rayon's global pool is), so repeated runs start no
    /// threads. A run asked for more workers than its pool has threads
    /// still has that many workers; they take turns on the pool's threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Most items alive inside the graph at once; sources pause at the bound.
    ///
    /// Without it, a run is still bounded: `4 * threads * batch` items, with
    /// `batch` at [`DEFAULT_BATCH`] when it is not set (four such batches per
    /// worker, as oneTBB's rule of thumb of `max_live_tokens = 4 * threads`
    /// does with one batch per token; one of the largest timed batches), plus
    /// room for two full batches per lane of every device stage. Unbounded,
    /// a fast source in front of a serial bottleneck would queue its whole
    /// input in memory; with the bound, memory stays flat and the batches
    /// stay in cache.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Largest batch a worker takes from one stage (batches adapt below
    /// it). Default: [`DEFAULT_BATCH`] with one thread, [`DEFAULT_TIMED_BATCH`]
    /// with more.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Runs the workers inside this pool (the caller only waits).
    pub fn pool(mut self, pool: &'p ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Writes a timeline of the run to `path`: a Chrome trace-event JSON
    /// file, which [Perfetto](https://ui.perfetto.dev) and
    /// `chrome://tracing` open.
    ///
    /// It has one track per worker and per device lane, one slice per batch
    /// (named by the stage's label, with its item counts), instant events
    /// where a source parked at the capacity bound (`park`), a worker stole
    /// a task (`steal`) or an idle run flushed a stage's partial state
    /// (`stall flush`), and a counter of the items alive. Timestamps are
    /// microseconds since the run started. The file is created when the
    /// run starts and written when it ends (also when a stage panicked).
    ///
    /// Off by default, and then free: without it, a run pays one check per
    /// timed batch (one in eight of the fine ones). With it, every batch is
    /// timed and each thread records into a buffer of its own.
    ///
    /// ```
    /// use para::{Graph, Options};
    /// let path = std::env::temp_dir().join("para-options-trace.json");
    /// let mut g = Graph::new();
    /// let src = g.source(0..10_000u64);
    /// let squares = g.map(src, |x| x * x);
    /// let mut sum = 0;
    /// g.sink(squares, |x| sum += x);
    /// let report = g.run_with(Options::new().threads(2).trace(&path));
    /// let trace = std::fs::read_to_string(&path).unwrap();
    /// assert!(trace.starts_with("{\"displayTimeUnit\""));
    /// // one slice ("ph":"X") per batch the report counts
    /// let batches: u64 = report.nodes().iter().map(|n| n.batches()).sum();
    /// assert_eq!(trace.matches("\"ph\":\"X\"").count() as u64, batches);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// When the run starts, if the file cannot be created. An error writing
    /// it at the end is printed to stderr (the run's results stand).
    pub fn trace<P: AsRef<Path> + ?Sized>(mut self, path: &'p P) -> Self {
        self.trace = Some(path.as_ref());
        self
    }

    /// Shows a live line on stderr while the run goes: items per second at
    /// the sources and at the sinks, the items alive against the capacity,
    /// and, when every source knows its length (a range, a `Vec`, a
    /// [`Split`](crate::Split)), a bar and an ETA. It is redrawn about ten
    /// times a second by a thread of its own, which ends with the run, and
    /// cleared at the end. It is silent when stderr is not a terminal.
    ///
    /// Needs the `progress` feature of `para` (drawn with
    /// [indicatif](https://docs.rs/indicatif)): without it, calling this is
    /// a compile error that names the feature, so the default build has
    /// neither the dependency nor any code for it.
    ///
    /// On, every batch is timed and the sources and sinks count their items
    /// in shared counters (one atomic add per batch of theirs).
    ///
    /// ```
    /// # #[cfg(feature = "progress")] {
    /// use para::{Graph, Options};
    /// let mut g = Graph::new();
    /// let src = g.source(0..1_000_000u64);
    /// let mut sum = 0;
    /// g.sink(src, |x| sum += x);
    /// g.run_with(Options::new().progress(true)); // a line on a terminal's stderr
    /// assert_eq!(sum, 499_999_500_000);
    /// # }
    /// ```
    pub fn progress<B: ProgressSwitch>(mut self, on: B) -> Self {
        self.progress = on.switched_on();
        self
    }
}

/// What [`Options::progress`] takes: a `bool`, with the `progress` feature.
///
/// Without the feature no type implements it, so `.progress(true)` (and
/// `progress = true` in the macros) is a compile error naming the feature.
#[diagnostic::on_unimplemented(
    message = "the progress line needs the `progress` feature of `para`",
    label = "`progress` is only available with `para = {{ features = [\"progress\"] }}`",
    note = "enable it in Cargo.toml: `para = {{ version = \"..\", features = [\"progress\"] }}`"
)]
pub trait ProgressSwitch {
    /// Whether the progress line is on.
    fn switched_on(self) -> bool;
}

#[cfg(feature = "progress")]
impl ProgressSwitch for bool {
    fn switched_on(self) -> bool {
        self
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("batch", &self.batch)
            .field("pool", &self.pool.map(|_| "ThreadPool"))
            .field("trace", &self.trace)
            .field("progress", &self.progress)
            .finish()
    }
}

impl<'p> Options<'p> {
    /// Resolves the options for a graph of `specs`.
    ///
    /// # Panics
    ///
    /// If `threads`, `capacity` or `batch` is 0.
    pub(crate) fn resolve(&self, specs: &[Spec]) -> Settings<'p> {
        let threads = match (self.threads, self.pool) {
            (Some(threads), _) => threads,
            (None, Some(pool)) => pool.current_num_threads(),
            (None, None) => rayon_core::current_num_threads(),
        };
        assert!(
            threads > 0,
            "para: threads = 0: a run needs at least one worker thread"
        );
        assert!(
            self.capacity != Some(0),
            "para: capacity = 0: no item could ever enter the graph; use at least 1"
        );
        assert!(
            self.batch != Some(0),
            "para: batch = 0: batches need at least one item"
        );
        // The default capacity's unit is the one-thread cap, whatever the
        // run's own cap (see `DEFAULT_TIMED_BATCH`).
        let unit = self.batch.unwrap_or(DEFAULT_BATCH);
        let batch = match self.batch {
            Some(batch) => batch,
            None if threads == 1 => DEFAULT_BATCH,
            None => DEFAULT_TIMED_BATCH,
        };
        let pool = match (self.pool, self.threads) {
            (Some(pool), _) => Pool::Given(pool),
            // Inside a pool: the workers are jobs of that pool (see
            // `Options::threads`).
            (None, Some(_)) if rayon_core::current_thread_index().is_some() => Pool::Current,
            (None, Some(threads)) => Pool::Shared(shared_pool(threads)),
            (None, None) => Pool::Current,
        };
        let capacity = self
            .capacity
            .unwrap_or_else(|| default_capacity(specs, threads, unit));
        Settings {
            threads,
            capacity,
            batch,
            pool,
            trace: self.trace,
            progress: self.progress,
        }
    }
}

/// The capacity of a run without one: see [`Options::capacity`].
fn default_capacity(specs: &[Spec], threads: usize, batch: usize) -> usize {
    let devices: usize = specs
        .iter()
        .map(|spec| match spec.role {
            Role::Device { lanes, batch } => 2 * lanes.max(1) * batch,
            _ => 0,
        })
        .fold(0, usize::saturating_add);
    threads
        .saturating_mul(batch)
        .saturating_mul(4)
        .saturating_add(devices)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The batch cap a run gets: the user's, or 2048 with one thread (sizes
    /// double without timing) and 8192 with more (sizes are timed); the
    /// default capacity's unit stays 2048 either way.
    #[test]
    fn the_batch_cap_depends_on_the_thread_count_unless_set() {
        let resolve = |options: Options<'_>| {
            let settings = options.resolve(&[]);
            (settings.batch, settings.capacity)
        };
        assert_eq!(
            resolve(Options::new().threads(1)),
            (DEFAULT_BATCH, 4 * DEFAULT_BATCH)
        );
        assert_eq!(
            resolve(Options::new().threads(8)),
            (DEFAULT_TIMED_BATCH, 4 * 8 * DEFAULT_BATCH)
        );
        assert_eq!(
            resolve(Options::new().threads(8).batch(100)),
            (100, 4 * 8 * 100)
        );
        assert_eq!(
            resolve(Options::new().threads(1).batch(100)),
            (100, 4 * 100)
        );
    }
}
