//! Turning the parsed flows into a graph model: resolve labels, find sources,
//! sinks, fan-outs and fan-ins, and reject what cannot run (undefined,
//! duplicate or cyclic labels, misplaced attributes, empty fan-outs, flows
//! that are only a source, ordered stages reachable from several sources,
//! parallel stage closures that assign to captured state).
//! Errors are collected, each on the offending token.

use crate::error::{self, Errors};
use crate::fallible;
use crate::model::{
    unparen, Attr, AttrKind, Attrs, FanOut, Flow, Item, Model, Node, OptionItem, OptionKey,
    Pipeline, StageDef,
};
use crate::scope::Scopes;
use proc_macro2::Span;
use std::collections::{BTreeMap, BTreeSet};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, ExprClosure, Lifetime};

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
    let output = b.check_yield(&pipeline.options);
    let order = b.topological_order();
    if let Some(order) = &order {
        b.check_ordered(order);
    }
    Some(Model {
        options: pipeline.options,
        nodes: b.nodes,
        order: order?,
        output,
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
                        fallible: None,
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
        // `?` makes a closure stage fallible; a source is no closure, and a
        // `#[gpu]` body keeps its own signature.
        let fallible = match unparen(&stage.body) {
            Expr::Closure(closure) if !is_source && attrs.gpu.is_none() => {
                fallible::first_try(&closure.body)
            }
            _ => None,
        };
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
            fallible,
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
            if let Some(y) = node.yield_expr() {
                // Its attributes were checked by the parser.
                let span = y.yield_token.span;
                if node.is_source {
                    errors.push(error::yield_starts_flow(span));
                } else if !node.consumers.is_empty() {
                    errors.push(error::yield_not_last(span));
                }
            } else if node.is_source {
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

    /// Pipeline-wide rules of `yield` (one per pipeline) and `scope` (only
    /// with `yield`; without it, a closure stage that borrows a local is an
    /// error here, as rustc would only suggest `move`). Returns the `yield`
    /// node.
    fn check_yield(&mut self, options: &[OptionItem]) -> Option<usize> {
        let mut yields = (0..self.nodes.len())
            .filter(|&id| !self.nodes[id].dead && self.nodes[id].yield_expr().is_some());
        let output = yields.next();
        for second in yields {
            let span = self.nodes[second].yield_expr().map(|y| y.yield_token.span);
            self.errors
                .push(error::second_yield(span.unwrap_or(self.nodes[second].span)));
        }
        let scope = options.iter().find(|o| o.key == OptionKey::Scope);
        match (output, scope) {
            (None, Some(scope)) => self.errors.push(error::scope_without_yield(scope.span)),
            (Some(_), None) => self.check_no_borrows(),
            _ => {}
        }
        output
    }

    /// Without `scope`, a pipeline ending in `yield` runs on after the
    /// macro returns, so its stages must be `'static`: a closure that is not
    /// `move` and reads a local (a free name that starts in lower case, or
    /// `self`; a name only called, as in `parse(x)`, is taken for a
    /// function) would borrow it. Reported on the first such name of each
    /// closure; borrows the macro cannot see (a source `words.iter()`) are
    /// left to rustc, whose "borrowed for `'static`" label points at the
    /// `yield` (see `expand`).
    fn check_no_borrows(&mut self) {
        for node in &self.nodes {
            if node.dead || node.is_source {
                continue;
            }
            for closure in stage_closures(&node.body) {
                if closure.capture.is_some() {
                    continue;
                }
                let mut scopes = Scopes::new([]);
                scopes.visit_expr_closure(closure);
                let local = scopes
                    .values
                    .iter()
                    .find(|(name, _)| name.starts_with(|c: char| c.is_lowercase() || c == '_'));
                if let Some((name, span)) = local {
                    self.errors.push(error::borrows_without_scope(*span, name));
                }
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

/// The closures a stage body is made of: the body itself, or the closure
/// arguments of a call such as `filter(|x| ..)` or `fold(init, |a, x| ..)`.
fn stage_closures(body: &Expr) -> Vec<&ExprClosure> {
    match unparen(body) {
        Expr::Closure(closure) => vec![closure],
        Expr::Call(call) => call
            .args
            .iter()
            .filter_map(|arg| match unparen(arg) {
                Expr::Closure(closure) => Some(closure),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Errors;
    use syn::parse::{ParseStream, Parser};

    /// Every message for a `pipeline!` input, in order.
    fn messages(input: &str) -> Vec<String> {
        let mut errors = Errors::default();
        let parsed = (|input: ParseStream| crate::parse::pipeline(input, &mut errors))
            .parse_str(input)
            .unwrap();
        super::validate(parsed, &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn borrowed(input: &str) -> Vec<String> {
        messages(input)
            .iter()
            .filter_map(|m| {
                let rest = m.strip_prefix("this stage borrows `")?;
                Some(rest[..rest.find('`')?].to_string())
            })
            .collect()
    }

    #[test]
    fn a_background_pipeline_may_not_borrow() {
        let borrowed = |input: &str| borrowed(input);
        assert_eq!(
            borrowed("v => |x| x + offset => filter(|&x| x < limit) => yield"),
            ["offset", "limit"]
        );
        // One message per closure, on its first local.
        assert_eq!(borrowed("v => |x| a + b + x => yield"), ["a"]);
        // `move`, parameters, its own locals, items and callees are fine.
        assert_eq!(
            borrowed(
                "v => move |x| x + offset => |x| { let y = x; parse(y) + MAX + u8::MAX } \
                 => |x| Some(x) => yield"
            ),
            Vec::<String>::new()
        );
        // `scope = s` lets stages borrow; without `yield` they may anyway.
        assert!(borrowed("scope = s, v => |x| x + offset => yield").is_empty());
        assert!(borrowed("v => |x| x + offset => |x| total += x").is_empty());
        // Other flows of a background pipeline are checked too.
        assert_eq!(
            borrowed("v => |x| x => yield; w => |x| out.push(x)"),
            ["out"]
        );
        assert_eq!(borrowed("v => |x| self.f(x) => yield"), ["self"]);
    }

    #[test]
    fn yield_ends_one_flow() {
        let first = |input: &str| messages(input).into_iter().next().unwrap_or_default();
        assert!(messages("v => |x| x => #[ordered] yield").is_empty());
        assert!(messages("v => (|x| x, |x| x) => #[ordered] yield").is_empty());
        assert!(messages("v => 'out: yield; w => |x| x => 'out").is_empty());
        assert!(messages("v => (yield, |x| drop(x))").is_empty());
        assert!(first("v => yield; w => |x| x => yield").starts_with("a pipeline has one `yield`"));
        assert!(first("v => yield => |x| x").starts_with("`yield` must end its flow"));
        assert!(first("v => 'y: yield; 'y => |x| x").starts_with("`yield` must end its flow"));
        assert!(first("yield => |x| x").starts_with("`yield` cannot start a flow"));
        assert!(first("yield").starts_with("`yield` cannot start a flow"));
        assert!(first("v => yield x").starts_with("`yield` takes no value"));
        assert!(first("v => #[serial] yield").starts_with("`#[serial]` cannot be put on `yield`"));
        assert!(first("v => #[split] #[ordered] yield").starts_with("`#[split]` cannot"));
        assert_eq!(
            messages("v => #[replicate(2)] #[priority(1)] yield").len(),
            2
        );
        assert!(first("scope = s, v => |x| f(x) => |x| g(x)")
            .starts_with("`scope` is for a pipeline that ends in `yield`"));
        assert!(first("v => #[ordered] yield; w => 'x: |x| x => yield")
            .starts_with("a pipeline has one `yield`"));
    }
}
