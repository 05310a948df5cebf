//! `#[para::pipeline]`: a function whose `#[stream] for` loops are cut into
//! stages at `#[stage(...)]` marks and run as a pipeline (the SPar model).
//!
//! For each stream loop:
//! * the statements before the first mark run in the source, in iteration
//!   order; each mark starts a stage holding the statements up to the next;
//! * loop-local variables bound in one stage and used in a later one travel
//!   with the item (only those: a name-based liveness pass decides);
//! * control flow keeps its sequential meaning: a loop-level `continue`
//!   drops the item, `break` stops the source, `return` and `?` stop the
//!   stream and make the function return that value once the run is over.

use crate::error;
use crate::model::OptionItem;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use std::collections::BTreeSet;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, ItemFn, Pat, ReturnType, Stmt};

struct AttrOptionsList(Vec<OptionItem>);

/// How a stage runs.
#[derive(Default)]
struct StageOptions {
    replicate: Option<Expr>,
    parallel: bool,
    ordered: bool,
    priority: Option<Expr>,
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
    if options.ordered && (options.parallel || options.replicate.is_some()) {
        return Err(error::ordered_and_parallel(attr.path().span()));
    }
    Ok(options)
}

fn is_attr(attr: &syn::Attribute, name: &str) -> bool {
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
fn expr_attrs(expr: &mut Expr) -> Option<&mut Vec<syn::Attribute>> {
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

/// Entry point: the attribute's arguments and the function.
pub fn expand_attr(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand_fn(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            // Keep the function, without our marks, so the rest of the crate
            // still type-checks and only our error is reported.
            let errors = error.to_compile_error();
            match syn::parse2::<ItemFn>(item.clone()) {
                Ok(mut func) => {
                    StripMarks.visit_item_fn_mut(&mut func);
                    quote!(#errors #func)
                }
                Err(_) => quote!(#errors #item),
            }
        }
    }
}

fn expand_fn(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = crate::error::Errors::default();
    let options =
        (|input: ParseStream| crate::parse::attr_options(input, &mut errors)).parse2(args)?;
    errors.finish()?;
    let options = AttrOptionsList(options);
    let mut func: ItemFn = syn::parse2(item)?;
    let returns_option = returns_option(&func.sig.output);
    let mut finder = StreamFinder {
        options: &options.0,
        returns_option,
        found: 0,
        error: None,
        counter: 0,
    };
    finder.visit_block_mut(&mut func.block);
    if let Some(error) = finder.error {
        return Err(error);
    }
    if finder.found == 0 {
        return Err(error::no_stream_loop(func.sig.ident.span()));
    }
    // A `#[stage]` left anywhere is outside a stream loop.
    let mut stray = StrayStages(None);
    stray.visit_block(&func.block);
    if let Some(error) = stray.0 {
        return Err(error);
    }
    Ok(quote!(#func))
}

/// Whether the function returns an `Option` (for `?`), judged by the last
/// path segment of its return type.
fn returns_option(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
            _ => false,
        },
        ReturnType::Default => false,
    }
}

/// Finds `#[stream]` loops (not inside nested closures or items) and
/// replaces each with its pipeline.
struct StreamFinder<'o> {
    options: &'o [OptionItem],
    returns_option: bool,
    found: usize,
    error: Option<syn::Error>,
    counter: usize,
}

impl VisitMut for StreamFinder<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if self.error.is_some() {
            return;
        }
        let marked = expr_attrs(expr)
            .map(|attrs| attrs.iter().position(|a| is_attr(a, "stream")))
            .unwrap_or(None);
        if let Some(index) = marked {
            let attr = expr_attrs(expr).expect("has attrs").remove(index);
            let Expr::ForLoop(for_loop) = expr else {
                self.error = Some(error::stream_not_a_for_loop(attr.path().span()));
                return;
            };
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                self.error = Some(error::stream_takes_no_arguments(&attr.meta));
                return;
            }
            self.found += 1;
            self.counter += 1;
            match expand_stream(for_loop, self.options, self.returns_option, self.counter) {
                Ok(replacement) => *expr = replacement,
                Err(error) => self.error = Some(error),
            }
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Removes every `#[stream]` and `#[stage]` attribute.
struct StripMarks;

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

/// Reports a `#[stage]` outside a stream loop.
struct StrayStages(Option<syn::Error>);

impl<'ast> Visit<'ast> for StrayStages {
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        if self.0.is_none() && (is_attr(attr, "stage") || is_attr(attr, "stream")) {
            let name = attr
                .path()
                .get_ident()
                .map(Ident::to_string)
                .unwrap_or_default();
            self.0 = Some(if name == "stage" {
                error::stage_outside_stream(attr.path().span())
            } else {
                error::stream_in_closure(attr.path().span())
            });
        }
    }
}

/// One stage of a stream loop: its options (none for the source part) and
/// statements.
struct StagePart {
    options: Option<(StageOptions, Span)>,
    stmts: Vec<Stmt>,
}

fn expand_stream(
    for_loop: &mut syn::ExprForLoop,
    options: &[OptionItem],
    returns_option: bool,
    index: usize,
) -> syn::Result<Expr> {
    let loop_label = for_loop.label.as_ref().map(|l| l.name.ident.to_string());
    // Split the body at the marks.
    let mut parts = vec![StagePart {
        options: None,
        stmts: Vec::new(),
    }];
    for mut stmt in std::mem::take(&mut for_loop.body.stmts) {
        let mut mark = None;
        if let Some(attrs) = stmt_attrs(&mut stmt) {
            if let Some(pos) = attrs.iter().position(|a| is_attr(a, "stage")) {
                let attr = attrs.remove(pos);
                mark = Some((parse_stage_options(&attr)?, attr.path().span()));
            }
        }
        if let Some(mark) = mark {
            parts.push(StagePart {
                options: Some(mark),
                stmts: Vec::new(),
            });
        }
        parts.last_mut().expect("one part").stmts.push(stmt);
    }
    // Bindings and uses, for the variables that travel between stages.
    let mut loop_bound = BTreeSet::new();
    pat_bindings(&for_loop.pat, &mut loop_bound);
    let analysed: Vec<(BTreeSet<String>, BTreeSet<String>)> = parts
        .iter()
        .map(|p| stage_bindings_and_uses(&p.stmts))
        .collect();
    // needed[j]: names stage j (and later) read before binding them.
    let n = parts.len();
    let mut needed = vec![BTreeSet::new(); n + 1];
    for j in (0..n).rev() {
        let (bound, uses_before_bind) = &analysed[j];
        let mut set: BTreeSet<String> = needed[j + 1].difference(bound).cloned().collect();
        set.extend(uses_before_bind.iter().cloned());
        needed[j] = set;
    }
    // available[j]: loop-local names bound before stage j.
    let mut available = loop_bound.clone();
    let mut carried: Vec<Vec<Ident>> = Vec::new(); // carried[j]: into stage j (j >= 1)
    carried.push(Vec::new());
    for j in 1..n {
        available.extend(analysed[j - 1].0.iter().cloned());
        let vars = needed[j]
            .intersection(&available)
            .map(|name| Ident::new(name, Span::call_site()))
            .collect();
        carried.push(vars);
    }
    carried.push(Vec::new()); // nothing leaves the last stage

    let ctl = format_ident!("__para_ctl_{}", index, span = Span::mixed_site());
    let g = format_ident!("__para_graph", span = Span::mixed_site());
    let pat = &for_loop.pat;
    let source_expr = &for_loop.expr;
    let mut stmts = Vec::new();
    for (j, part) in parts.into_iter().enumerate() {
        let mut body = part.stmts;
        let mut rewriter = ControlRewriter {
            loop_label: loop_label.clone(),
            depth: 0,
            returns_option,
        };
        for stmt in &mut body {
            rewriter.visit_stmt_mut(stmt);
        }
        let outputs = &carried[j + 1];
        let next = quote!(::para::__private::Step::Next((#(#outputs,)*)));
        let port = format_ident!("__para_port_{}", j, span = Span::mixed_site());
        if j == 0 {
            stmts.push(quote! {
                #[allow(unused_mut, unused_variables, unreachable_code, clippy::useless_conversion)]
                let #port = #g.source(::para::__private::StreamSource::new(
                    &#ctl,
                    ::core::iter::IntoIterator::into_iter(#source_expr),
                    |__para_item| {
                        let #pat = __para_item;
                        #(#body)*
                        #next
                    },
                ));
            });
            continue;
        }
        let inputs = &carried[j];
        let prev = format_ident!("__para_port_{}", j - 1, span = Span::mixed_site());
        let (options, span) = part.options.expect("a marked stage");
        let serial = !(options.parallel || options.replicate.is_some());
        let closure = quote! {
            |__para_vars| {
                let (#(mut #inputs,)*) = __para_vars;
                #(#body)*
                #next
            }
        };
        let call = if serial {
            let ordered = options.ordered;
            quote_spanned!(span=> ::para::__private::serial_step(&mut #g, #prev, &#ctl, #ordered, #closure))
        } else {
            quote_spanned!(span=> ::para::__private::parallel_step(&mut #g, #prev, &#ctl, #closure))
        };
        stmts.push(quote! {
            #[allow(unused_mut, unused_variables, unreachable_code, clippy::useless_conversion)]
            let #port = #call;
        });
        if let Some(n) = &options.replicate {
            stmts.push(quote_spanned!(n.span()=> #g.replicate(#port.node(), #n);));
        }
        if let Some(p) = &options.priority {
            stmts.push(quote_spanned!(p.span()=> #g.priority(#port.node(), #p);));
        }
    }
    let last = format_ident!("__para_port_{}", n - 1, span = Span::mixed_site());
    let opts = crate::expand::option_calls(options);
    let tokens = quote! {{
        let #ctl = ::para::__private::Control::new();
        {
            let mut #g = ::para::__private::Graph::new();
            #(#stmts)*
            let _ = #last;
            #g.run_with(::para::__private::Options::new() #(#opts)*);
        }
        if let ::core::option::Option::Some(__para_value) = #ctl.take_return() {
            return __para_value;
        }
    }};
    syn::parse2(tokens)
}

/// The names a pattern binds.
fn pat_bindings(pat: &Pat, out: &mut BTreeSet<String>) {
    struct Bindings<'a>(&'a mut BTreeSet<String>);
    impl<'ast> Visit<'ast> for Bindings<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.insert(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
        fn visit_expr(&mut self, _: &'ast Expr) {}
    }
    Bindings(out).visit_pat(pat);
}

/// For one stage: the names its top-level `let`s bind, and the names it
/// reads before binding them.
fn stage_bindings_and_uses(stmts: &[Stmt]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut bound = BTreeSet::new();
    let mut uses = BTreeSet::new();
    for stmt in stmts {
        let mut used = BTreeSet::new();
        Uses(&mut used).visit_stmt(stmt);
        for name in used {
            if !bound.contains(&name) {
                uses.insert(name);
            }
        }
        if let Stmt::Local(local) = stmt {
            pat_bindings(&local.pat, &mut bound);
        }
    }
    (bound, uses)
}

/// Every single-identifier path (and identifier inside a macro call) used.
struct Uses<'a>(&'a mut BTreeSet<String>);

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if p.qself.is_none() && p.path.segments.len() == 1 {
            self.0.insert(p.path.segments[0].ident.to_string());
        }
        syn::visit::visit_expr_path(self, p);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        collect_idents(m.tokens.clone(), self.0);
    }
}

fn collect_idents(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                out.insert(ident.to_string());
            }
            TokenTree::Group(group) => collect_idents(group.stream(), out),
            TokenTree::Literal(lit) => {
                // Inline format arguments: `"{name}"`.
                let text = lit.to_string();
                if text.starts_with('"') {
                    for piece in text.split('{').skip(1) {
                        let name: String = piece
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            out.insert(name);
                        }
                    }
                }
            }
            TokenTree::Punct(_) => {}
        }
    }
}

/// Rewrites loop-level `continue`/`break`, and `return`/`?` anywhere outside
/// nested closures, into the stage's `Step` result.
struct ControlRewriter {
    loop_label: Option<String>,
    /// Nested loops entered (their plain `break`/`continue` are their own).
    depth: usize,
    returns_option: bool,
}

impl ControlRewriter {
    fn targets_stream(&self, label: &Option<syn::Lifetime>) -> bool {
        match label {
            Some(l) => self.loop_label.as_deref() == Some(&l.ident.to_string()),
            None => self.depth == 0,
        }
    }
}

impl VisitMut for ControlRewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Continue(c) if self.targets_stream(&c.label) => {
                let span = c.span();
                *expr = syn::parse_quote_spanned!(span=> return ::para::__private::Step::Skip);
            }
            Expr::Break(b) if self.targets_stream(&b.label) => {
                let span = b.span();
                *expr = syn::parse_quote_spanned!(span=> return ::para::__private::Step::Break);
            }
            Expr::Return(r) => {
                let span = r.span();
                let value = match r.expr.take() {
                    Some(mut value) => {
                        self.visit_expr_mut(&mut value);
                        quote!(#value)
                    }
                    None => quote!(()),
                };
                *expr = syn::parse_quote_spanned!(span=> return ::para::__private::Step::Return(#value));
            }
            Expr::Try(t) => {
                self.visit_expr_mut(&mut t.expr);
                let inner = &t.expr;
                let span = t.question_token.span();
                *expr = if self.returns_option {
                    syn::parse_quote_spanned!(span=> match #inner {
                        ::core::option::Option::Some(__para_ok) => __para_ok,
                        ::core::option::Option::None => {
                            return ::para::__private::Step::Return(::core::option::Option::None)
                        }
                    })
                } else {
                    syn::parse_quote_spanned!(span=> match #inner {
                        ::core::result::Result::Ok(__para_ok) => __para_ok,
                        ::core::result::Result::Err(__para_err) => {
                            return ::para::__private::Step::Return(::core::result::Result::Err(
                                ::core::convert::From::from(__para_err),
                            ))
                        }
                    })
                };
            }
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                self.depth += 1;
                syn::visit_mut::visit_expr_mut(self, expr);
                self.depth -= 1;
            }
            // Closures and async blocks keep their own control flow.
            Expr::Closure(_) | Expr::Async(_) => {}
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
