//! Code generation for one `#[stream]` loop: a graph whose source is the
//! loop's iterator with the statements before the first mark applied, one
//! node per stage, run before the loop statement ends; then the function
//! returns what a stage's `return` or `?` recorded, if any.
//!
//! Generated code carries no blanket `allow` over user code: user
//! statements are emitted as written, so rustc's lints on them say what
//! they would say about the sequential loop. The one allow is on the
//! generated `let` that unpacks the travelling variables, whose `mut`
//! follows the user's binding and may be unused in a stage that only passes
//! the variable on.

use super::control::ControlRewriter;
use super::liveness;
use super::marks::StagePart;
use crate::error::{self, Errors};
use crate::model::OptionItem;
use crate::scope::{Binding, Scopes};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Ident;

/// The expansion of one stream loop (number `index` in its function),
/// whose body was cut into `parts`; mistakes found here (a parallel stage
/// mutating outer state) go to `errors`.
pub fn stream(
    for_loop: &syn::ExprForLoop,
    parts: Vec<StagePart>,
    options: &[OptionItem],
    index: usize,
    errors: &mut Errors,
) -> TokenStream {
    let loop_label = for_loop.label.as_ref().map(|l| l.name.ident.to_string());
    let stage_stmts: Vec<&[syn::Stmt]> = parts.iter().map(|p| p.stmts.as_slice()).collect();
    let carried = liveness::carried(&for_loop.pat, &stage_stmts);
    let ctl = format_ident!("__para_ctl_{}", index, span = Span::mixed_site());
    let g = format_ident!("__para_graph", span = Span::mixed_site());
    let pat = &for_loop.pat;
    let source_expr = &for_loop.expr;
    let n = parts.len();
    let mut stmts = Vec::new();
    for (j, part) in parts.into_iter().enumerate() {
        let mut body = part.stmts;
        if let Some((options, _)) = &part.mark {
            if options.is_parallel() {
                check_no_outer_mutation(&carried[j], &body, errors);
            }
        }
        let mut rewriter = ControlRewriter {
            loop_label: loop_label.clone(),
            depth: 0,
        };
        for stmt in &mut body {
            rewriter.visit_stmt_mut(stmt);
        }
        let outputs = idents(&carried[j + 1]);
        let next = quote!(::para::__private::Step::Next((#(#outputs,)*)));
        let port = format_ident!("__para_port_{}", j, span = Span::mixed_site());
        let Some((options, span)) = part.mark else {
            stmts.push(quote! {
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
        };
        let inputs = carried[j].iter().map(|b| {
            let name = Ident::new(&b.name, Span::call_site());
            if b.mutable {
                quote!(mut #name)
            } else {
                quote!(#name)
            }
        });
        let prev = format_ident!("__para_port_{}", j - 1, span = Span::mixed_site());
        let closure = quote! {
            |__para_vars| {
                #[allow(unused_mut)]
                let (#(#inputs,)*) = __para_vars;
                #(#body)*
                #next
            }
        };
        let call = if options.is_parallel() {
            quote_spanned!(span=> ::para::__private::parallel_step(&mut #g, #prev, &#ctl, #closure))
        } else {
            let ordered = options.ordered;
            quote_spanned!(span=> ::para::__private::serial_step(&mut #g, #prev, &#ctl, #ordered, #closure))
        };
        stmts.push(quote!(let #port = #call;));
        if let Some(n) = &options.replicate {
            stmts.push(quote_spanned!(n.span()=> #g.replicate(#port.node(), #n);));
        }
        if let Some(p) = &options.priority {
            stmts.push(quote_spanned!(p.span()=> #g.priority(#port.node(), #p);));
        }
    }
    let last = format_ident!("__para_port_{}", n - 1, span = Span::mixed_site());
    let opts = crate::expand::option_calls(options);
    quote! {{
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
    }}
}

fn idents(bindings: &[Binding]) -> Vec<Ident> {
    bindings
        .iter()
        .map(|b| Ident::new(&b.name, Span::call_site()))
        .collect()
}

/// A parallel stage runs on many workers at once, so it may not assign to,
/// or `&mut`-borrow, anything but its own variables (those it binds and
/// those that travel into it). Method calls that need `&mut self` cannot be
/// told from syntax; rustc reports those (E0596, "cannot borrow as
/// mutable, as it is a captured variable in a `Fn` closure").
fn check_no_outer_mutation(carried: &[Binding], body: &[syn::Stmt], errors: &mut Errors) {
    let mut scopes = Scopes::new(carried.iter().map(|b| b.name.clone()));
    scopes.visit_stmts(body);
    for m in scopes.mutations {
        errors.push(error::parallel_mutation(
            &m.tokens,
            &m.name,
            error::STAGE_FIX,
        ));
    }
}
