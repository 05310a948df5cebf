//! [`NodePlan`]: what the planner (`crate::build::plan`) decided about one
//! node, in the form the executor and the nodes read it.

use crate::api::id::NodeId;

/// What the analysis of the graph decided about one node.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodePlan {
    pub(crate) label: String,
    /// The node's kind, in the vocabulary of `Report` (`source`, `map`, ...).
    pub(crate) kind: &'static str,
    /// Index of the node's priority level (higher runs first).
    pub(crate) level: usize,
    pub(crate) downstream: Vec<NodeId>,
    /// Initial `pending`: upstream edges, or 1 for a source.
    pub(crate) initial_pending: usize,
    pub(crate) is_source: bool,
    pub(crate) replicate: Option<usize>,
    /// Forward empty batches (an ordered stage downstream counts them).
    pub(crate) forward_empty: bool,
    /// Keep per-item origins (an ordered stage downstream merges paths).
    pub(crate) track_origin: bool,
    /// The node restores source order on its input.
    pub(crate) ordered_input: bool,
    /// Distinct paths from the node's origin (for `ordered_input`).
    pub(crate) paths: usize,
    /// Sources upstream of this node (those a `take` stops).
    pub(crate) sources_above: Vec<NodeId>,
    /// The node may hold items between batches (regroup, device).
    pub(crate) has_partial: bool,
    /// Dedicated device lanes (device nodes only; 0 runs jobs inline).
    pub(crate) lanes: usize,
    /// The run's worker slots (a fold keeps one accumulator per slot).
    pub(crate) workers: usize,
}
