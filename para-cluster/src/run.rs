//! Running one cluster graph on one worker: build the timely dataflow,
//! step the worker until the dataflow is complete on every worker, then
//! drop every stage body before returning, also when something panics.
//!
//! Besides the stages, the dataflow has a control stream: each worker's
//! `take` and stage panics are broadcast on it, so every worker stops its
//! sources or fails. A worker closes its control input only once its
//! probe says the sinks are done, so the dataflow completes only after
//! every control message has reached every worker: a run that completes
//! has seen every failure.

use crate::exec::{panic_message, Cluster, RunFailure};
use crate::graph::{ClusterGraph, Options, Time};
use crate::shared::{Control, Shared};
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;
use timely::dataflow::operators::core::Input as _;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::Inspect;
use timely::dataflow::ProbeHandle;

/// Empties the run's slots when dropped: normal return or unwinding.
struct ClearOnDrop<'r>(&'r Shared);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// Builds a graph with `build` on this worker and runs it to the end on
/// every worker: the builder form of `pipeline!(cluster = cx, ...)`, for
/// graphs whose shape is known only at run time. Every worker must build
/// the same graph. Panics (on every worker) when a stage panicked
/// anywhere, with a message naming the stage.
///
/// ```
/// use para::cluster::{execute, run, Config, Options};
/// let out = execute(Config::process(2), |cx| {
///     let mut out = Vec::new();
///     run(cx, Options::new().batch(4), |g| {
///         let src = g.source(0..10u64);
///         let mut branches = g.fan_out(src, 2).into_iter();
///         let a = g.map(branches.next().unwrap(), |x| x * 10);
///         let b = g.map(branches.next().unwrap(), |x| x + 1);
///         let both = g.fan_in([a, b]);
///         g.ordered_sink(both, |x| out.push(x));
///     });
///     out
/// });
/// assert_eq!(out.unwrap().unwrap()[..4], [0, 1, 10, 2]);
/// ```
pub fn run<'a, B>(cx: &mut Cluster<'_>, options: Options, build: B)
where
    B: for<'s> FnOnce(&mut ClusterGraph<'s, 'a>),
{
    let worker = &mut *cx.worker;
    let shared = Rc::new(Shared::new(worker.index(), worker.peers(), cx.process));
    let _clear = ClearOnDrop(&shared);
    let probe: ProbeHandle<Time> = ProbeHandle::new();
    let dataflow = worker.next_dataflow_index();
    let control = worker.dataflow::<Time, _, _>(|scope| {
        let (handle, stream) = scope.new_input::<Vec<Control>>();
        let receiver = Rc::clone(&shared);
        let _ = stream
            .broadcast()
            .inspect(move |m: &Control| receiver.receive(m.clone()));
        let mut g = ClusterGraph::new(scope, Rc::clone(&shared), options, probe.clone());
        build(&mut g);
        g.finish();
        handle
    });
    let mut control = Some(control);
    let driven = catch_unwind(AssertUnwindSafe(|| {
        while worker.installed_dataflows().contains(&dataflow) {
            let outbox = shared.take_outbox();
            if let Some(input) = control.as_mut() {
                for message in outbox {
                    input.send(message);
                }
                input.flush();
                if probe.done() {
                    // The sinks are done everywhere: the control input ends.
                    control = None;
                }
            }
            shared.wake_parked();
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
    }));
    drop(control);
    if let Err(payload) = driven {
        // timely itself failed (a peer died: its channels are poisoned).
        // The bodies are dropped (`_clear`), then the dataflow, in case
        // timely's own drop panics too.
        shared.clear();
        let _ = catch_unwind(AssertUnwindSafe(|| worker.drop_dataflow(dataflow)));
        let message = match shared.failure() {
            Some(stage) => stage,
            None => format!("the cluster's network failed: {}", panic_message(&*payload)),
        };
        panic_any(RunFailure {
            message,
            in_step: false,
        });
    }
    if let Some(message) = shared.failure() {
        // Every worker gets here with the first failure it heard of; the
        // dataflow ended in step everywhere, so no worker needs the
        // network's failure cascade.
        shared.clear();
        drop(shared.take_payload());
        panic_any(RunFailure {
            message,
            in_step: true,
        });
    }
}
