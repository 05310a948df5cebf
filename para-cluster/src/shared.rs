//! What the operators of one worker's dataflow share with the loop that
//! drives it: the run's failure and stop flags, the control messages to
//! broadcast, the stage names, the sources waiting on capacity, and the
//! erased stage bodies that must be dropped before the run returns.

use serde::{Deserialize, Serialize};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use timely::scheduling::Activator;

/// A message every worker receives (broadcast on the control stream).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Control {
    /// A `take`/`take_while` is satisfied: sources stop.
    Stop,
    /// A stage panicked: the message names it; sources stop and every
    /// stage drops its input.
    Fail(String),
}

/// Something holding an erased stage body, emptied by [`Shared::clear`].
pub(crate) trait Clear {
    fn clear(&self);
}

impl<B: ?Sized> Clear for RefCell<Option<Box<B>>> {
    fn clear(&self) {
        // Never borrowed here: bodies are called only inside a worker step
        // (each call's borrow ends before the step returns), and the slots
        // are cleared only after the steps. Were one still borrowed, a body
        // that borrows the caller's locals would outlive them: abort rather
        // than go on.
        match self.try_borrow_mut() {
            Ok(mut slot) => drop(slot.take()),
            Err(_) => {
                eprintln!("para-cluster: a stage body is in use at the end of its run");
                std::process::abort();
            }
        }
    }
}

/// Per-worker state of one cluster run.
pub(crate) struct Shared {
    pub(crate) index: usize,
    pub(crate) peers: usize,
    pub(crate) process: usize,
    failure: RefCell<Option<String>>,
    /// The payload of a stage panic on this worker, resumed on this worker.
    payload: RefCell<Option<Box<dyn Any + Send>>>,
    stop: Cell<bool>,
    outbox: RefCell<Vec<Control>>,
    names: RefCell<Vec<String>>,
    blocked: RefCell<Vec<Activator>>,
    slots: RefCell<Vec<Rc<dyn Clear>>>,
}

impl Shared {
    pub(crate) fn new(index: usize, peers: usize, process: usize) -> Self {
        Shared {
            index,
            peers,
            process,
            failure: RefCell::new(None),
            payload: RefCell::new(None),
            stop: Cell::new(false),
            outbox: RefCell::new(Vec::new()),
            names: RefCell::new(Vec::new()),
            blocked: RefCell::new(Vec::new()),
            slots: RefCell::new(Vec::new()),
        }
    }

    /// A new node id, named `kind` until labelled.
    pub(crate) fn node(&self, kind: &str) -> usize {
        let mut names = self.names.borrow_mut();
        let id = names.len();
        names.push(format!("stage {id} ({kind})"));
        names.len() - 1
    }

    pub(crate) fn label(&self, node: usize, label: &str) {
        if let Some(name) = self.names.borrow_mut().get_mut(node) {
            *name = format!("stage '{label}");
        }
    }

    /// Whether a stage failed anywhere (as far as this worker knows).
    pub(crate) fn failed(&self) -> bool {
        self.failure.borrow().is_some()
    }

    /// Whether sources should stop.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.get() || self.failed()
    }

    /// A stage satisfied (`take`): stop the sources everywhere.
    pub(crate) fn request_stop(&self) {
        if !self.stop.replace(true) {
            self.outbox.borrow_mut().push(Control::Stop);
        }
    }

    /// Node `node` panicked on this worker with `payload`.
    pub(crate) fn stage_panicked(&self, node: usize, payload: Box<dyn Any + Send>) {
        let name = self
            .names
            .borrow()
            .get(node)
            .cloned()
            .unwrap_or_else(|| format!("stage {node}"));
        let message = format!(
            "{name} panicked on process {} (worker {}): {}",
            self.process,
            self.index,
            crate::exec::panic_message(&*payload)
        );
        if self.failure.borrow().is_none() {
            *self.failure.borrow_mut() = Some(message.clone());
            *self.payload.borrow_mut() = Some(payload);
        }
        self.outbox.borrow_mut().push(Control::Fail(message));
    }

    /// A control message arrived from some worker (itself included).
    pub(crate) fn receive(&self, message: Control) {
        match message {
            Control::Stop => self.stop.set(true),
            Control::Fail(m) => {
                let mut failure = self.failure.borrow_mut();
                if failure.is_none() {
                    *failure = Some(m);
                }
            }
        }
    }

    pub(crate) fn take_outbox(&self) -> Vec<Control> {
        std::mem::take(&mut *self.outbox.borrow_mut())
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    pub(crate) fn take_payload(&self) -> Option<Box<dyn Any + Send>> {
        self.payload.borrow_mut().take()
    }

    /// A source waits for capacity: wake it when the probe moves.
    pub(crate) fn park(&self, activator: Activator) {
        self.blocked.borrow_mut().push(activator);
    }

    pub(crate) fn wake_parked(&self) {
        for a in self.blocked.borrow_mut().drain(..) {
            a.activate();
        }
    }

    /// Keeps `slot` to be emptied by [`Shared::clear`].
    pub(crate) fn keep(&self, slot: Rc<dyn Clear>) {
        self.slots.borrow_mut().push(slot);
    }

    /// Drops every erased stage body and source of the run.
    pub(crate) fn clear(&self) {
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        for slot in &slots {
            slot.clear();
        }
    }
}
