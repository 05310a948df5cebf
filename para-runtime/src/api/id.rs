//! [`NodeId`]: the one way a node is named, from the builder to the report.

use std::fmt;

/// The id of a node in a [`Graph`](crate::Graph): its index, in creation
/// order (also its index in [`Report::nodes`](crate::Report::nodes)).
///
/// ```
/// let mut g = para::Graph::new();
/// let src = g.source(0..3);
/// let sink = g.sink(src, |_x: i32| ());
/// assert_eq!(sink.index(), 1);
/// assert_eq!(sink.to_string(), "#1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The id of the node at `index`.
    ///
    /// # Panics
    ///
    /// If `index` does not fit in 32 bits (a task names its node in 32 bits
    /// so that a task stays one word).
    pub(crate) fn new(index: usize) -> Self {
        match u32::try_from(index) {
            Ok(index) => NodeId(index),
            Err(_) => panic!("para: a graph holds at most {} nodes", u32::MAX),
        }
    }

    /// The index of the node (also its index in
    /// [`Report::nodes`](crate::Report::nodes)).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
