//! The model both macros work on: what `pipeline!` parsed (flows of stages)
//! and the graph that validation turns it into. Plain data, no logic beyond
//! small accessors: the parser fills the first half, the validator the second,
//! the expander reads the graph. Every node, edge and option keeps its span so
//! an error can point at the token that caused it.

use proc_macro2::Span;
use syn::{Expr, ExprYield, Lifetime};

/// The expression inside any parentheses.
pub fn unparen(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(inner) = expr {
        expr = &inner.expr;
    }
    expr
}

/// A stage body that is `yield` (in any parentheses): the end of a flow
/// whose items come out of the stream `pipeline!` returns.
pub fn yield_expr(body: &Expr) -> Option<&ExprYield> {
    match unparen(body) {
        Expr::Yield(y) => Some(y),
        _ => None,
    }
}

/// The whole `pipeline!` input.
pub struct Pipeline {
    pub options: Vec<OptionItem>,
    pub flows: Vec<Flow>,
}

/// One run option, `KEY = EXPR` (or a bare thread count).
pub struct OptionItem {
    pub key: OptionKey,
    /// The key's span (the value's span for a bare thread count).
    pub span: Span,
    pub value: Expr,
}

/// The run options both macros know (`Scope` is `pipeline!`'s alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKey {
    Threads,
    Capacity,
    Batch,
    Pool,
    /// `scope = s`: a pipeline ending in `yield` runs on a
    /// `std::thread::Scope`, so its stages may borrow. Not an `Options`
    /// setting: it picks how the graph is spawned.
    Scope,
    /// `trace = "run.json"`: write a timeline of the run (`Options::trace`).
    Trace,
    /// `progress = true`: a live progress line on stderr
    /// (`Options::progress`, `progress` feature).
    Progress,
    /// `cluster = cx`: the graph runs on a timely-dataflow cluster
    /// (`para::cluster`); `pipeline!`'s alone.
    Cluster,
}

impl OptionKey {
    /// The option named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "threads" => OptionKey::Threads,
            "capacity" => OptionKey::Capacity,
            "batch" => OptionKey::Batch,
            "pool" => OptionKey::Pool,
            "scope" => OptionKey::Scope,
            "trace" => OptionKey::Trace,
            "progress" => OptionKey::Progress,
            "cluster" => OptionKey::Cluster,
            _ => return None,
        })
    }
}

/// `STAGE => STAGE => ...`
pub struct Flow {
    pub stages: Vec<Item>,
}

/// One position of a flow.
pub enum Item {
    Stage(StageDef),
    /// `'name`: a reference to a labelled stage.
    Ref(Lifetime),
    FanOut(FanOut),
}

/// `{ ATTR } [ 'label : ] BODY`
pub struct StageDef {
    pub attrs: Vec<Attr>,
    pub label: Option<Lifetime>,
    pub body: Expr,
}

impl StageDef {
    /// The label and the body (the body alone where the compiler cannot
    /// join spans).
    pub fn span(&self) -> Span {
        let body = syn::spanned::Spanned::span(&self.body);
        match &self.label {
            Some(label) => label.span().join(body).unwrap_or(body),
            None => body,
        }
    }
}

/// `( FLOW , FLOW , ... )`
pub struct FanOut {
    pub span: Span,
    pub branches: Vec<Flow>,
}

/// A stage attribute and the span of its name.
pub struct Attr {
    pub kind: AttrKind,
    pub span: Span,
}

/// The stage attributes `pipeline!` knows.
pub enum AttrKind {
    Ordered,
    Serial,
    Parallel,
    Replicate(Expr),
    Priority(Expr),
    Split,
    Gpu {
        batch: Option<Expr>,
        lanes: Option<Expr>,
    },
}

impl AttrKind {
    /// The attribute's name, as written after `#[`.
    pub fn name(&self) -> &'static str {
        match self {
            AttrKind::Ordered => "ordered",
            AttrKind::Serial => "serial",
            AttrKind::Parallel => "parallel",
            AttrKind::Replicate(_) => "replicate",
            AttrKind::Priority(_) => "priority",
            AttrKind::Split => "split",
            AttrKind::Gpu { .. } => "gpu",
        }
    }
}

/// The graph `pipeline!` expands.
pub struct Model {
    pub options: Vec<OptionItem>,
    pub nodes: Vec<Node>,
    /// Node ids in an order where every node comes after its inputs.
    pub order: Vec<usize>,
    /// The `yield` node, if a flow ends in one: the pipeline then runs in
    /// the background and evaluates to a `para::Stream`.
    pub output: Option<usize>,
}

impl Model {
    /// Whether a stage closure uses `?`: the pipeline then evaluates to a
    /// `Result` (or a stream of them).
    pub fn is_fallible(&self) -> bool {
        self.nodes.iter().any(|n| !n.dead && n.fallible.is_some())
    }

    /// The value of the `cluster = cx` option, if given.
    pub fn cluster(&self) -> Option<&Expr> {
        self.options
            .iter()
            .find(|o| o.key == OptionKey::Cluster)
            .map(|o| &o.value)
    }

    /// The value of the `scope = s` option, if given.
    pub fn scope(&self) -> Option<&Expr> {
        self.options
            .iter()
            .find(|o| o.key == OptionKey::Scope)
            .map(|o| &o.value)
    }
}

/// One stage of the graph.
pub struct Node {
    pub body: Expr,
    /// A flow starting with `'name`: stands for the labelled stage until
    /// labels are resolved, then is removed (`dead`) and its consumers are
    /// wired to that stage.
    pub alias: Option<Lifetime>,
    pub dead: bool,
    pub label: Option<Lifetime>,
    pub attrs: Attrs,
    pub is_source: bool,
    /// Another error already explains why this source has no consumer.
    pub excused: bool,
    /// The fan-out group right after this stage, if any (for diagnostics).
    pub fan_span: Option<Span>,
    /// Upstream nodes, in edge order.
    pub inputs: Vec<usize>,
    /// Downstream nodes, in branch order (a fan-out's branches first).
    pub consumers: Vec<usize>,
    /// The first `?` of a closure stage's own body: the closure is then
    /// rewritten to return a `Result` and added as a fallible stage.
    pub fallible: Option<Span>,
    pub span: Span,
}

impl Node {
    /// The `yield` this stage is, if it is one.
    pub fn yield_expr(&self) -> Option<&ExprYield> {
        yield_expr(&self.body)
    }

    /// A stage with no downstream anywhere in the graph.
    pub fn is_sink(&self) -> bool {
        self.consumers.is_empty()
    }

    /// Whether a closure body here runs on many workers at once and must be
    /// `Fn` (SPEC 1: a map without `#[serial]`/`#[ordered]`, a
    /// `#[parallel]` sink; device stages have their own bounds).
    pub fn runs_in_parallel(&self) -> bool {
        if self.is_source || self.attrs.gpu.is_some() || self.yield_expr().is_some() {
            return false;
        }
        if self.is_sink() {
            self.attrs.parallel.is_some()
        } else {
            self.attrs.ordered.is_none() && self.attrs.serial.is_none()
        }
    }
}

/// A stage's attributes, each with its span.
#[derive(Default)]
pub struct Attrs {
    pub ordered: Option<Span>,
    pub serial: Option<Span>,
    pub parallel: Option<Span>,
    pub split: Option<Span>,
    pub replicate: Option<Expr>,
    pub priority: Option<Expr>,
    pub gpu: Option<(Span, Option<Expr>, Option<Expr>)>,
}
