//! `pipeline!(cluster = cx, ...)`: the validated model expanded into calls
//! of `para::cluster`'s graph builder, inside the closure that
//! `run_graph` builds the timely dataflow with. The grammar is the same;
//! what cannot run distributed is a compile error on its token.

use crate::error;
use crate::expand::closure_combinator;
use crate::model::{unparen, Model, Node, OptionKey};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Expr;

fn graph() -> Ident {
    Ident::new("__para_graph", Span::mixed_site())
}

fn port_var(id: usize) -> Ident {
    format_ident!("__para_port_{}", id, span = Span::mixed_site())
}

fn node_var(id: usize) -> Ident {
    format_ident!("__para_node_{}", id, span = Span::mixed_site())
}

fn out_var(id: usize, k: usize) -> Ident {
    format_ident!("__para_out_{}_{}", id, k, span = Span::mixed_site())
}

/// The grammar elements that cannot run on a cluster, each an error on
/// its own token.
pub fn check(model: &Model) -> syn::Result<()> {
    let mut errors = error::Errors::default();
    for option in &model.options {
        let why = match option.key {
            OptionKey::Threads => {
                "the workers are timely's: `-w` workers per process and `-n` processes, \
                 given to `para::cluster::execute_from_args`"
            }
            OptionKey::Pool => "a cluster's workers are timely's threads, not a rayon pool",
            OptionKey::Scope => "a cluster pipeline returns once every stage has finished",
            OptionKey::Trace => {
                "the trace records one machine's workers; a cluster's workers are timely's"
            }
            OptionKey::Progress => {
                "the progress line reads one machine's counters; a cluster's items are spread \
                 over its processes"
            }
            _ => continue,
        };
        errors.push(error::not_on_cluster(
            option.span,
            &format!("the option `{}`", option_name(option.key)),
            why,
        ));
    }
    for node in model.nodes.iter().filter(|n| !n.dead) {
        if let Some(y) = node.yield_expr() {
            errors.push(error::not_on_cluster(
                y.yield_token.span,
                "`yield`",
                "results come out through sinks, which run on worker 0 of process 0",
            ));
        }
        if let Some((span, ..)) = &node.attrs.gpu {
            errors.push(error::not_on_cluster(
                *span,
                "`#[gpu]`",
                "device lanes belong to one machine; call the device from a `#[serial]` stage",
            ));
        }
        if let Some(n) = &node.attrs.replicate {
            errors.push(error::not_on_cluster(
                n.span(),
                "`#[replicate]`",
                "every worker runs its own copy of a parallel stage",
            ));
        }
        if let Some(p) = &node.attrs.priority {
            errors.push(error::not_on_cluster(
                p.span(),
                "`#[priority]`",
                "timely schedules the operators",
            ));
        }
        if let Some(span) = node.fallible {
            errors.push(error::not_on_cluster(
                span,
                "`?` in a stage",
                "emit a `Result` and handle the error in a sink",
            ));
        }
    }
    errors.finish()
}

fn option_name(key: OptionKey) -> &'static str {
    match key {
        OptionKey::Threads => "threads",
        OptionKey::Capacity => "capacity",
        OptionKey::Batch => "batch",
        OptionKey::Pool => "pool",
        OptionKey::Scope => "scope",
        OptionKey::Cluster => "cluster",
        OptionKey::Trace => "trace",
        OptionKey::Progress => "progress",
    }
}

/// The expansion: `run_graph(cx, options, |g| { .. builder calls .. })`.
pub fn expand(model: &Model) -> TokenStream {
    let g = graph();
    let cx = model.cluster().expect("a cluster model");
    let stmts: Vec<TokenStream> = model
        .order
        .iter()
        .map(|&id| node_stmts(model, id))
        .collect();
    let options = model.options.iter().filter_map(|option| {
        let value = &option.value;
        let method = match option.key {
            OptionKey::Capacity => quote!(capacity),
            OptionKey::Batch => quote!(batch),
            _ => return None,
        };
        Some(quote_spanned!(option.span=> .#method(#value)))
    });
    quote! {
        ::para::cluster::__private::run_graph(
            #cx,
            ::para::cluster::__private::Options::new() #(#options)*,
            |#g| { #(#stmts)* },
        )
    }
}

fn input_port(model: &Model, id: usize) -> TokenStream {
    let node = &model.nodes[id];
    let g = graph();
    let ports: Vec<Ident> = node
        .inputs
        .iter()
        .enumerate()
        .map(|(j, &up)| {
            let rank = node.inputs[..j].iter().filter(|&&u| u == up).count();
            let k = model.nodes[up]
                .consumers
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c == id)
                .nth(rank)
                .map_or(0, |(k, _)| k);
            out_var(up, k)
        })
        .collect();
    match ports.as_slice() {
        [one] => quote!(#one),
        [_, ..] => quote!(#g.fan_in([#(#ports),*])),
        [] => quote!(::core::unreachable!()),
    }
}

fn node_stmts(model: &Model, id: usize) -> TokenStream {
    let node = &model.nodes[id];
    let g = graph();
    let port = port_var(id);
    let node_id = node_var(id);
    let span = node.span;
    let input = format_ident!("__para_input_{}", id, span = Span::mixed_site());
    let mut out = if node.is_source {
        let body = unparen(&node.body);
        let create = if node.attrs.split.is_some() {
            quote_spanned!(body.span()=> #g.split_source(#body))
        } else {
            quote_spanned!(body.span()=> #g.source(#body))
        };
        quote_spanned! {span=>
            let #port = #create;
            let #node_id = #port.node();
        }
    } else {
        let from = input_port(model, id);
        let create = stage(node, &input);
        let prelude = quote!(let #input = #from;);
        if node.is_sink() && returns_node_id(node) {
            quote_spanned!(span=> #prelude let #node_id = #create;)
        } else if node.is_sink() {
            quote_spanned! {span=>
                #prelude
                let #port = #create;
                let #node_id = #g.end(#port);
            }
        } else {
            quote_spanned! {span=>
                #prelude
                let #port = #create;
                let #node_id = #port.node();
            }
        }
    };
    if let Some(label) = &node.label {
        let name = label.ident.to_string();
        out.extend(quote!(#g.label(#node_id, #name);));
    } else {
        out.extend(quote!(let _ = #node_id;));
    }
    match node.consumers.len() {
        0 => {}
        1 => {
            let out0 = out_var(id, 0);
            out.extend(quote!(let #out0 = #port;));
        }
        n => {
            let fan = format_ident!("__para_fan_{}", id, span = Span::mixed_site());
            let outs = (0..n).map(|k| out_var(id, k));
            let fan_span = node.fan_span.unwrap_or(span);
            let moved = Ident::new(&port.to_string(), Span::mixed_site().located_at(fan_span));
            out.extend(quote_spanned! {fan_span=>
                let mut #fan = #g.fan_out(#moved, #n).into_iter();
                #(let #outs = #fan.next().expect("one port per branch");)*
            });
        }
    }
    out
}

/// Whether the builder call for this sink returns a node id (closure
/// sinks) rather than a port.
fn returns_node_id(node: &Node) -> bool {
    matches!(unparen(&node.body), Expr::Closure(_))
}

fn stage(node: &Node, input: &Ident) -> TokenStream {
    let body = &node.body;
    let span = body.span();
    // Spanned at the stage, so an unmet bound (an item without serde)
    // points at the stage it reaches.
    let g = Ident::new(&graph().to_string(), Span::mixed_site().located_at(span));
    let input = Ident::new(&input.to_string(), Span::mixed_site().located_at(span));
    if let Some((call, func, args)) = closure_combinator(body) {
        return quote_spanned!(span=> ::para::cluster::__private::#call::add(#func, &mut *#g, #input, #(#args),*));
    }
    let body = unparen(body);
    let closure = matches!(body, Expr::Closure(_));
    let attrs = &node.attrs;
    let method = match (
        node.is_sink(),
        attrs.ordered.is_some(),
        attrs.serial.is_some(),
        attrs.parallel.is_some(),
    ) {
        (true, true, ..) if closure => "ordered_sink",
        (false, true, ..) if closure => "ordered_map",
        (false, _, true, _) if closure => "serial_map",
        (false, ..) if closure => "map",
        (true, _, _, true) if closure => "parallel_sink",
        (true, ..) if closure => "sink",
        (_, true, _, _) => "ordered_body",
        (false, _, true, _) => "serial_body",
        (false, ..) => "map_body",
        (true, _, _, true) => "map_body",
        (true, ..) => "serial_body",
    };
    let method = Ident::new(method, span);
    if closure {
        quote_spanned!(span=> #g.#method(#input, #body))
    } else {
        quote_spanned!(span=> ::para::cluster::__private::#method(&mut *#g, #input, #body))
    }
}
