//! Turning the parsed flows into a graph model: resolve labels, find sources,
//! sinks, fan-outs and fan-ins, and reject what cannot run (undefined,
//! duplicate or cyclic labels, misplaced attributes, empty fan-outs, flows
//! that are only a source, ordered stages reachable from several sources,
//! parallel stage closures that assign to captured state).
//! Errors are collected, each on the offending token.

use crate::error::{self, Errors};
use crate::model::{Attr, AttrKind, Attrs, FanOut, Flow, Item, Model, Node, Pipeline, StageDef};
use crate::scope::Scopes;
use proc_macro2::Span;
use std::collections::{BTreeMap, BTreeSet};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::Lifetime;

/// A flow ending in `'name`: it sends into the labelled stage, resolved
/// after every label is known.
struct PendingRef {
    label: Lifetime,
    from: Vec<usize>,
}

struct Builder<'e> {
    nodes: Vec<Node>,
    labels: BTreeMap<String, usize>,
    refs: Vec<PendingRef>,
    errors: &'e mut Errors,
}

/// Builds the graph of a parsed pipeline, recording every mistake in
/// `errors`; `None` when the graph has no consistent order (a cycle).
pub fn validate(pipeline: Pipeline, errors: &mut Errors) -> Option<Model> {
    let mut b = Builder {
        nodes: Vec::new(),
        labels: BTreeMap::new(),
        refs: Vec::new(),
        errors,
    };
    for flow in pipeline.flows {
        b.flow(flow, None);
    }
    b.resolve_refs();
    b.check_nodes();
    let order = b.topological_order();
    if let Some(order) = &order {
        b.check_ordered(order);
    }
    Some(Model {
        options: pipeline.options,
        nodes: b.nodes,
        order: order?,
    })
}

impl Builder<'_> {
    /// Walks a flow whose first stage receives from `upstream` (`None`: a
    /// top-level flow, whose first stage is a source). Returns the flow's
    /// output endpoints.
    fn flow(&mut self, flow: Flow, upstream: Option<Vec<usize>>) -> Vec<usize> {
        let first_node = self.nodes.len();
        let errors_before = self.errors.count();
        let ends = self.flow_items(flow, upstream);
        // A flow that already failed does not also get "only a source".
        if self.errors.count() > errors_before {
            if let Some(node) = self.nodes.get_mut(first_node) {
                node.excused = true;
            }
        }
        ends
    }

    fn flow_items(&mut self, flow: Flow, upstream: Option<Vec<usize>>) -> Vec<usize> {
        let count = flow.stages.len();
        let mut current = upstream;
        for (index, item) in flow.stages.into_iter().enumerate() {
            let last = index + 1 == count;
            match item {
                Item::Stage(stage) => {
                    let id = self.stage(stage, current.is_none());
                    if let Some(up) = &current {
                        self.connect(up, id);
                    }
                    current = Some(vec![id]);
                }
                Item::Ref(label) if index == 0 && current.is_none() => {
                    if last {
                        self.errors.push(error::only_a_reference(label.span()));
                    }
                    let id = self.nodes.len();
                    self.nodes.push(Node {
                        body: syn::parse_quote!(()),
                        alias: Some(label.clone()),
                        dead: false,
                        excused: false,
                        fan_span: None,
                        label: None,
                        attrs: Attrs::default(),
                        is_source: false,
                        inputs: Vec::new(),
                        consumers: Vec::new(),
                        span: label.span(),
                    });
                    current = Some(vec![id]);
                }
                Item::Ref(label) if last => {
                    let from = current.take().unwrap_or_default();
                    self.refs.push(PendingRef { label, from });
                    return Vec::new();
                }
                Item::Ref(label) => {
                    self.errors.push(error::reference_in_the_middle(&label));
                    return Vec::new();
                }
                Item::FanOut(fan) => {
                    let Some(up) = current.take() else {
                        self.errors.push(error::fan_out_starts_flow(fan.span));
                        return Vec::new();
                    };
                    for &u in &up {
                        self.nodes[u].fan_span.get_or_insert(fan.span);
                    }
                    current = Some(self.fan_out(fan, up));
                }
            }
        }
        current.unwrap_or_default()
    }

    fn fan_out(&mut self, fan: FanOut, upstream: Vec<usize>) -> Vec<usize> {
        if fan.branches.is_empty() {
            self.errors.push(error::empty_fan_out(fan.span));
            return Vec::new();
        }
        if fan.branches.len() == 1 {
            self.errors.push(error::single_branch_fan_out(fan.span));
        }
        let mut ends = Vec::new();
        for branch in fan.branches {
            ends.extend(self.flow(branch, Some(upstream.clone())));
        }
        ends
    }

    fn connect(&mut self, upstream: &[usize], to: usize) {
        for &up in upstream {
            self.nodes[up].consumers.push(to);
            self.nodes[to].inputs.push(up);
        }
    }

    fn stage(&mut self, stage: StageDef, is_source: bool) -> usize {
        let span = stage.span();
        let attrs = self.attrs(stage.attrs);
        let id = self.nodes.len();
        if let Some(label) = &stage.label {
            let name = label.ident.to_string();
            if self.labels.insert(name, id).is_some() {
                self.errors.push(error::duplicate_label(label));
            }
        }
        self.nodes.push(Node {
            body: stage.body,
            alias: None,
            dead: false,
            excused: false,
            fan_span: None,
            label: stage.label,
            attrs,
            is_source,
            inputs: Vec::new(),
            consumers: Vec::new(),
            span,
        });
        id
    }

    fn attrs(&mut self, attrs: Vec<Attr>) -> Attrs {
        let mut out = Attrs::default();
        for attr in attrs {
            let duplicate = match attr.kind {
                AttrKind::Ordered => out.ordered.replace(attr.span).is_some(),
                AttrKind::Serial => out.serial.replace(attr.span).is_some(),
                AttrKind::Parallel => out.parallel.replace(attr.span).is_some(),
                AttrKind::Split => out.split.replace(attr.span).is_some(),
                AttrKind::Replicate(n) => out.replicate.replace(n).is_some(),
                AttrKind::Priority(n) => out.priority.replace(n).is_some(),
                AttrKind::Gpu { batch, lanes } => {
                    out.gpu.replace((attr.span, batch, lanes)).is_some()
                }
            };
            if duplicate {
                self.errors.push(error::duplicate_attribute(attr.span));
            }
        }
        out
    }

    fn lookup(&mut self, label: &Lifetime) -> Option<usize> {
        let name = label.ident.to_string();
        if let Some(&target) = self.labels.get(&name) {
            return Some(target);
        }
        let known: Vec<String> = self.labels.keys().cloned().collect();
        self.errors.push(error::undefined_label(label, &known));
        None
    }

    fn resolve_refs(&mut self) {
        // Flows ending in a reference send into the labelled stage.
        for r in std::mem::take(&mut self.refs) {
            match self.lookup(&r.label) {
                Some(target) => self.connect(&r.from, target),
                None => {
                    for &from in &r.from {
                        self.nodes[from].excused = true;
                    }
                }
            }
        }
        // Flows starting with a reference: their consumers take the labelled
        // stage's output (as further fan-out branches).
        for alias in 0..self.nodes.len() {
            let Some(label) = self.nodes[alias].alias.clone() else {
                continue;
            };
            self.nodes[alias].dead = true;
            let consumers = std::mem::take(&mut self.nodes[alias].consumers);
            let Some(target) = self.lookup(&label) else {
                for c in consumers {
                    self.nodes[c].inputs.retain(|&i| i != alias);
                }
                continue;
            };
            for c in consumers {
                for input in &mut self.nodes[c].inputs {
                    if *input == alias {
                        *input = target;
                    }
                }
                self.nodes[target].consumers.push(c);
            }
        }
    }

    /// Per-node rules: attributes in the right place, no flow that is only a
    /// source.
    fn check_nodes(&mut self) {
        for id in 0..self.nodes.len() {
            let node = &self.nodes[id];
            if node.dead {
                continue;
            }
            let mut errors = Vec::new();
            if node.is_source {
                if node.consumers.is_empty() && !node.excused {
                    errors.push(error::only_a_source(node.span));
                }
                let misplaced = [
                    (node.attrs.ordered, "ordered"),
                    (node.attrs.serial, "serial"),
                    (node.attrs.parallel, "parallel"),
                    (node.attrs.gpu.as_ref().map(|g| g.0), "gpu"),
                ];
                for (span, name) in misplaced {
                    if let Some(span) = span {
                        errors.push(error::misplaced_on_source(span, name));
                    }
                }
                if let Some(n) = &node.attrs.replicate {
                    errors.push(error::replicate_on_source(n.span()));
                }
            } else {
                if let Some(span) = node.attrs.split {
                    errors.push(error::split_not_on_source(span));
                }
                let kinds = [
                    (node.attrs.ordered, "ordered"),
                    (node.attrs.serial, "serial"),
                    (node.attrs.parallel, "parallel"),
                ];
                let given: Vec<(Span, &str)> = kinds
                    .iter()
                    .filter_map(|&(s, name)| Some((s?, name)))
                    .collect();
                if let [(_, first), (span, second), ..] = given.as_slice() {
                    errors.push(error::conflicting_attributes(*span, first, second));
                }
                if let (Some((span, ..)), Some(_)) = (&node.attrs.gpu, given.first()) {
                    errors.push(error::gpu_with_mode(*span));
                }
                if let (Some(n), Some(_)) = (
                    &node.attrs.replicate,
                    node.attrs.ordered.or(node.attrs.serial),
                ) {
                    errors.push(error::replicate_on_serial(n.span()));
                }
            }
            if node.runs_in_parallel() {
                let mut scopes = Scopes::new([]);
                scopes.visit_expr(&node.body);
                for m in scopes.mutations {
                    errors.push(error::parallel_mutation(&m.tokens, &m.name, error::MAP_FIX));
                }
            }
            for error in errors {
                self.errors.push(error);
            }
        }
    }

    /// Kahn's algorithm; a cycle is reported on a label reference closing it.
    fn topological_order(&mut self) -> Option<Vec<usize>> {
        let n = self.nodes.len();
        let live = self.nodes.iter().filter(|node| !node.dead).count();
        let mut indegree: Vec<usize> = self.nodes.iter().map(|node| node.inputs.len()).collect();
        let mut ready: Vec<usize> = (0..n)
            .rev()
            .filter(|&i| indegree[i] == 0 && !self.nodes[i].dead)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(id) = ready.pop() {
            order.push(id);
            for &c in self.nodes[id].consumers.iter().rev() {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(c);
                }
            }
        }
        if order.len() == live {
            return Some(order);
        }
        // Report on a labelled stage inside the cycle.
        let in_cycle: Vec<usize> = (0..n)
            .filter(|&i| indegree[i] > 0 && !self.nodes[i].dead)
            .collect();
        let culprit = in_cycle
            .iter()
            .copied()
            .find(|&i| self.nodes[i].label.is_some())
            .or(in_cycle.first().copied())?;
        let node = &self.nodes[culprit];
        let span = node.label.as_ref().map_or(node.span, |l| l.span());
        self.errors
            .push(error::cyclic_label(span, node.label.as_ref()));
        None
    }

    /// `#[ordered]` needs one source: order is per source.
    fn check_ordered(&mut self, order: &[usize]) {
        let mut sources: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); self.nodes.len()];
        for &id in order {
            if self.nodes[id].is_source {
                sources[id].insert(id);
            }
            for &up in &self.nodes[id].inputs.clone() {
                let above = sources[up].clone();
                sources[id].extend(above);
            }
            if let Some(span) = self.nodes[id].attrs.ordered {
                if sources[id].len() > 1 {
                    self.errors
                        .push(error::ordered_several_sources(span, sources[id].len()));
                }
            }
        }
    }
}
