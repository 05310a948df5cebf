//! `?` in `pipeline!` stage closures (SPEC 1, "Errors").
//!
//! A closure stage whose own body uses `?` becomes a fallible stage: the
//! closure is rewritten to return `Result<Out, E>` (its value wrapped in
//! `Ok`), and the runtime stops the sources at the first `Err`, which the
//! pipeline then evaluates to. [`first_try`] finds the `?`, following the
//! body as the compiler will: a `?` inside a nested closure, an `async`
//! block or an item belongs to that, not to the stage. [`fallible_closure`]
//! does the rewrite.
//!
//! Macro calls are opaque to syn: their tokens are read as expressions
//! where they parse as such (as [`crate::scope`] does), and otherwise a `?`
//! token anywhere in them counts.

use crate::scope::macro_exprs;
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprClosure, ReturnType};

/// The span of the first `?` that belongs to `body` itself.
pub fn first_try(body: &Expr) -> Option<Span> {
    let mut finder = TryFinder { found: None };
    finder.visit_expr(body);
    finder.found
}

struct TryFinder {
    found: Option<Span>,
}

impl<'ast> Visit<'ast> for TryFinder {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        if self.found.is_none() {
            syn::visit::visit_expr(self, expr);
        }
    }

    fn visit_expr_try(&mut self, expr: &'ast syn::ExprTry) {
        syn::visit::visit_expr_try(self, expr);
        // An inner `?` (`a?.b()?`) comes first in the source.
        self.found.get_or_insert(expr.question_token.span);
    }

    // These have a `?` of their own.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        match macro_exprs(&mac.tokens) {
            Some(exprs) => {
                for expr in &exprs {
                    self.visit_expr(expr);
                }
            }
            None => {
                if self.found.is_none() {
                    self.found = question_mark(mac.tokens.clone());
                }
            }
        }
    }
}

/// The first `?` token in `tokens`, at any depth.
fn question_mark(tokens: TokenStream) -> Option<Span> {
    tokens.into_iter().find_map(|tt| match tt {
        TokenTree::Punct(p) if p.as_char() == '?' => Some(p.span()),
        TokenTree::Group(g) => question_mark(g.stream()),
        _ => None,
    })
}

/// `|pat| body` as `|pat| -> Result<_, _> { let v = body; Ok(v) }`: `move`, the
/// attributes and the parameters stay as written, a return type `-> T`
/// becomes `-> Result<T, _>`, and a `return v` of the body's own becomes
/// `return Ok(v)`. The error type is the pipeline's, inferred from how its
/// result is used; each `?` converts into it with `From`.
pub fn fallible_closure(closure: &ExprClosure) -> ExprClosure {
    let mut closure = closure.clone();
    let out = match &closure.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(_),
    };
    closure.output = syn::parse_quote!(-> ::core::result::Result<#out, _>);
    let mut body = (*closure.body).clone();
    ReturnsOk.visit_expr_mut(&mut body);
    // Bound first: `Ok({ .. })` around a block body would draw
    // `unused_braces` on the user's braces.
    let value = Ident::new("__para_value", Span::mixed_site());
    closure.body = Box::new(syn::parse_quote!({
        let #value = #body;
        ::core::result::Result::Ok(#value)
    }));
    closure
}

/// Wraps the value of each `return` that leaves the closure in `Ok`.
struct ReturnsOk;

impl VisitMut for ReturnsOk {
    fn visit_expr_return_mut(&mut self, ret: &mut syn::ExprReturn) {
        if let Some(value) = &mut ret.expr {
            self.visit_expr_mut(value);
        }
        let value = match ret.expr.take() {
            Some(value) => quote!(#value),
            None => quote!(()),
        };
        ret.expr = Some(Box::new(
            syn::parse_quote!(::core::result::Result::Ok(#value)),
        ));
    }

    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn uses_try(code: &str) -> bool {
        first_try(&syn::parse_str(code).unwrap()).is_some()
    }

    #[test]
    fn finds_the_stage_own_question_marks() {
        assert!(uses_try("x.parse::<u32>()?"));
        assert!(uses_try("{ let y = f(x)?; y + 1 }"));
        assert!(uses_try("match x { Some(v) => g(v)?, None => 0 }"));
        assert!(uses_try("if c { a } else { b? }"));
        assert!(uses_try("println!(\"{}\", f(x)?)"));
        assert!(uses_try("vec![f(x)?; 2]"));
        assert!(uses_try("m!(=> f(x)? <=)"));
        assert!(uses_try("for i in v { h(i)?; }"));
    }

    #[test]
    fn ignores_question_marks_of_nested_code() {
        assert!(!uses_try("x + 1"));
        assert!(!uses_try(
            "v.iter().map(|s| s.parse::<u32>()).collect::<Vec<_>>()"
        ));
        assert!(!uses_try(
            "{ let f = |s: &str| -> Result<u8, E> { Ok(s.parse()?) }; f(x) }"
        ));
        assert!(!uses_try("async move { g(x).await? }"));
        assert!(!uses_try("{ fn h() -> Option<u8> { None? } h() }"));
        assert!(!uses_try("println!(\"{}?\", x)"));
        assert!(!uses_try("vec![|s: &str| s.parse::<u8>().ok()?; 2]"));
    }

    fn rewrite(code: &str) -> String {
        let closure: ExprClosure = syn::parse_str(code).unwrap();
        fallible_closure(&closure).to_token_stream().to_string()
    }

    fn tokens(code: &str) -> String {
        syn::parse_str::<Expr>(code)
            .unwrap()
            .to_token_stream()
            .to_string()
    }

    #[test]
    fn rewrites_the_closure_to_return_a_result() {
        let ok = "let __para_value = ";
        let end = "; ::core::result::Result::Ok(__para_value) }";
        assert_eq!(
            rewrite("|x| f(x)?"),
            tokens(&format!(
                "|x| -> ::core::result::Result<_, _> {{ {ok} f(x)? {end}"
            ))
        );
        assert_eq!(
            rewrite("move |(a, b): (u8, u8)| -> u16 { g(a)? + b as u16 }"),
            tokens(&format!(
                "move |(a, b): (u8, u8)| -> ::core::result::Result<u16, _> {{ \
                 {ok} {{ g(a)? + b as u16 }} {end}"
            ))
        );
        assert_eq!(
            rewrite("|x| { if x { return; } let c = || { return 1; }; h()? }"),
            tokens(&format!(
                "|x| -> ::core::result::Result<_, _> {{ {ok} {{ \
                 if x {{ return ::core::result::Result::Ok(()); }} \
                 let c = || {{ return 1; }}; h()? }} {end}"
            ))
        );
    }
}
