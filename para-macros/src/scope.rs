//! Which names a piece of code reads and mutates, following Rust's scopes.
//!
//! Both macros need to know what a closure body takes from its surroundings:
//! `#[para::pipeline]` to decide which loop locals travel from one stage to
//! the next, and both to point at a parallel stage that mutates captured
//! state. A list of identifiers would be wrong as soon as a name is shadowed
//! (`let x = ..; let x = ..;`), bound in an inner block, a closure parameter
//! or a `match` arm, so [`Scopes`] is a `syn::visit::Visit` visitor with a
//! stack of scopes: a name is *free* when it is read (or mutated) at a point
//! where no enclosing scope binds it.
//!
//! Macro calls are opaque to syn. Their tokens are parsed as comma-separated
//! expressions (`println!`, `format!`, `assert!`, `vec!`, `write!`...) or as
//! `expr; expr` (`vec![x; n]`) and visited like code; inline format arguments
//! (`"{name}"`) count as reads. Tokens that do not parse that way fall back to
//! every identifier being a read: an over-approximation, which at worst makes
//! an unused variable travel, never a used one stay behind.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{BinOp, Expr, Pat, Token};

/// A binding: its name and whether it was declared `mut`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub mutable: bool,
}

/// A mutation of a free name: the name and the mutating expression.
pub struct Mutation {
    pub name: String,
    pub tokens: TokenStream,
}

/// The scope-stack visitor. Start it with [`Scopes::new`], visit code, then
/// read `free` (names read while unbound, in first-use order) and
/// `mutations`; [`Scopes::outermost`] gives what the outermost scope bound.
pub struct Scopes {
    stack: Vec<Vec<Binding>>,
    /// Free names, each once, in the order first seen.
    pub free: Vec<String>,
    /// The free names of `free` used as a value somewhere, not only as the
    /// callee of a call (`parse(x)` reads `x` but calls `parse`, most
    /// likely a function), each once with the span of its first such use.
    pub values: Vec<(String, Span)>,
    /// Assignments, compound assignments and `&mut` borrows whose place is
    /// rooted in a free name (outside `unsafe` blocks).
    pub mutations: Vec<Mutation>,
    unsafe_depth: usize,
}

impl Scopes {
    /// A visitor whose outermost scope already binds `known`.
    pub fn new(known: impl IntoIterator<Item = String>) -> Self {
        Scopes {
            stack: vec![known
                .into_iter()
                .map(|name| Binding {
                    name,
                    mutable: false,
                })
                .collect()],
            free: Vec::new(),
            values: Vec::new(),
            mutations: Vec::new(),
            unsafe_depth: 0,
        }
    }

    /// Visits statements as the body of one block whose bindings stay in
    /// the outermost scope (a stage's top-level `let`s).
    pub fn visit_stmts(&mut self, stmts: &[syn::Stmt]) {
        for stmt in stmts {
            self.visit_stmt(stmt);
        }
    }

    /// The bindings of the outermost scope, the last binding of each name
    /// (a later `let x` shadows an earlier one).
    pub fn outermost(&self) -> Vec<Binding> {
        let mut out: Vec<Binding> = Vec::new();
        for binding in self.stack.first().into_iter().flatten() {
            out.retain(|b| b.name != binding.name);
            out.push(binding.clone());
        }
        out
    }

    fn is_bound(&self, name: &str) -> bool {
        self.stack.iter().flatten().any(|b| b.name == name)
    }

    /// A use of `name` as a value, at `span`.
    fn read(&mut self, name: String, span: Span) {
        if self.is_bound(&name) {
            return;
        }
        if !self.values.iter().any(|(n, _)| *n == name) {
            self.values.push((name.clone(), span));
        }
        self.called(name);
    }

    /// A use of `name` as the callee of a call: free, but not a value.
    fn called(&mut self, name: String) {
        if !self.is_bound(&name) && !self.free.contains(&name) {
            self.free.push(name);
        }
    }

    fn bind(&mut self, pat: &Pat) {
        let mut names = Vec::new();
        pat_bindings(pat, &mut names);
        if let Some(top) = self.stack.last_mut() {
            top.extend(names);
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.stack.push(Vec::new());
        f(self);
        self.stack.pop();
    }

    /// Records a mutation of `place` if its root is a free name.
    fn mutated(&mut self, place: &Expr, whole: &dyn quote::ToTokens) {
        if self.unsafe_depth > 0 {
            return;
        }
        if let Some(name) = place_root(place) {
            if !self.is_bound(&name) {
                self.mutations.push(Mutation {
                    name,
                    tokens: quote::ToTokens::to_token_stream(whole),
                });
            }
        }
    }

    fn visit_macro_tokens(&mut self, tokens: &TokenStream) {
        match macro_exprs(tokens) {
            Some(exprs) => {
                for expr in &exprs {
                    if let Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) = expr
                    {
                        for name in format_args_of(&s.value()) {
                            self.read(name, s.span());
                        }
                    }
                    self.visit_expr(expr);
                }
            }
            None => {
                let mut names = Vec::new();
                idents_of(tokens.clone(), &mut names);
                for (name, span) in names {
                    self.read(name, span);
                }
            }
        }
    }
}

/// A macro call's tokens as code: comma-separated expressions (`println!`,
/// `format!`, `assert!`, `vec![a, b]`...) or `expr; expr` (`vec![x; n]`);
/// `None` when they are neither.
pub fn macro_exprs(tokens: &TokenStream) -> Option<Vec<Expr>> {
    let list = |input: ParseStream| Punctuated::<Expr, Token![,]>::parse_terminated(input);
    let repeat = |input: ParseStream| {
        let value: Expr = input.parse()?;
        input.parse::<Token![;]>()?;
        let count: Expr = input.parse()?;
        Ok(vec![value, count])
    };
    match list.parse2(tokens.clone()) {
        Ok(list) => Some(list.into_iter().collect()),
        Err(_) => repeat.parse2(tokens.clone()).ok(),
    }
}

impl<'ast> Visit<'ast> for Scopes {
    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.scoped(|s| syn::visit::visit_block(s, block));
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // The initialiser (and a `let .. else` block) cannot see the names
        // the pattern binds: `let x = x + 1` reads the outer `x`.
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        self.bind(&local.pat);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        self.scoped(|s| {
            for input in &closure.inputs {
                s.bind(input);
            }
            s.visit_expr(&closure.body);
        });
    }

    fn visit_expr_for_loop(&mut self, for_loop: &'ast syn::ExprForLoop) {
        self.visit_expr(&for_loop.expr);
        self.scoped(|s| {
            s.bind(&for_loop.pat);
            s.visit_block(&for_loop.body);
        });
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        // `if let` (and let chains) bind for the `then` branch only.
        self.scoped(|s| {
            s.visit_expr(&expr.cond);
            s.visit_block(&expr.then_branch);
        });
        if let Some((_, else_branch)) = &expr.else_branch {
            self.visit_expr(else_branch);
        }
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        self.scoped(|s| {
            s.visit_expr(&expr.cond);
            s.visit_block(&expr.body);
        });
    }

    fn visit_expr_let(&mut self, expr: &'ast syn::ExprLet) {
        self.visit_expr(&expr.expr);
        self.bind(&expr.pat);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.scoped(|s| {
            s.bind(&arm.pat);
            if let Some((_, guard)) = &arm.guard {
                s.visit_expr(guard);
            }
            s.visit_expr(&arm.body);
        });
    }

    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        if let Some(ident) = single_ident(path) {
            self.read(ident.to_string(), ident.span());
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        let mut callee = &*call.func;
        while let Expr::Paren(inner) = callee {
            callee = &inner.expr;
        }
        match callee {
            Expr::Path(path) if single_ident(path).is_some() => {
                if let Some(ident) = single_ident(path) {
                    self.called(ident.to_string());
                }
                for arg in &call.args {
                    self.visit_expr(arg);
                }
            }
            _ => syn::visit::visit_expr_call(self, call),
        }
    }

    fn visit_expr_assign(&mut self, expr: &'ast syn::ExprAssign) {
        self.mutated(&expr.left, expr);
        syn::visit::visit_expr_assign(self, expr);
    }

    fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
        if is_compound_assignment(&expr.op) {
            self.mutated(&expr.left, expr);
        }
        syn::visit::visit_expr_binary(self, expr);
    }

    fn visit_expr_reference(&mut self, expr: &'ast syn::ExprReference) {
        if expr.mutability.is_some() {
            self.mutated(&expr.expr, expr);
        }
        syn::visit::visit_expr_reference(self, expr);
    }

    fn visit_expr_unsafe(&mut self, expr: &'ast syn::ExprUnsafe) {
        self.unsafe_depth += 1;
        syn::visit::visit_expr_unsafe(self, expr);
        self.unsafe_depth -= 1;
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_macro_tokens(&mac.tokens);
    }

    // Items cannot capture locals; their bodies are not ours to follow.
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// The name of a one-segment path such as `x` (not `a::x`, not `<T>::x`).
fn single_ident(path: &syn::ExprPath) -> Option<&syn::Ident> {
    match (
        &path.qself,
        path.path.leading_colon,
        path.path.segments.len(),
    ) {
        (None, None, 1) => Some(&path.path.segments[0].ident),
        _ => None,
    }
}

/// `a = `, `a += `, `a.b[i] -= `: the local the place belongs to. A place
/// reached through `*` is left out: it may be a raw pointer or a reference
/// the closure owns, which a `Fn` closure can write through.
fn place_root(place: &Expr) -> Option<String> {
    match place {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            Some(p.path.segments[0].ident.to_string())
        }
        Expr::Field(f) => place_root(&f.base),
        Expr::Index(i) => place_root(&i.expr),
        Expr::Paren(p) => place_root(&p.expr),
        _ => None,
    }
}

fn is_compound_assignment(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

/// The names a pattern binds, with their mutability (expressions inside
/// patterns, such as range bounds, bind nothing).
pub fn pat_bindings(pat: &Pat, out: &mut Vec<Binding>) {
    struct Bindings<'a>(&'a mut Vec<Binding>);
    impl<'ast> Visit<'ast> for Bindings<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(Binding {
                name: p.ident.to_string(),
                mutable: p.mutability.is_some(),
            });
            syn::visit::visit_pat_ident(self, p);
        }
        fn visit_expr(&mut self, _: &'ast Expr) {}
        fn visit_type(&mut self, _: &'ast syn::Type) {}
    }
    Bindings(out).visit_pat(pat);
}

/// Every identifier in a token stream but keywords (`self` aside), and the
/// inline arguments of its string literals, each with its span.
fn idents_of(tokens: TokenStream, out: &mut Vec<(String, Span)>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                if name == "self" || syn::parse2::<syn::Ident>(ident.to_token_stream()).is_ok() {
                    out.push((name, ident.span()));
                }
            }
            TokenTree::Group(group) => idents_of(group.stream(), out),
            TokenTree::Literal(lit) => {
                let span = lit.span();
                if let Ok(syn::Lit::Str(s)) =
                    syn::parse2::<syn::Lit>(TokenTree::Literal(lit).into())
                {
                    out.extend(format_args_of(&s.value()).into_iter().map(|n| (n, span)));
                }
            }
            TokenTree::Punct(_) => {}
        }
    }
}

/// The inline arguments of a format string: `"{a} {b:?} {{c}}"` -> a, b.
fn format_args_of(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => {
                let name: String =
                    std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_'))
                        .collect();
                let starts_like_ident = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_');
                if starts_like_ident {
                    names.push(name);
                }
            }
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_of(code: &str) -> Vec<String> {
        let block: syn::Block = syn::parse_str(&format!("{{ {code} }}")).unwrap();
        let mut scopes = Scopes::new([]);
        scopes.visit_stmts(&block.stmts);
        scopes.free
    }

    #[test]
    fn follows_scopes() {
        assert_eq!(free_of("let x = 1; let x = x + y; x"), ["y"]);
        assert_eq!(free_of("{ let t = 1; } t"), ["t"]);
        assert_eq!(free_of("let f = |x| x + 1; f(x)"), ["x"]);
        assert_eq!(
            free_of("match a { Some(b) if b > c => b, d => d }"),
            ["a", "c"]
        );
        assert_eq!(free_of("if let Some(v) = o { v } else { v }"), ["o", "v"]);
        assert_eq!(free_of("for i in v { i; } i"), ["v", "i"]);
        assert_eq!(free_of("println!(\"{a} {{b}} {}\", c)"), ["a", "c"]);
        assert_eq!(free_of("vec![x; n]"), ["x", "n"]);
        assert_eq!(free_of("m!(a b)"), ["a", "b"]);
        assert_eq!(free_of("fn f() { q }"), Vec::<String>::new());
    }

    fn values_of(code: &str) -> Vec<String> {
        let expr: syn::Expr = syn::parse_str(code).unwrap();
        let mut scopes = Scopes::new([]);
        scopes.visit_expr(&expr);
        scopes.values.into_iter().map(|(name, _)| name).collect()
    }

    #[test]
    fn tells_callees_from_values() {
        // `parse` and `f` are only called: functions (or closures), not
        // values; all are free.
        assert_eq!(values_of("|x| parse(x) + f(n)"), ["n"]);
        assert_eq!(free_of("parse(x) + (f)(n)"), ["parse", "x", "f", "n"]);
        // A name both called and used as a value is a value.
        assert_eq!(values_of("|x| g(x).map(g)"), ["g"]);
        assert_eq!(values_of("|x| self.f(x) + words.len()"), ["self", "words"]);
        // Paths of more than one segment are items; macro arguments count.
        assert_eq!(
            values_of("|x| std::cmp::max(x, T::MAX) + m::v"),
            Vec::<String>::new()
        );
        assert_eq!(
            values_of("|x| { println!(\"{total} {}\", x); m!(a in b) }"),
            ["total", "a", "b"]
        );
        // The call's callee expression is visited when it is not a name.
        assert_eq!(values_of("|x| (table[x])(x)"), ["table"]);
        assert_eq!(
            values_of("|x| { let f = |y| y; f(x) }"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn finds_mutations_of_free_names() {
        let block: syn::Block = syn::parse_str(
            "{ let mut own = 0; own += 1; total += 1; s.f = 2; v[0] = 1; let r = &mut w; \
             unsafe { G = 1; } *p = 3; }",
        )
        .unwrap();
        let mut scopes = Scopes::new([]);
        scopes.visit_stmts(&block.stmts);
        let names: Vec<_> = scopes.mutations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["total", "s", "v", "w"]);
    }
}
