//! Starting a cluster: timely's configuration and workers, the closure that
//! runs on each of them, and how a failure anywhere becomes an `Err` on
//! every process within a bounded time.
//!
//! `execute` runs timely on a driver thread and waits on a channel: first
//! for every local worker to start (timely connects the processes before it
//! starts any worker, and retries a missing peer forever, so the wait is
//! bounded by [`Config::connect_timeout`]), then for every local worker's
//! result, then, for at most [`Config::grace`], for timely's own shutdown.
//! A thread still stuck in timely after that is left behind: the caller
//! gets its `Err` and may exit.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to start a cluster: timely's configuration (workers per process,
/// processes, this process's index, the peers' addresses) and the time
/// limits of the start and the shutdown.
#[derive(Clone, Debug)]
pub struct Config {
    timely: timely::Config,
    connect_timeout: Duration,
    grace: Duration,
}

impl Config {
    /// Parses timely's own flags: `-w` workers per process, `-n`
    /// processes, `-p` this process's index, `-h` a hostfile of
    /// `host:port` lines (without one, process `i` listens on
    /// `localhost:2101+i`). Arguments that are not flags (the program name)
    /// are ignored; an unknown flag is an error.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Self, Error> {
        let timely = timely::Config::from_args(args.into_iter()).map_err(Error::Config)?;
        Ok(Config::from_timely(timely))
    }

    /// One process with `workers` worker threads.
    pub fn process(workers: usize) -> Self {
        Config::from_timely(timely::Config::process(workers))
    }

    /// A configuration built with timely's own API.
    pub fn from_timely(timely: timely::Config) -> Self {
        Config {
            timely,
            connect_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(10),
        }
    }

    /// How long to wait for every process to connect before giving up
    /// (default 60 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to wait for timely's network threads to shut down after
    /// every local worker has returned (default 10 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// (this process's index, processes, workers per process).
    fn shape(&self) -> (usize, usize, usize) {
        use timely::CommunicationConfig as C;
        match &self.timely.communication {
            C::Thread => (0, 1, 1),
            C::Process(n) | C::ProcessBinary(n) => (0, 1, *n),
            C::Cluster {
                threads,
                process,
                addresses,
                ..
            } => (*process, addresses.len(), *threads),
        }
    }
}

/// Why a cluster run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The flags or the configuration were not understood.
    Config(String),
    /// Not every process connected within [`Config::connect_timeout`].
    Connect(Duration),
    /// A worker failed: a stage panicked (the message names it), a peer
    /// died or the network failed, or the closure itself panicked.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "bad cluster configuration: {e}"),
            Error::Connect(t) => write!(
                f,
                "the cluster's processes did not all connect within {:.1} s",
                t.as_secs_f64()
            ),
            Error::Failed(e) => write!(f, "the cluster run failed: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// One timely worker, as the closure given to [`execute`] sees it: pass it
/// to `pipeline!(cluster = cx, ...)`.
pub struct Cluster<'w> {
    pub(crate) worker: &'w mut timely::worker::Worker,
    pub(crate) process: usize,
    pub(crate) processes: usize,
}

impl Cluster<'_> {
    /// This worker's index among all workers of all processes.
    pub fn index(&self) -> usize {
        self.worker.index()
    }

    /// The number of workers of all processes.
    pub fn peers(&self) -> usize {
        self.worker.peers()
    }

    /// This process's index (`-p`).
    pub fn process(&self) -> usize {
        self.process
    }

    /// The number of processes (`-n`).
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The timely worker, for dataflows of one's own.
    pub fn worker(&mut self) -> &mut timely::worker::Worker {
        self.worker
    }
}

/// The panic payload of a `pipeline!` that failed on a cluster: the
/// message, and whether the dataflow still ended in step on every worker
/// (then the peers know already, and the worker thread may end cleanly).
#[derive(Debug)]
pub(crate) struct RunFailure {
    pub(crate) message: String,
    pub(crate) in_step: bool,
}

/// A panic payload as text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(f) = payload.downcast_ref::<RunFailure>() {
        f.message.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

enum Event<R> {
    Started,
    Done(usize, Result<R, String>),
    DriverEnd(Result<(), String>),
}

/// Runs `f` on every worker of a cluster configured by timely's flags in
/// `args` (see [`Config::from_args`]). The value is `Ok(Some(r))` on
/// process 0, where `r` is what worker 0's closure returned, `Ok(None)` on
/// the other processes, and `Err` when the cluster failed (on every
/// process: a stage that panics anywhere ends the run everywhere).
///
/// ```
/// use para::prelude::*;
/// let total = para::cluster::execute_from_args(["-w", "2"].map(String::from), |cx| {
///     let mut total = 0u64;
///     pipeline!(cluster = cx, #[split] 0..1000u64 => |x| x * 2 => |x| total += x);
///     total
/// });
/// assert_eq!(total, Ok(Some(999_000)));
/// ```
pub fn execute_from_args<I, R, F>(args: I, f: F) -> Result<Option<R>, Error>
where
    I: IntoIterator<Item = String>,
    R: Send + 'static,
    F: Fn(&mut Cluster<'_>) -> R + Send + Sync + 'static,
{
    execute(Config::from_args(args)?, f)
}

/// Runs `f` on every worker of the cluster `config` describes; see
/// [`execute_from_args`].
pub fn execute<R, F>(config: Config, f: F) -> Result<Option<R>, Error>
where
    R: Send + 'static,
    F: Fn(&mut Cluster<'_>) -> R + Send + Sync + 'static,
{
    let (process, processes, local) = config.shape();
    if local == 0 {
        return Err(Error::Config("no workers (-w 0)".into()));
    }
    let (tx, rx) = mpsc::channel::<Event<R>>();
    let f = Arc::new(f);
    let worker_tx = tx.clone();
    let timely_config = config.timely.clone();
    let driver = std::thread::Builder::new()
        .name("para-cluster-driver".into())
        .spawn(move || {
            let run = catch_unwind(AssertUnwindSafe(|| {
                let guards = timely::execute(timely_config, move |worker| {
                    let _ = worker_tx.send(Event::Started);
                    let index = worker.index();
                    let mut cx = Cluster {
                        worker,
                        process,
                        processes,
                    };
                    let result = catch_unwind(AssertUnwindSafe(|| f(&mut cx)));
                    match result {
                        Ok(r) => {
                            let _ = worker_tx.send(Event::Done(index, Ok(r)));
                        }
                        Err(payload) => {
                            let message = panic_message(&*payload);
                            let _ = worker_tx.send(Event::Done(index, Err(message)));
                            let in_step = payload
                                .downcast_ref::<RunFailure>()
                                .is_some_and(|f| f.in_step);
                            if !in_step {
                                // Die panicking: timely then poisons this
                                // worker's channels, its network threads
                                // close their sockets, and the peers fail
                                // instead of waiting for this worker.
                                resume_unwind(payload);
                            }
                        }
                    }
                })?;
                let joined = guards.join();
                let failed: Vec<String> = joined.into_iter().filter_map(Result::err).collect();
                if failed.is_empty() {
                    Ok(())
                } else {
                    Err(failed.join("; "))
                }
            }));
            let end = match run {
                Ok(r) => r,
                Err(payload) => Err(panic_message(&*payload)),
            };
            let _ = tx.send(Event::DriverEnd(end));
        })
        .map_err(|e| Error::Failed(format!("could not start the driver thread: {e}")))?;
    // The driver thread is never joined: after a failure it may be stuck
    // in timely's network code, and the caller must not wait for it.
    drop(driver);

    let deadline = Instant::now() + config.connect_timeout;
    let mut started = 0;
    let mut results: Vec<(usize, Result<R, String>)> = Vec::new();
    let mut driver_end: Option<Result<(), String>> = None;
    while started < local {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::Started) => started += 1,
            Ok(Event::Done(i, r)) => results.push((i, r)),
            Ok(Event::DriverEnd(Err(e))) => {
                return Err(if started == 0 {
                    Error::Config(e)
                } else {
                    Error::Failed(e)
                })
            }
            Ok(Event::DriverEnd(Ok(()))) => {
                driver_end = Some(Ok(()));
                break;
            }
            Err(_) => return Err(Error::Connect(config.connect_timeout)),
        }
    }
    // Every local worker reports exactly once (its closure is caught).
    // After a failure, the others get a bounded time: a worker of this
    // process may wait for the failed one forever.
    while results.len() < local && driver_end.is_none() {
        let event = if results.iter().any(|(_, r)| r.is_err()) {
            match rx.recv_timeout(config.grace) {
                Ok(event) => event,
                Err(_) => break,
            }
        } else {
            match rx.recv() {
                Ok(event) => event,
                Err(_) => break,
            }
        };
        match event {
            Event::Done(i, r) => results.push((i, r)),
            Event::Started => {}
            Event::DriverEnd(e) => driver_end = Some(e),
        }
    }
    if driver_end.is_none() {
        // Let timely shut its network down, for a bounded time.
        if let Ok(Event::DriverEnd(e)) = rx.recv_timeout(config.grace) {
            driver_end = Some(e);
        }
    }
    results.sort_by_key(|(i, _)| *i);
    if let Some(message) = results.iter().find_map(|(_, r)| r.as_ref().err()) {
        return Err(Error::Failed(message.clone()));
    }
    if results.len() < local {
        let why = match driver_end {
            Some(Err(e)) => e,
            _ => "a worker ended without a result".into(),
        };
        return Err(Error::Failed(why));
    }
    let first = results.into_iter().next().map(|(i, r)| (i, r.ok()));
    match first {
        Some((0, Some(r))) => Ok(Some(r)),
        _ => Ok(None),
    }
}
