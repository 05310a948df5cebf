//! Finding the marks of `#[para::pipeline]`: `#[stream]` on a loop,
//! `#[stage(...)]` on the statement that starts a stage, and the stage
//! options. syn attaches a statement's outer attributes to the leftmost
//! operand of an expression statement, so the lookup descends there as the
//! statement parser does.

use crate::error::{self, Errors};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

/// How a stage runs.
#[derive(Default)]
pub struct StageOptions {
    pub replicate: Option<Expr>,
    pub parallel: bool,
    pub ordered: bool,
    pub priority: Option<Expr>,
}

impl StageOptions {
    /// Whether many workers may run the stage at once.
    pub fn is_parallel(&self) -> bool {
        self.parallel || self.replicate.is_some()
    }
}

/// One stage of a stream loop: its options and the span of its mark (none
/// for the source part, the statements before the first mark) and its
/// statements.
pub struct StagePart {
    pub mark: Option<(StageOptions, Span)>,
    pub stmts: Vec<Stmt>,
}

/// Cuts a loop body at its `#[stage]` marks (removing them). A mark with bad
/// options is recorded and still starts a (serial) stage, so the rest of
/// the loop is checked too.
pub fn split_stages(stmts: Vec<Stmt>, errors: &mut Errors) -> Vec<StagePart> {
    let mut parts = vec![StagePart {
        mark: None,
        stmts: Vec::new(),
    }];
    for mut stmt in stmts {
        let mut mark = None;
        if let Some(attrs) = stmt_attrs(&mut stmt) {
            if let Some(pos) = attrs.iter().position(|a| is_attr(a, "stage")) {
                let attr = attrs.remove(pos);
                let options = errors.ok(parse_stage_options(&attr)).unwrap_or_default();
                mark = Some((options, attr.path().span()));
            }
        }
        if let Some(mark) = mark {
            parts.push(StagePart {
                mark: Some(mark),
                stmts: Vec::new(),
            });
        }
        if let Some(part) = parts.last_mut() {
            part.stmts.push(stmt);
        }
    }
    parts
}

fn parse_stage_options(attr: &syn::Attribute) -> syn::Result<StageOptions> {
    let mut options = StageOptions::default();
    if let syn::Meta::Path(_) = attr.meta {
        return Ok(options);
    }
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("parallel") {
            options.parallel = true;
        } else if meta.path.is_ident("ordered") {
            options.ordered = true;
        } else if meta.path.is_ident("replicate") {
            options.replicate = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("priority") {
            options.priority = Some(meta.value()?.parse()?);
        } else {
            return Err(error::unknown_stage_option(&meta));
        }
        Ok(())
    })?;
    if options.ordered && options.is_parallel() {
        return Err(error::ordered_and_parallel(attr.path().span()));
    }
    Ok(options)
}

/// Whether `attr` is `#[name]` or `#[name(...)]`.
pub fn is_attr(attr: &syn::Attribute, name: &str) -> bool {
    attr.path().is_ident(name)
}

/// The attributes of a statement, if it can carry any.
fn stmt_attrs(stmt: &mut Stmt) -> Option<&mut Vec<syn::Attribute>> {
    match stmt {
        Stmt::Local(local) => Some(&mut local.attrs),
        Stmt::Macro(mac) => Some(&mut mac.attrs),
        Stmt::Expr(expr, _) => expr_attrs(expr),
        Stmt::Item(_) => None,
    }
}

/// The attributes of an expression statement. Like syn's statement parser,
/// descend to the leftmost operand of assignments, binary operations and
/// casts, where syn attaches a statement's outer attributes.
pub fn expr_attrs(expr: &mut Expr) -> Option<&mut Vec<syn::Attribute>> {
    let descend = match expr {
        Expr::Assign(e) => e.attrs.is_empty(),
        Expr::Binary(e) => e.attrs.is_empty(),
        Expr::Cast(e) => e.attrs.is_empty(),
        _ => false,
    };
    if !descend {
        return own_attrs(expr);
    }
    match expr {
        Expr::Assign(e) => expr_attrs(&mut e.left),
        Expr::Binary(e) => expr_attrs(&mut e.left),
        Expr::Cast(e) => expr_attrs(&mut e.expr),
        _ => None,
    }
}

fn own_attrs(expr: &mut Expr) -> Option<&mut Vec<syn::Attribute>> {
    Some(match expr {
        Expr::Array(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Async(e) => &mut e.attrs,
        Expr::Await(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        Expr::Break(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::Cast(e) => &mut e.attrs,
        Expr::Closure(e) => &mut e.attrs,
        Expr::Continue(e) => &mut e.attrs,
        Expr::Field(e) => &mut e.attrs,
        Expr::ForLoop(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Index(e) => &mut e.attrs,
        Expr::Let(e) => &mut e.attrs,
        Expr::Lit(e) => &mut e.attrs,
        Expr::Loop(e) => &mut e.attrs,
        Expr::Macro(e) => &mut e.attrs,
        Expr::Match(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::Paren(e) => &mut e.attrs,
        Expr::Path(e) => &mut e.attrs,
        Expr::Range(e) => &mut e.attrs,
        Expr::Reference(e) => &mut e.attrs,
        Expr::Return(e) => &mut e.attrs,
        Expr::Struct(e) => &mut e.attrs,
        Expr::Try(e) => &mut e.attrs,
        Expr::Tuple(e) => &mut e.attrs,
        Expr::Unary(e) => &mut e.attrs,
        Expr::Unsafe(e) => &mut e.attrs,
        Expr::While(e) => &mut e.attrs,
        _ => return None,
    })
}

/// Removes every `#[stream]` and `#[stage]` attribute (the fallback
/// expansion after an error keeps the function as a sequential loop).
pub struct StripMarks;

impl VisitMut for StripMarks {
    fn visit_attributes_mut(&mut self, attrs: &mut Vec<syn::Attribute>) {
        attrs.retain(|a| !is_attr(a, "stream") && !is_attr(a, "stage"));
    }
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Some(attrs) = own_attrs(expr) {
            self.visit_attributes_mut(attrs);
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        self.visit_attributes_mut(&mut local.attrs);
        syn::visit_mut::visit_local_mut(self, local);
    }
}

/// Records every `#[stage]` (or `#[stream]`) left after the stream loops
/// were expanded: each is outside a loop it could apply to.
pub struct StrayMarks<'e>(pub &'e mut Errors);

impl<'ast> Visit<'ast> for StrayMarks<'_> {
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        if is_attr(attr, "stage") {
            self.0.push(error::stage_outside_stream(attr.path().span()));
        } else if is_attr(attr, "stream") {
            self.0.push(error::stream_in_closure(attr.path().span()));
        }
    }
}
