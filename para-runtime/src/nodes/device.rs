//! Device stages (`#[gpu]`): batches of up to `batch` items run on dedicated
//! lanes, threads that do not count against the run's `threads`.
//!
//! Workers drain the stage's inbox (as the holder of its single claim slot)
//! into an accumulator and cut a *job* whenever it holds `batch` items; the
//! job goes over an unbounded channel to the lanes, so a worker never waits
//! for a device. A partial job is cut when the input ends, when every
//! worker is idle (nothing else is coming), and when the units waiting in
//! partial state reach the capacity bound (nothing else *can* come: the
//! items in the accumulator and in jobs keep their batches' capacity units
//! until their outputs move on; see `protocol::park`). The lane runs the body, checks it
//! returned one output per input, and sends each input batch's outputs on with
//! that batch's tag. An input batch larger than the room left in a job is cut
//! into parts whose outputs are reassembled before they move on, so ordered
//! stages downstream still see whole batches.
//!
//! With `threads = 1` jobs run inline on the worker, keeping the run
//! deterministic.

use crate::api::id::NodeId;
use crate::data::batch::{Batch, Tag};
use crate::data::inbox::Inbox;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;
use crate::exec::run::Culprit;
use crate::exec::stats::Timer;
use crate::nodes::outlets::{hold_slot, notify_delivery, take_outlets, Outlets, Wire};
use crate::protocol::claim::Slots;
use crate::sync::channel::{self, Receiver, Sender};
use crate::sync::{lock, Arc, Mutex};
use std::collections::HashMap;

/// The body of a device stage.
pub(crate) trait DeviceBody<In, Out>: Send + Sync {
    fn call(&self, items: Vec<In>) -> Vec<Out>;
}

/// A body shared by several lanes (`Fn + Sync`).
pub(crate) struct SharedBody<F>(pub(crate) F);

impl<In, Out, F: Fn(Vec<In>) -> Vec<Out> + Send + Sync> DeviceBody<In, Out> for SharedBody<F> {
    fn call(&self, items: Vec<In>) -> Vec<Out> {
        (self.0)(items)
    }
}

/// A body owned by a single lane (`FnMut`, e.g. holding a device handle).
pub(crate) struct ExclusiveBody<F>(pub(crate) Mutex<F>);

impl<In, Out, F: FnMut(Vec<In>) -> Vec<Out> + Send> DeviceBody<In, Out> for ExclusiveBody<F> {
    fn call(&self, items: Vec<In>) -> Vec<Out> {
        let mut f = lock(&self.0);
        (*f)(items)
    }
}

/// Where one input batch's items sit inside a job.
enum Segment {
    /// A whole input batch of `len` items: its tag and weight.
    Whole { len: usize, tag: Tag, weight: usize },
    /// Part `index` of an input batch cut across jobs, whose outputs are
    /// reassembled in `assembly` before they move on.
    Part {
        len: usize,
        assembly: u64,
        index: usize,
    },
}

impl Segment {
    fn len(&self) -> usize {
        match *self {
            Segment::Whole { len, .. } | Segment::Part { len, .. } => len,
        }
    }
}

struct Job<In> {
    items: Vec<In>,
    segments: Vec<Segment>,
}

struct Accumulator<In> {
    items: Vec<In>,
    segments: Vec<Segment>,
    next_assembly: u64,
    /// Capacity units of the input batches waiting here (a batch cut
    /// across jobs counts with its last part, the one that may wait).
    held: usize,
}

/// An input batch whose parts went to several jobs.
struct Assembly<Out> {
    tag: Tag,
    weight: usize,
    parts: Vec<Option<Vec<Out>>>,
    missing: usize,
}

pub(crate) struct DeviceNode<In, Out, B> {
    id: NodeId,
    size: usize,
    inbox: Arc<Inbox<In>>,
    wire: Wire<Out>,
    outlets: Outlets<Out>,
    slots: Slots,
    acc: Mutex<Accumulator<In>>,
    jobs: (Sender<Job<In>>, Receiver<Job<In>>),
    assemblies: Mutex<HashMap<u64, Assembly<Out>>>,
    body: B,
    forward_empty: bool,
    inline: bool,
}

impl<In, Out, B> DeviceNode<In, Out, B> {
    pub(crate) fn new(
        id: NodeId,
        size: usize,
        inbox: Arc<Inbox<In>>,
        wire: Wire<Out>,
        body: B,
    ) -> Self {
        assert!(size > 0, "para: a #[gpu] stage needs batch >= 1");
        DeviceNode {
            wire,
            id,
            size,
            inbox,
            outlets: Outlets::default(),
            slots: Slots::new(1),
            acc: Mutex::new(Accumulator {
                items: Vec::new(),
                segments: Vec::new(),
                next_assembly: 0,
                held: 0,
            }),
            jobs: channel::unbounded(),
            assemblies: Mutex::new(HashMap::new()),
            body,
            forward_empty: false,
            inline: false,
        }
    }
}

impl<In: Send, Out: Send, B: DeviceBody<In, Out>> DeviceNode<In, Out, B> {
    /// Moves one input batch into the accumulator, cutting jobs as it fills.
    fn accept(&self, ex: &mut Executor<'_, '_>, acc: &mut Accumulator<In>, batch: Batch<In>) {
        let Batch { items, tag, weight } = batch;
        let room = self.size - acc.items.len();
        // Whether the units waiting in partial state reached the bound: the
        // accumulator cannot fill any more, so it goes out partial.
        let mut full = false;
        if items.len() <= room {
            acc.held += weight;
            full = ex.run.room.hold_partial(weight);
            acc.segments.push(Segment::Whole {
                len: items.len(),
                tag,
                weight,
            });
            acc.items.extend(items);
        } else {
            let len = items.len();
            let parts = 1 + (len - room).div_ceil(self.size);
            let assembly = acc.next_assembly;
            acc.next_assembly += 1;
            lock(&self.assemblies).insert(
                assembly,
                Assembly {
                    tag,
                    weight,
                    parts: (0..parts).map(|_| None).collect(),
                    missing: parts,
                },
            );
            let mut items = items.into_iter();
            for part in 0..parts {
                let take = (self.size - acc.items.len()).min(items.len());
                acc.segments.push(Segment::Part {
                    len: take,
                    assembly,
                    index: part,
                });
                acc.items.extend(items.by_ref().take(take));
                if part + 1 == parts {
                    acc.held += weight;
                    full = ex.run.room.hold_partial(weight);
                }
                if acc.items.len() == self.size && part + 1 < parts {
                    self.cut_job(ex, acc);
                }
            }
        }
        if acc.items.len() >= self.size || full {
            self.cut_job(ex, acc);
        }
    }

    /// Holds the claim slot: moves every queued batch into the accumulator,
    /// then completes those batches once the accumulator lock is released
    /// (completing may finish the node, which takes that lock). Returns
    /// whether it cut a job first (`flush_first`) or took in any batch.
    fn hold(&self, ex: &mut Executor<'_, '_>, slot: usize, flush_first: bool) -> bool {
        let mut done = 0;
        let mut flushed = false;
        {
            let mut acc = lock(&self.acc);
            if flush_first && !acc.segments.is_empty() {
                flushed = true;
                self.cut_job(ex, &mut acc);
            }
            hold_slot(ex, self.id, &self.slots, slot, &self.inbox, |ex, batch| {
                self.accept(ex, &mut acc, batch);
                done += 1;
            });
        }
        for _ in 0..done {
            ex.complete(self.id);
        }
        // Batches taken in (a lane's output of a job that an earlier stall
        // flush cut upstream, say) may leave a new partial job: a stall flush
        // must report them, or no later stall flushes it and the run hangs
        // (see `Node::flush_stalled`).
        flushed || done > 0
    }

    /// Sends what the accumulator holds to the lanes as one job.
    fn cut_job(&self, ex: &mut Executor<'_, '_>, acc: &mut Accumulator<In>) {
        if acc.segments.is_empty() {
            return;
        }
        ex.run.room.drop_partial(std::mem::take(&mut acc.held));
        let job = Job {
            items: std::mem::replace(&mut acc.items, Vec::with_capacity(self.size)),
            segments: std::mem::take(&mut acc.segments),
        };
        ex.hold(self.id);
        if self.inline {
            self.run_job(ex, job);
        } else if let Err(unsent) = self.jobs.0.send(job) {
            drop(unsent); // unreachable: the node owns the receiver
            ex.complete(self.id);
        }
    }

    /// Runs one job on the calling lane and sends its outputs on.
    fn run_job(&self, ex: &mut Executor<'_, '_>, job: Job<In>) {
        let started = Timer::always();
        let Job { items, segments } = job;
        let in_len = items.len();
        let outputs = if in_len == 0 {
            Vec::new()
        } else {
            self.body.call(items)
        };
        if outputs.len() != in_len {
            panic!(
                "para: device stage '{}' returned {} items for a batch of {}; a #[gpu] body \
                 must return exactly one output per input, in order",
                ex.plan(self.id).label,
                outputs.len(),
                in_len
            );
        }
        // Recorded before emitting, which may run downstream stages inline.
        ex.record(self.id, (in_len, in_len), in_len, started);
        let mut outputs = outputs.into_iter();
        for segment in segments {
            let part: Vec<Out> = outputs.by_ref().take(segment.len()).collect();
            match segment {
                Segment::Whole { tag, weight, .. } => {
                    self.outlets.emit(ex, part, tag, weight, self.forward_empty)
                }
                Segment::Part {
                    assembly, index, ..
                } => self.reassemble(ex, assembly, index, part),
            }
        }
        ex.complete(self.id);
    }

    fn reassemble(&self, ex: &mut Executor<'_, '_>, assembly: u64, index: usize, part: Vec<Out>) {
        let mut assemblies = lock(&self.assemblies);
        let entry = assemblies.get_mut(&assembly).expect("assembly registered");
        entry.parts[index] = Some(part);
        entry.missing -= 1;
        if entry.missing > 0 {
            return;
        }
        let done = assemblies.remove(&assembly).expect("present");
        drop(assemblies);
        let items: Vec<Out> = done.parts.into_iter().flatten().flatten().collect();
        self.outlets
            .emit(ex, items, done.tag, done.weight, self.forward_empty);
    }
}

impl<In: Send, Out: Send, B: DeviceBody<In, Out>> Node for DeviceNode<In, Out, B> {
    fn prepare(&mut self, plan: &NodePlan) {
        self.outlets = take_outlets(&self.wire);
        self.forward_empty = plan.forward_empty;
        self.inline = plan.lanes == 0;
    }

    fn run(&self, ex: &mut Executor<'_, '_>, slot: u32) {
        let slot = slot as usize;
        self.slots.start(slot);
        self.hold(ex, slot, false);
    }

    fn on_delivered(&self, ex: &mut Executor<'_, '_>) {
        notify_delivery(ex, self.id, Some(&self.slots));
    }

    fn finish(&self, ex: &mut Executor<'_, '_>) {
        let mut acc = lock(&self.acc);
        self.cut_job(ex, &mut acc);
    }

    fn flush_stalled(&self, ex: &mut Executor<'_, '_>) -> bool {
        match self.slots.try_take_idle() {
            Some(slot) => self.hold(ex, slot, true),
            None => false,
        }
    }

    fn lane(&self, ex: &mut Executor<'_, '_>, shutdown: &Receiver<()>) {
        loop {
            channel::select! {
                recv(self.jobs.1) -> job => {
                    let Ok(job) = job else { return };
                    if ex.cancelled() {
                        continue; // dropping the job drops its items
                    }
                    let run = ex.run;
                    run.catch(Culprit::Node(self.id), || self.run_job(ex, job));
                }
                recv(shutdown) -> _ => return,
            }
        }
    }
}
