//! Control flow of a stage body keeps its sequential meaning. The body
//! becomes a closure returning `::para::__private::Step`, so:
//! * a `continue` of the stream loop drops the item (`Step::Skip`);
//! * a `break` of the stream loop stops the source (`Step::Break`);
//! * `return v` and `?` stop the stream and make the function return `v`
//!   (`Step::Return`), once the workers are done.
//!
//! `?` is decided by types, not by how the return type is spelled: the
//! operand goes through `__private::TryValue::branch` and the residual
//! through `__private::TryReturn::from_residual` into the function's return
//! type, which the `Control` of the loop ties to the function's own `return`
//! (`Option` and `Result`, through aliases too, with `From` on errors, as
//! `?` does). Nested loops keep their own `break`/`continue`, and closures,
//! async blocks and items their own `return` and `?`.

use quote::quote;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// Rewrites loop-level `continue`/`break`, and `return`/`?` anywhere outside
/// nested closures, into the stage's `Step` result.
pub struct ControlRewriter {
    /// The stream loop's label, if any (`break 'outer` may target it).
    pub loop_label: Option<String>,
    /// Nested loops entered (their plain `break`/`continue` are their own).
    pub depth: usize,
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
                *expr = syn::parse_quote_spanned! {span=>
                    match ::para::__private::TryValue::branch(#inner) {
                        ::core::result::Result::Ok(__para_ok) => __para_ok,
                        ::core::result::Result::Err(__para_residual) => {
                            return ::para::__private::Step::Return(
                                ::para::__private::TryReturn::from_residual(__para_residual),
                            )
                        }
                    }
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
