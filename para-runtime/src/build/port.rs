//! [`Port`]: the typed output of one or more nodes, which the next stage
//! consumes, so that every edge's item type is checked by the compiler.

use crate::api::id::NodeId;
use crate::nodes::outlets::Wire;
use crate::nodes::stream::Flow;
use crate::sync::Arc;
use std::fmt;

/// The output of one or more nodes, carrying items of type `T`.
///
/// A port is consumed by the stage it feeds, so the types of every edge are
/// checked by the compiler: a stage taking `U` cannot be connected to a
/// `Port<T>`. To feed several stages, split it with [`Graph::fan_out`]; to
/// feed one stage from several, join ports with [`Graph::fan_in`].
///
/// [`Graph::fan_out`]: crate::Graph::fan_out
/// [`Graph::fan_in`]: crate::Graph::fan_in
///
/// ```compile_fail
/// let mut g = para::Graph::new();
/// let words = g.source(vec!["a", "b"]);
/// g.sink(words, |n: u64| drop(n)); // error: expected `&str`, found `u64`
/// ```
#[must_use = "a port that feeds no stage drops its items"]
pub struct Port<T> {
    pub(crate) ends: Vec<NodeId>,
    pub(crate) wires: Vec<Wire<T>>,
    /// For each wire, the fan-out branch indices this port took from it,
    /// outermost first (empty when the port is not a fan-out branch). The
    /// edges of a wire are kept sorted by this key, so the branch an ordered
    /// stage puts first is the branch's index in `Graph::fan_out`, not the
    /// order in which the branches happen to be connected.
    pub(crate) branches: Vec<Vec<u32>>,
}

impl<T> Port<T> {
    pub(crate) fn single(id: NodeId, wire: Wire<T>) -> Self {
        Port {
            ends: vec![id],
            wires: vec![wire],
            branches: vec![Vec::new()],
        }
    }

    /// The node emitting into this port.
    ///
    /// # Panics
    ///
    /// If the port joins several nodes (made by
    /// [`Graph::fan_in`](crate::Graph::fan_in)).
    pub fn node(&self) -> NodeId {
        match self.ends.as_slice() {
            [id] => *id,
            _ => panic!(
                "para: this port joins {} nodes; use Port::nodes",
                self.ends.len()
            ),
        }
    }

    /// Every node emitting into this port.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.ends.clone()
    }
}

impl<T> fmt::Debug for Port<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port").field("nodes", &self.ends).finish()
    }
}

/// The stream end of a graph: what reaches `yield`, made by
/// [`Graph::stream`](crate::Graph::stream) or
/// [`Graph::ordered_stream`](crate::Graph::ordered_stream) and handed to
/// [`Graph::spawn`](crate::Graph::spawn) (or its variants), which returns
/// the [`Stream`](crate::Stream) of these items.
#[must_use = "a stream port must be given to `Graph::spawn`"]
pub struct StreamPort<T> {
    pub(crate) node: NodeId,
    pub(crate) flow: Arc<Flow<T>>,
}

impl<T> StreamPort<T> {
    /// The `yield` node.
    pub fn node(&self) -> NodeId {
        self.node
    }
}

impl<T> fmt::Debug for StreamPort<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamPort")
            .field("node", &self.node)
            .finish()
    }
}
