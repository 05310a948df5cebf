//! The [`Node`] trait: the type-erased face of a node that the scheduler
//! drives.
//!
//! The scheduler only sees `dyn Node` and calls it once per task (a node id
//! plus a batch taken from that node's inbox), so dynamic dispatch is paid
//! per batch; inside, every node is monomorphic over its item types and
//! closure. The node kinds themselves live in `crate::nodes`.

use crate::api::id::NodeId;
use crate::exec::executor::Executor;
use crate::exec::plan::NodePlan;
use crate::sync::channel::Receiver;

/// What the scheduler can do with a node.
pub(crate) trait Node: Send + Sync {
    /// Sets up run-time state from the analysed graph (slots, reorder buffer).
    fn prepare(&mut self, plan: &NodePlan);
    /// Schedules the first task of a source; other nodes do nothing.
    fn start(&self, ex: &mut Executor<'_, '_>) {
        let _ = ex;
    }
    /// A source was stopped (`take`, a `?` error) while it may be idle
    /// rather than queued or parked (a feed waiting for input): make sure a
    /// task runs to see the stop. Other nodes do nothing.
    fn wake(&self, ex: &mut Executor<'_, '_>) {
        let _ = ex;
    }
    /// Runs one task: `slot` is the claim slot of a limited stage, or `NO_SLOT`.
    fn run(&self, ex: &mut Executor<'_, '_>, slot: u32);
    /// A batch was delivered to this node's inbox: schedule what must run.
    fn on_delivered(&self, ex: &mut Executor<'_, '_>);
    /// Whether `run(ex, NO_SLOT)` takes a batch handed over directly
    /// ([`Executor::take_batch`]) before it looks in the inbox: an
    /// unlimited parallel stage, which can always run a batch at once.
    fn takes_handoff(&self) -> bool {
        false
    }
    /// For a limited stage: takes one of its idle claim slots for a task
    /// that runs at once on a batch handed over directly (its holder takes
    /// it with [`Executor::handed_batch`] before it drains the inbox), as
    /// [`Slots::try_schedule_idle`](crate::protocol::claim::Slots) says.
    /// `None` (the default): deliver through the inbox.
    fn claim_idle_slot(&self) -> Option<usize> {
        None
    }
    /// All input has been consumed: emit whatever the stage still holds.
    fn finish(&self, ex: &mut Executor<'_, '_>) {
        let _ = ex;
    }
    /// Every worker is idle: emit partial state (a partial group or device
    /// batch). Returns whether anything was emitted or taken in: either may
    /// leave new partial state that needs another flush once every worker is
    /// idle again, which the crew protocol (`protocol::crew`) only reports if
    /// told.
    fn flush_stalled(&self, ex: &mut Executor<'_, '_>) -> bool {
        let _ = ex;
        false
    }
    /// The node this stage runs fused with, in one loop: the fold after it
    /// (`nodes::fold`) or the second map of a pair (`nodes::fused_map`). A
    /// panic in this node may be the other's, so the failure message names
    /// both.
    fn fused_with(&self) -> Option<NodeId> {
        None
    }
    /// How many items a source will yield, if it knows exactly (the
    /// progress line's ETA); `None` for other nodes.
    #[cfg(feature = "progress")]
    fn known_len(&self) -> Option<u64> {
        None
    }
    /// The body of one device lane (device nodes only): runs jobs until
    /// `shutdown` disconnects.
    fn lane(&self, ex: &mut Executor<'_, '_>, shutdown: &Receiver<()>) {
        let _ = (ex, shutdown);
    }
}
