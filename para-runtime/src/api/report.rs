//! What a run reports: per-node counters, a table, and a Graphviz drawing.

use std::fmt;
use std::time::Duration;

/// Counters of one node after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeReport {
    /// The node's id in its graph.
    pub id: usize,
    /// The node's label (given, or `kind#id`).
    pub label: String,
    /// What the node is: `source`, `map`, `sink`, `filter`, `device`, ...
    pub kind: &'static str,
    /// Items the node took in (0 for sources).
    pub items_in: u64,
    /// Items the node emitted (what a sink returns counts too).
    pub items_out: u64,
    /// Batches (tasks) the node ran.
    pub batches: u64,
    /// Time spent inside the node, summed over workers and lanes. Short
    /// batches are timed one in 8 (reading the clock costs about as much as
    /// a batch of a few dozen cheap items), and the total is extrapolated
    /// from those, so for fine-grained stages this is an estimate.
    pub busy: Duration,
}

/// The result of a run: one [`NodeReport`] per node, the edges, the thread
/// count and the wall time.
///
/// ```
/// let mut g = para_runtime::Graph::new();
/// let src = g.source(0..100);
/// let doubled = g.map(src, |x: u64| x * 2);
/// let mut sum = 0;
/// g.sink(doubled, |x| sum += x);
/// let report = g.run();
/// assert_eq!(report.nodes[1].items_in, 100);
/// println!("{report}");
/// assert!(report.to_dot().starts_with("digraph"));
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    /// Per-node counters, indexed by node id.
    pub nodes: Vec<NodeReport>,
    /// Edges as `(from, to)` node ids.
    pub edges: Vec<(usize, usize)>,
    /// Worker threads the run used.
    pub threads: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Most capacity units in use at once (0 when the run had no
    /// `capacity`). A unit is a source item inside the graph; each copy a
    /// fan-out makes counts as one more, so with fan-outs this may exceed
    /// the capacity while the source items alive never do.
    pub peak_alive: usize,
}

impl Report {
    /// The node with the given label, if any.
    pub fn node(&self, label: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.label == label)
    }

    /// A Graphviz `digraph` of the run, each node labelled with its counters.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph para {\n  rankdir=LR;\n  node [shape=box];\n");
        for n in &self.nodes {
            out.push_str(&format!(
                "  n{} [label=\"{}\\n{} | in {} | out {} | {:.3} ms\"];\n",
                n.id,
                escape(&n.label),
                n.kind,
                n.items_in,
                n.items_out,
                n.busy.as_secs_f64() * 1e3
            ));
        }
        for (from, to) in &self.edges {
            out.push_str(&format!("  n{from} -> n{to};\n"));
        }
        out.push_str("}\n");
        out
    }

    /// Items processed per second by the busiest source-to-sink flow: the
    /// largest `items_in` of any node divided by the wall time.
    pub fn throughput(&self) -> f64 {
        let items = self
            .nodes
            .iter()
            .map(|n| n.items_in.max(n.items_out))
            .max()
            .unwrap_or(0);
        items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .nodes
            .iter()
            .map(|n| n.label.chars().count())
            .max()
            .unwrap_or(0)
            .max("stage".len());
        writeln!(
            f,
            "{:>3}  {:<width$}  {:<10}  {:>12}  {:>12}  {:>9}  {:>11}",
            "id", "stage", "kind", "items in", "items out", "batches", "busy ms"
        )?;
        for n in &self.nodes {
            writeln!(
                f,
                "{:>3}  {:<width$}  {:<10}  {:>12}  {:>12}  {:>9}  {:>11.3}",
                n.id,
                n.label,
                n.kind,
                n.items_in,
                n.items_out,
                n.batches,
                n.busy.as_secs_f64() * 1e3
            )?;
        }
        write!(
            f,
            "{} threads, {:.3} ms wall",
            self.threads,
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned() {
        let report = Report {
            nodes: vec![
                NodeReport {
                    id: 0,
                    label: "numbers".into(),
                    kind: "source",
                    items_in: 0,
                    items_out: 10,
                    batches: 2,
                    busy: Duration::from_micros(5),
                },
                NodeReport {
                    id: 1,
                    label: "s".into(),
                    kind: "sink",
                    items_in: 10,
                    items_out: 10,
                    batches: 2,
                    busy: Duration::from_micros(7),
                },
            ],
            edges: vec![(0, 1)],
            threads: 2,
            elapsed: Duration::from_millis(1),
            peak_alive: 0,
        };
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), lines[1].len());
        assert_eq!(lines[1].len(), lines[2].len());
        assert!(report.to_dot().contains("n0 -> n1"));
    }
}
