//! What a run reports: per-node counters, a table, and a Graphviz drawing.
//!
//! The figures sit behind accessor methods, so a figure added later is not a
//! breaking change for code that reads the others.

use crate::api::id::NodeId;
use std::fmt;
use std::time::Duration;

/// Counters of one node after a run.
///
/// ```
/// use para::Graph;
///
/// let mut g = Graph::new();
/// let numbers = g.source(0..10u32);
/// let odd = g.filter(numbers, |x| x % 2 == 1);
/// let sink = g.sink(odd, |_x| ());
/// let report = g.run();
/// let filter = &report.nodes()[1];
/// assert_eq!((filter.kind(), filter.label()), ("filter", "filter#1"));
/// assert_eq!((filter.items_in(), filter.items_out()), (10, 5));
/// assert_eq!(report.nodes()[sink.index()].id(), sink);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeReport {
    id: NodeId,
    label: String,
    kind: &'static str,
    items_in: u64,
    items_out: u64,
    batches: u64,
    busy: Duration,
}

impl NodeReport {
    /// The counters of one node; `busy` summed over workers and lanes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: NodeId,
        label: String,
        kind: &'static str,
        items_in: u64,
        items_out: u64,
        batches: u64,
        busy: Duration,
    ) -> Self {
        NodeReport {
            id,
            label,
            kind,
            items_in,
            items_out,
            batches,
            busy,
        }
    }

    /// The node's id in its graph (the [`NodeId`] the builder returned).
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node's label: the one given (`'name:` in `pipeline!`,
    /// [`Graph::label`](crate::Graph::label)), or `kind#index`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// What the node is. One vocabulary, shared by the table, the DOT
    /// drawing and the default labels:
    ///
    /// | kind | made by |
    /// | --- | --- |
    /// | `source` | [`Graph::source`](crate::Graph::source) |
    /// | `split` | [`Graph::split_source`](crate::Graph::split_source) (`#[split]`) |
    /// | `feed` | [`Graph::feed_source`](crate::Graph::feed_source) (a [`Feed`](crate::Feed) as a source) |
    /// | `map` | [`Graph::map`](crate::Graph::map) |
    /// | `serial` | [`Graph::serial_map`](crate::Graph::serial_map) (`#[serial]`) |
    /// | `ordered` | [`Graph::ordered_map`](crate::Graph::ordered_map) (`#[ordered]`) |
    /// | `sink` | [`Graph::sink`](crate::Graph::sink), [`Graph::parallel_sink`](crate::Graph::parallel_sink) (`#[parallel]`) |
    /// | `ordered sink` | [`Graph::ordered_sink`](crate::Graph::ordered_sink) |
    /// | `yield`, `ordered yield` | [`Graph::stream`](crate::Graph::stream), [`Graph::ordered_stream`](crate::Graph::ordered_stream) (`yield`, `#[ordered] yield`) |
    /// | `device` | [`Graph::device`](crate::Graph::device), [`Graph::device_mut`](crate::Graph::device_mut) (`#[gpu]`) |
    /// | `fold` | [`Graph::fold`](crate::Graph::fold) ([`fold`](crate::combinators::fold)) |
    /// | `filter`, `filter_map`, `flat_map`, `inspect`, `batch`, `unbatch`, `take`, `take_while` | the [combinators](crate::combinators) |
    /// | `stage`, or what [`Stage::name`](crate::Stage::name) returns | [`Graph::stage`](crate::Graph::stage) with a stage of your own |
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Items the node took in (0 for sources).
    pub fn items_in(&self) -> u64 {
        self.items_in
    }

    /// Items the node emitted (what a sink returns counts too, so a sink's
    /// `items_out` equals its `items_in`).
    pub fn items_out(&self) -> u64 {
        self.items_out
    }

    /// Batches (tasks) the node ran.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// Time spent inside the node, summed over workers and lanes. Short
    /// batches are timed one in 8 (reading the clock costs about as much as
    /// a batch of a few dozen cheap items), and the total is extrapolated
    /// from those, so for fine-grained stages this is an estimate.
    pub fn busy(&self) -> Duration {
        self.busy
    }
}

/// The result of a run: one [`NodeReport`] per node, the edges, the thread
/// count and the wall time. `Display` prints a table; [`Report::to_dot`]
/// draws the graph.
///
/// ```
/// use para::Graph;
///
/// let mut g = Graph::new();
/// let src = g.source(0..100);
/// let doubled = g.map(src, |x: u64| x * 2);
/// let map = doubled.node();
/// let mut sum = 0;
/// let sink = g.sink(doubled, |x| sum += x);
/// let report = g.run();
/// assert_eq!(report.nodes()[map.index()].items_in(), 100);
/// assert_eq!(report.edges().last(), Some(&(map, sink)));
/// println!("{report}");
/// assert!(report.to_dot().starts_with("digraph"));
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    nodes: Vec<NodeReport>,
    edges: Vec<(NodeId, NodeId)>,
    threads: usize,
    elapsed: Duration,
    peak_alive: usize,
}

impl Report {
    /// The report of a finished run.
    pub(crate) fn new(
        nodes: Vec<NodeReport>,
        edges: Vec<(NodeId, NodeId)>,
        threads: usize,
        elapsed: Duration,
        peak_alive: usize,
    ) -> Self {
        Report {
            nodes,
            edges,
            threads,
            elapsed,
            peak_alive,
        }
    }

    /// A report of no run: no node, no edge, 0 threads, no time. For code
    /// the macros generate after a compile error, so that the expression
    /// still has its type. Not a public API.
    #[doc(hidden)]
    pub fn empty() -> Self {
        Report::new(Vec::new(), Vec::new(), 0, Duration::ZERO, 0)
    }

    /// Per-node counters, indexed by node id
    /// ([`NodeId::index`](crate::NodeId::index)).
    pub fn nodes(&self) -> &[NodeReport] {
        &self.nodes
    }

    /// Edges as `(from, to)` node ids, in the order of each node's
    /// downstream stages (fan-out branch order).
    pub fn edges(&self) -> &[(NodeId, NodeId)] {
        &self.edges
    }

    /// Worker threads the run used (device lanes not counted).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Wall-clock time of the run, from the first worker's start to the
    /// last one's end.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Most capacity units in use at once. Every run has a capacity: the
    /// one given ([`Options::capacity`](crate::Options::capacity)) or, by
    /// default, `4 * threads * batch` plus two device batches per lane, so
    /// this is at most that bound, but for the extra units below. A unit is
    /// a source item inside the graph; each copy a fan-out makes counts as
    /// one more, and so does each item a flat-map makes that then waits in
    /// a `batch` group, so with those this may exceed the capacity while the
    /// source items alive never do.
    pub fn peak_alive(&self) -> usize {
        self.peak_alive
    }

    /// The node with the given label, if any.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..10);
    /// let sink = g.sink(src, |_x: i32| ());
    /// g.label(sink, "drop");
    /// let report = g.run();
    /// assert_eq!(report.node("drop").map(|n| n.items_in()), Some(10));
    /// assert!(report.node("nothing").is_none());
    /// ```
    pub fn node(&self, label: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.label == label)
    }

    /// A Graphviz `digraph` of the run: each node labelled with its label,
    /// kind and counters and shaded by its share of the run's busy time
    /// (white at 0 %, red at 100 %; the share is in the label), each edge
    /// labelled with the items that went along it (its source's
    /// `items_out`: every branch of a fan-out carries all of them).
    /// [`Report::to_svg`] renders it.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..1000u32);
    /// let odd = g.filter(src, |x| x % 2 == 1);
    /// g.sink(odd, |_x| ());
    /// let dot = g.run().to_dot();
    /// assert!(dot.contains("n0 -> n1 [label=\"1,000\"]"));
    /// assert!(dot.contains("n1 -> n2 [label=\"500\"]"));
    /// assert!(dot.contains("% of all"));
    /// ```
    pub fn to_dot(&self) -> String {
        let total: f64 = self.nodes.iter().map(|n| n.busy.as_secs_f64()).sum();
        let mut out = String::from(
            "digraph para {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n  \
             node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n  \
             edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        for n in &self.nodes {
            let share = if total > 0.0 {
                n.busy.as_secs_f64() / total
            } else {
                0.0
            };
            let font = if share > 0.6 { "white" } else { "black" };
            out.push_str(&format!(
                "  n{} [label=\"{}\\n{} | in {} | out {}\\n{:.3} ms busy, {:.0}% of all\", \
                 fillcolor=\"{}\", fontcolor={font}];\n",
                n.id.index(),
                escape(&n.label),
                n.kind,
                n.items_in,
                n.items_out,
                n.busy.as_secs_f64() * 1e3,
                share * 100.0,
                shade(share),
            ));
        }
        for (from, to) in &self.edges {
            let items = self.nodes.get(from.index()).map_or(0, |n| n.items_out);
            out.push_str(&format!(
                "  n{} -> n{} [label=\"{}\"];\n",
                from.index(),
                to.index(),
                thousands(items)
            ));
        }
        out.push_str(&format!(
            "  label=\"{} threads, {:.3} ms wall\";\n}}\n",
            self.threads,
            self.elapsed.as_secs_f64() * 1e3
        ));
        out
    }

    /// The drawing of [`Report::to_dot`] as SVG, rendered by Graphviz's
    /// `dot` (`dot -Tsvg`), which must be on the `PATH`.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..10u32);
    /// g.sink(src, |_x| ());
    /// match g.run().to_svg() {
    ///     Ok(svg) => assert!(svg.contains("<svg")),
    ///     Err(e) => eprintln!("no Graphviz here: {e}"),
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`](std::io::ErrorKind::NotFound) when `dot`
    /// is not installed; any other error starting it or reading its output;
    /// an error of kind `Other` with its stderr when it fails.
    pub fn to_svg(&self) -> std::io::Result<String> {
        use std::io::{Error, Write};
        use std::process::{Command, Stdio};
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // `dot` reads its whole input before it writes anything, so
        // writing all of it first cannot deadlock on a full pipe.
        let written = dot
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(self.to_dot().as_bytes());
        let output = dot.wait_with_output()?;
        written?;
        if !output.status.success() {
            return Err(Error::other(format!(
                "dot -Tsvg failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        String::from_utf8(output.stdout).map_err(Error::other)
    }

    /// Items that reached a sink, per second of wall time: the `items_in`
    /// of every node with no downstream edge, summed, divided by
    /// [`elapsed`](Report::elapsed). A graph with fan-outs counts each
    /// copy at each sink. 0 for an empty graph.
    ///
    /// ```
    /// let mut g = para::Graph::new();
    /// let src = g.source(0..1000);
    /// let [a, b] = <[_; 2]>::try_from(g.fan_out(src, 2)).unwrap();
    /// g.sink(a, |_x: i32| ());
    /// g.sink(b, |_x: i32| ());
    /// let report = g.run();
    /// let secs = report.elapsed().as_secs_f64();
    /// assert!((report.throughput() * secs - 2000.0).abs() < 1e-6);
    /// ```
    pub fn throughput(&self) -> f64 {
        let mut has_downstream = vec![false; self.nodes.len()];
        for (from, _) in &self.edges {
            has_downstream[from.index()] = true;
        }
        let items: u64 = self
            .nodes
            .iter()
            .filter(|n| !has_downstream[n.id.index()])
            .map(|n| n.items_in)
            .sum();
        if items == 0 {
            return 0.0;
        }
        items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A colour from white (`share` 0) to red (`share` 1), as `#rrggbb`.
fn shade(share: f64) -> String {
    let share = share.clamp(0.0, 1.0);
    // Towards #d7301f (a red that black and white text both read on).
    let mix = |to: f64| (255.0 + (to - 255.0) * share).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(215.0), mix(48.0), mix(31.0))
}

/// `n` with a comma between groups of three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let (head, tail) = digits.split_at(digits.len() % 3);
    let mut out = String::from(head);
    for group in tail.as_bytes().chunks(3) {
        if !out.is_empty() {
            out.push(',');
        }
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    out
}

impl fmt::Display for Report {
    /// One row per node, every column as wide as its widest cell (labels
    /// and kinds such as `ordered sink` vary in length), then a line with
    /// the thread count and wall time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 7] = [
            "id",
            "stage",
            "kind",
            "items in",
            "items out",
            "batches",
            "busy ms",
        ];
        // Text columns are left-aligned, numbers right-aligned.
        const LEFT: [bool; 7] = [false, true, true, false, false, false, false];
        let rows: Vec<[String; 7]> = self
            .nodes
            .iter()
            .map(|n| {
                [
                    n.id.index().to_string(),
                    n.label.clone(),
                    n.kind.to_string(),
                    n.items_in.to_string(),
                    n.items_out.to_string(),
                    n.batches.to_string(),
                    format!("{:.3}", n.busy.as_secs_f64() * 1e3),
                ]
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = HEADER.map(String::from);
        for row in std::iter::once(&header).chain(&rows) {
            for (i, cell) in row.iter().enumerate() {
                let width = widths[i];
                let sep = if i == 0 { "" } else { "  " };
                if LEFT[i] {
                    write!(f, "{sep}{cell:<width$}")?;
                } else {
                    write!(f, "{sep}{cell:>width$}")?;
                }
            }
            writeln!(f)?;
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

    /// A node that passed `items` through (a source takes nothing in).
    fn node(id: usize, label: &str, kind: &'static str, items: u64) -> NodeReport {
        let source = matches!(kind, "source" | "split");
        NodeReport::new(
            NodeId::new(id),
            label.into(),
            kind,
            if source { 0 } else { items },
            items,
            2,
            Duration::from_micros(5),
        )
    }

    /// Every row of the table has its columns at the same offsets as the
    /// header: each column starts where the header's does.
    fn assert_aligned(report: &Report) {
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), report.nodes().len() + 2, "{text}");
        let table = &lines[..lines.len() - 1];
        for line in table {
            assert_eq!(line.chars().count(), table[0].chars().count(), "{text}");
        }
        // A left-aligned column starts at the same offset in every row: the
        // kind column starts right after the stage column's padding.
        let kind_at = table[0].find("kind").unwrap();
        for (line, n) in table[1..].iter().zip(report.nodes()) {
            assert_eq!(line[kind_at..].split("  ").next(), Some(n.kind()), "{text}");
            assert!(line.contains(n.label()), "{text}");
        }
    }

    #[test]
    fn table_is_aligned() {
        let report = Report::new(
            vec![node(0, "numbers", "source", 10), node(1, "s", "sink", 10)],
            vec![(NodeId::new(0), NodeId::new(1))],
            2,
            Duration::from_millis(1),
            0,
        );
        assert_aligned(&report);
        assert!(report.to_dot().contains("n0 -> n1"));
    }

    #[test]
    fn table_stays_aligned_with_long_kinds_labels_and_counts() {
        let report = Report::new(
            vec![
                node(0, "line_numbers", "split", 400_000),
                node(1, "a label longer than any column header", "map", 400_000),
                node(2, "checksum", "ordered sink", u64::MAX),
                node(3, "custom", "a stage with a very long name", 7),
            ],
            vec![
                (NodeId::new(0), NodeId::new(1)),
                (NodeId::new(1), NodeId::new(2)),
                (NodeId::new(1), NodeId::new(3)),
            ],
            2,
            Duration::from_millis(1),
            0,
        );
        assert_aligned(&report);
    }

    #[test]
    fn dot_shades_by_busy_share_and_counts_edges() {
        let mut hot = node(1, "hot", "map", 1_234_567);
        hot.busy = Duration::from_micros(15);
        let report = Report::new(
            vec![node(0, "src", "source", 1_234_567), hot],
            vec![(NodeId::new(0), NodeId::new(1))],
            1,
            Duration::from_millis(1),
            0,
        );
        let dot = report.to_dot();
        assert!(dot.contains("n0 -> n1 [label=\"1,234,567\"]"), "{dot}");
        assert!(dot.contains("25% of all\", fillcolor=\"#f5cbc7\""), "{dot}");
        assert!(dot.contains("75% of all\", fillcolor=\"#e16457\""), "{dot}");
        assert_eq!(shade(0.0), "#ffffff");
        assert_eq!(shade(1.0), "#d7301f");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn throughput_counts_what_reaches_the_sinks() {
        let report = Report::new(
            vec![
                node(0, "src", "source", 100),
                node(1, "half", "filter", 50),
                node(2, "a", "sink", 50),
                node(3, "b", "sink", 100),
            ],
            vec![
                (NodeId::new(0), NodeId::new(1)),
                (NodeId::new(1), NodeId::new(2)),
                (NodeId::new(0), NodeId::new(3)),
            ],
            1,
            Duration::from_secs(2),
            0,
        );
        assert_eq!(report.throughput(), 75.0);
        assert_eq!(Report::empty().throughput(), 0.0);
    }
}
