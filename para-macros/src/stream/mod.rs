//! `#[para::pipeline]`: a function whose `#[stream] for` loops are cut into
//! stages at `#[stage(...)]` marks and run as a pipeline (the SPar model).
//!
//! For each stream loop:
//! * [`marks`] finds the marks and their options and cuts the loop body:
//!   the statements before the first mark run in the source, in iteration
//!   order; each mark starts a stage holding the statements up to the next;
//! * [`liveness`] decides which loop locals travel from one stage to a later
//!   one (those a later stage reads, following Rust's scopes);
//! * [`control`] keeps the loop's control flow: a loop-level `continue`
//!   drops the item, `break` stops the source, `return` and `?` stop the
//!   stream and make the function return that value once the run is over;
//! * [`expand`] emits the graph.
//!
//! The attribute's options are parsed by the same parser as `pipeline!`'s,
//! and every message comes from [`crate::error`]. All mistakes of one
//! function are reported together; the function is then emitted without
//! the marks, as the sequential code it was, so no follow-up error appears.

mod control;
mod expand;
mod liveness;
mod marks;

use crate::error::{self, Errors};
use crate::model::OptionItem;
use marks::{expr_attrs, is_attr, StrayMarks, StripMarks};
use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ItemFn};

/// Entry point: the attribute's arguments and the function.
pub fn expand_attr(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let expanded = expand_fn(args, item.clone(), &mut errors);
    match (expanded, errors.finish()) {
        (Some(tokens), Ok(())) => tokens,
        (_, result) => {
            let errors = result.err().map(|e| e.to_compile_error());
            // Keep the function, without our marks, so the rest of the crate
            // still type-checks and only our errors are reported.
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

fn expand_fn(args: TokenStream, item: TokenStream, errors: &mut Errors) -> Option<TokenStream> {
    let parsed = (|input: ParseStream| crate::parse::attr_options(input, errors)).parse2(args);
    let options = errors.ok(parsed).unwrap_or_default();
    let mut func: ItemFn = errors.ok(syn::parse2(item))?;
    let mut finder = StreamFinder {
        options: &options,
        found: 0,
        errors,
    };
    finder.visit_block_mut(&mut func.block);
    if finder.found == 0 {
        errors.push(error::no_stream_loop(func.sig.ident.span()));
    }
    // A mark left anywhere is outside a stream loop.
    StrayMarks(errors).visit_block(&func.block);
    Some(quote!(#func))
}

/// Finds `#[stream]` loops (not inside nested closures or items) and
/// replaces each with its pipeline.
struct StreamFinder<'o, 'e> {
    options: &'o [OptionItem],
    found: usize,
    errors: &'e mut Errors,
}

impl VisitMut for StreamFinder<'_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let marked =
            expr_attrs(expr).and_then(|attrs| attrs.iter().position(|a| is_attr(a, "stream")));
        let (Some(index), Some(attrs)) = (marked, expr_attrs(expr)) else {
            syn::visit_mut::visit_expr_mut(self, expr);
            return;
        };
        let attr = attrs.remove(index);
        // Counted even when misplaced: "no `#[stream]` loop" would only
        // repeat the error below.
        self.found += 1;
        let Expr::ForLoop(for_loop) = expr else {
            self.errors
                .push(error::stream_not_a_for_loop(attr.path().span()));
            syn::visit_mut::visit_expr_mut(self, expr);
            return;
        };
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            self.errors
                .push(error::stream_takes_no_arguments(&attr.meta));
        }
        let body = std::mem::take(&mut for_loop.body.stmts);
        let parts = marks::split_stages(body, self.errors);
        let tokens = expand::stream(for_loop, parts, self.options, self.found, self.errors);
        match syn::parse2(tokens) {
            Ok(replacement) => *expr = replacement,
            Err(e) => self.errors.push(e),
        }
    }

    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
