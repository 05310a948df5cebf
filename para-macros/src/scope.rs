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

use proc_macro2::{TokenStream, TokenTree};
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

    fn read(&mut self, name: String) {
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
        let list = |input: ParseStream| Punctuated::<Expr, Token![,]>::parse_terminated(input);
        let repeat = |input: ParseStream| {
            let value: Expr = input.parse()?;
            input.parse::<Token![;]>()?;
            let count: Expr = input.parse()?;
            Ok(vec![value, count])
        };
        let exprs: Option<Vec<Expr>> = match list.parse2(tokens.clone()) {
            Ok(list) => Some(list.into_iter().collect()),
            Err(_) => repeat.parse2(tokens.clone()).ok(),
        };
        match exprs {
            Some(exprs) => {
                for expr in &exprs {
                    if let Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) = expr
                    {
                        for name in format_args_of(&s.value()) {
                            self.read(name);
                        }
                    }
                    self.visit_expr(expr);
                }
            }
            None => {
                let mut names = Vec::new();
                idents_of(tokens.clone(), &mut names);
                for name in names {
                    self.read(name);
                }
            }
        }
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
        if path.qself.is_none() && path.path.segments.len() == 1 {
            self.read(path.path.segments[0].ident.to_string());
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

/// Every identifier in a token stream, and the inline arguments of its
/// string literals.
fn idents_of(tokens: TokenStream, out: &mut Vec<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => out.push(ident.to_string()),
            TokenTree::Group(group) => idents_of(group.stream(), out),
            TokenTree::Literal(lit) => {
                if let Ok(syn::Lit::Str(s)) =
                    syn::parse2::<syn::Lit>(TokenTree::Literal(lit).into())
                {
                    out.extend(format_args_of(&s.value()));
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
