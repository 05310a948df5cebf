//! The live progress line (`Options::progress`, SPEC section 7; the
//! `progress` feature): items per second at the sources and at the sinks,
//! the items alive against the capacity, and a bar with an ETA when every
//! source knows its length.
//!
//! The run's threads count the items of sources (out) and sinks (in) in
//! [`Live`]'s counters when they record a batch (`Executor::record`, inside
//! the one check a watched run makes per batch); a [`Ticker`] thread reads
//! them about ten times a second and redraws the line with indicatif. The
//! ticker starts only when stderr is a terminal, and ends (clearing the
//! line) when the run ends.
//!
//! May import: `exec`, `protocol`, `api`, `sync`.

use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::protocol::park::Capacity;
use crate::sync::channel::{self, Sender};
use crate::sync::thread::{Builder, JoinHandle};
use crate::sync::{Arc, AtomicU64, CachePadded, Ordering};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// What a node counts for the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A source: items out.
    Source,
    /// A node with no downstream (a sink, a `yield`): items in.
    Sink,
    /// Anything else counts nothing.
    Inner,
}

/// The counters the line reads, shared by the run's threads and the
/// ticker.
pub(crate) struct Live {
    counters: Arc<Counters>,
}

struct Counters {
    roles: Box<[Role]>,
    /// Per node, items counted by its role. Relaxed adds: a tally read by
    /// the ticker, ordering nothing.
    counts: Box<[CachePadded<AtomicU64>]>,
    /// The items every source will yield, if each knows exactly.
    total: Option<u64>,
}

impl Live {
    /// Counters for a run of `nodes` planned as `plans`.
    pub(crate) fn new(plans: &[NodePlan], nodes: &[Box<dyn Node + '_>]) -> Self {
        let roles: Box<[Role]> = plans
            .iter()
            .map(|p| {
                if p.is_source {
                    Role::Source
                } else if p.downstream.is_empty() {
                    Role::Sink
                } else {
                    Role::Inner
                }
            })
            .collect();
        let total = plans
            .iter()
            .zip(nodes)
            .filter(|(p, _)| p.is_source)
            .map(|(_, n)| n.known_len())
            .sum::<Option<u64>>();
        Live {
            counters: Arc::new(Counters {
                counts: roles
                    .iter()
                    .map(|_| CachePadded::new(AtomicU64::new(0)))
                    .collect(),
                roles,
                total,
            }),
        }
    }

    /// Node `id` ran a batch taking in `items_in` items and emitting
    /// `items_out`.
    pub(crate) fn count(&self, id: crate::api::id::NodeId, items_in: usize, items_out: usize) {
        let c = &self.counters;
        let n = match c.roles[id.index()] {
            Role::Source => items_out,
            Role::Sink => items_in,
            Role::Inner => return,
        };
        c.counts[id.index()].fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Counters {
    /// Items out of the sources and into the sinks so far.
    fn sums(&self) -> (u64, u64) {
        let mut sums = (0, 0);
        for (role, count) in self.roles.iter().zip(self.counts.iter()) {
            let n = count.load(Ordering::Relaxed);
            match role {
                Role::Source => sums.0 += n,
                Role::Sink => sums.1 += n,
                Role::Inner => {}
            }
        }
        sums
    }
}

/// The thread that redraws the line; [`Ticker::stop`] ends it.
pub(crate) struct Ticker {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Ticker {
    /// Starts redrawing the line for `live`, with the run's capacity bound
    /// `room`; `None` (and no thread) when stderr is not a terminal.
    pub(crate) fn start(live: &Live, room: Arc<Capacity>) -> Option<Ticker> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let counters = live.counters.clone();
        let (stop, stopped) = channel::bounded::<()>(1);
        let thread = Builder::new()
            .name("para-progress".into())
            .spawn(move || {
                let bar = bar(counters.total);
                let started = Instant::now();
                let mut rates = Rates::new(started);
                loop {
                    let (sourced, sunk) = counters.sums();
                    let now = Instant::now();
                    let (source_rate, sink_rate) = rates.update(now, sourced, sunk);
                    bar.set_position(sourced);
                    bar.set_message(line(
                        source_rate,
                        sink_rate,
                        sunk,
                        room.sample_alive(),
                        room.capacity(),
                    ));
                    // A message or a disconnect: the run is over.
                    if !matches!(stopped.recv_timeout(TICK), Err(e) if e.is_timeout()) {
                        break;
                    }
                }
                bar.finish_and_clear();
            })
            .ok()?;
        Some(Ticker { stop, thread })
    }

    /// Ends the thread (the run is over) and waits for it.
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// The bar: with the sources' total, a bar with position and ETA; without
/// it, a spinner.
fn bar(total: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr_with_hz(10);
    match total {
        Some(total) => {
            let bar = ProgressBar::with_draw_target(Some(total), target);
            let style = ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:24} {human_pos}/{human_len} in · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, target);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {human_pos} in · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar
        }
    }
}

/// The line's message.
fn line(source_rate: f64, sink_rate: f64, sunk: u64, alive: usize, capacity: usize) -> String {
    let cap = if capacity == usize::MAX {
        "unbounded".to_string()
    } else {
        human(capacity as f64)
    };
    format!(
        "sources {}/s · sinks {}/s ({} out) · alive {}/{cap}",
        human(source_rate),
        human(sink_rate),
        human(sunk as f64),
        human(alive as f64),
    )
}

/// Items per second over the last second: the counts now against the
/// oldest of the samples taken within the last [`WINDOW`].
struct Rates {
    samples: VecDeque<(Instant, u64, u64)>,
}

/// How far back the rates look.
const WINDOW: Duration = Duration::from_secs(1);

impl Rates {
    fn new(now: Instant) -> Self {
        Rates {
            samples: VecDeque::from([(now, 0, 0)]),
        }
    }

    fn update(&mut self, now: Instant, sourced: u64, sunk: u64) -> (f64, f64) {
        // Keep one sample at least a window old, if there is one, and
        // nothing older than it.
        while self.samples.len() > 1 && now.duration_since(self.samples[1].0) >= WINDOW {
            self.samples.pop_front();
        }
        let (then, sourced_then, sunk_then) = self.samples[0];
        self.samples.push_back((now, sourced, sunk));
        let dt = now.duration_since(then).as_secs_f64();
        // Over a few ms (the first tick), a burst would read as a huge rate.
        if dt < 0.05 {
            return (0.0, 0.0);
        }
        (
            (sourced - sourced_then) as f64 / dt,
            (sunk - sunk_then) as f64 / dt,
        )
    }
}

/// `x` with a k / M / G suffix and three significant digits.
fn human(x: f64) -> String {
    let (v, suffix) = if x >= 1e9 {
        (x / 1e9, "G")
    } else if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        return format!("{x:.0}");
    };
    if v >= 100.0 {
        format!("{v:.0}{suffix}")
    } else if v >= 10.0 {
        format!("{v:.1}{suffix}")
    } else {
        format!("{v:.2}{suffix}")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(human(999.0), "999");
        assert_eq!(human(1234.0), "1.23k");
        assert_eq!(human(45_600_000.0), "45.6M");
        assert_eq!(human(123e9), "123G");
    }

    #[test]
    fn rates_look_back_one_second() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = Rates::new(t0);
        assert_eq!(r.update(ms(500), 1000, 500), (2000.0, 1000.0));
        // From the start (t0 is still within reach of the window).
        assert_eq!(r.update(ms(1000), 1000, 500), (1000.0, 500.0));
        // From 500 ms: the start is more than a window back.
        assert_eq!(r.update(ms(1600), 1000, 500), (0.0, 0.0));
        assert_eq!(r.update(ms(2000), 2000, 500), (1000.0, 0.0));
    }
}
