//! A pair of parallel maps run as one loop ([`Graph::map_then`], what
//! `pipeline!` builds for `|x| .. => |y| ..`): the first map's node is a
//! `StageNode` whose stage is both closures, `|x| g(f(x))`, and which emits
//! through the second map's wire; the second map's node is a
//! [`FusedMapTail`], which keeps the second map's place in the graph (its
//! label, kind, counters and edges) but never runs.
//!
//! # Why
//!
//! Between two parallel maps, a batch is otherwise written out in full by
//! the first and read back by the second, so every item of a batch is
//! alive at once between them. For large items that is the difference
//! between one buffer that stays in the cache and a batch of them that
//! does not: W6b written as `#[split] 0..n => |i| vec![i as u8; 4096] =>
//! |v| sum(&v)` took 177 ns per item unfused, 147-151 ns fused (rayon's
//! per-item chain: 147-156 ns), at 2 threads. For small items the loop is
//! shorter by one batch's writes and reads (W1: about 4%).
//!
//! # Semantics
//!
//! Nothing a user can see changes but time: both maps are parallel and
//! 1:1, so every item still goes through the first and then the second
//! map, on one worker, with the batch's tag (sequence, origins) as it was;
//! the edge between the two nodes keeps the graph's shape and completion
//! order (the second node closes after the first, and its consumers after
//! it), though no batch travels along it. Both nodes count every item in
//! and out; the loop's time is the first's. A panic in the loop may come
//! from either closure, so the failure message names both
//! (`Node::fused_with`), as a fused fold's does.
//!
//! [`Graph::map_then`]: crate::Graph::map_then

use crate::api::id::NodeId;
use crate::exec::executor::Executor;
use crate::exec::node::Node;
use crate::exec::plan::NodePlan;

/// The second map of a fused pair: a node with edges and counters, whose
/// work the first map's node does.
pub(crate) struct FusedMapTail {
    id: NodeId,
}

impl FusedMapTail {
    pub(crate) fn new(id: NodeId) -> Self {
        FusedMapTail { id }
    }
}

impl Node for FusedMapTail {
    fn prepare(&mut self, _plan: &NodePlan) {}

    fn run(&self, _ex: &mut Executor<'_, '_>, _slot: u32) {
        unreachable!(
            "para internal error: a task ran the fused map {} on its own",
            self.id
        );
    }

    fn on_delivered(&self, _ex: &mut Executor<'_, '_>) {
        unreachable!(
            "para internal error: a batch was delivered to the fused map {}",
            self.id
        );
    }
}
