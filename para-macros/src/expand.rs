//! Expanding the validated model into calls of the runtime's builder,
//! reached only through `::para::__private`. Each node becomes one typed
//! builder call, spanned at its stage, so a type error on an edge lands on the
//! stage that does not fit; node ids are the creation order, fixed at compile
//! time.

use crate::fallible;
use crate::model::{unparen, Model, Node, OptionItem, OptionKey};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprCall};

/// The builder variable inside the expansion.
fn graph() -> Ident {
    Ident::new("__para_graph", Span::mixed_site())
}

fn port_var(id: usize) -> Ident {
    format_ident!("__para_port_{}", id, span = Span::mixed_site())
}

fn node_var(id: usize) -> Ident {
    format_ident!("__para_node_{}", id, span = Span::mixed_site())
}

/// The port that edge number `k` out of node `id` takes.
fn out_var(id: usize, k: usize) -> Ident {
    format_ident!("__para_out_{}_{}", id, k, span = Span::mixed_site())
}

/// The error slot that fallible stages share (declared before the graph,
/// which borrows it).
fn errors_var() -> Ident {
    Ident::new("__para_errors", Span::mixed_site())
}

/// The stream port of the `yield` node.
fn stream_var() -> Ident {
    Ident::new("__para_stream", Span::mixed_site())
}

/// The expansion of a valid model: a block that builds the graph and runs
/// it (a `Report`), or spawns it (with `yield`: a `Stream`); with `?` in a
/// stage, the same in a `Result` (a `Stream` of `Result`s).
pub fn expand(model: &Model) -> TokenStream {
    let g = graph();
    let mut stmts = Vec::new();
    for &id in &model.order {
        stmts.push(node_stmts(model, id));
    }
    let options = option_calls(&model.options);
    let options = quote!(::para::__private::Options::new() #(#options)*);
    let fallible = model.is_fallible();
    let errors = errors_var();
    let slot = fallible.then(|| quote!(let #errors = ::para::__private::ErrorSlot::new();));
    let end = match model.output.and_then(|id| model.nodes[id].yield_expr()) {
        None if fallible => {
            quote!(::para::__private::finish_run(#errors, #g.run_with(#options)))
        }
        None => quote!(#g.run_with(#options)),
        Some(y) => {
            // At the `yield`, the graph included: without `scope` this call
            // needs `'static` stages, and rustc reports a borrow the macro
            // could not point at (a source `words.iter()`, a `move` closure
            // holding a reference) as this argument requiring it.
            let span = y.yield_token.span;
            let g = Ident::new(&g.to_string(), Span::mixed_site().located_at(span));
            let stream = stream_var();
            let spawn = match model.scope() {
                Some(scope) => {
                    quote_spanned!(span=> #g.spawn_scoped_with(#scope, #stream, #options))
                }
                None => quote_spanned!(span=> #g.spawn_with(#stream, #options)),
            };
            if fallible {
                quote!(::para::__private::finish_stream(#errors, #spawn))
            } else {
                spawn
            }
        }
    };
    quote! {{
        #slot
        let mut #g = ::para::__private::Graph::new();
        #(#stmts)*
        #end
    }}
}

/// The `Options` builder calls for the run options, each spanned at its key.
pub fn option_calls(options: &[OptionItem]) -> Vec<TokenStream> {
    options
        .iter()
        .filter_map(|option| {
            let value = &option.value;
            let method = match option.key {
                OptionKey::Threads => quote!(threads),
                OptionKey::Capacity => quote!(capacity),
                OptionKey::Batch => quote!(batch),
                OptionKey::Pool => quote!(pool),
                // By reference, so a literal, a `PathBuf` and a `&Path` all do.
                OptionKey::Trace => {
                    return Some(quote_spanned!(option.span=> .trace(&(#value))));
                }
                OptionKey::Progress => quote!(progress),
                // Not a run setting: it picks `spawn_scoped_with`.
                OptionKey::Scope => return None,
                // Not a run setting: it picks the cluster expansion.
                OptionKey::Cluster => return None,
            };
            Some(quote_spanned!(option.span=> .#method(#value)))
        })
        .collect()
}

/// The input port of node `id`: one upstream port, or several joined.
fn input_port(model: &Model, id: usize) -> TokenStream {
    let node = &model.nodes[id];
    let g = graph();
    let ports: Vec<Ident> = node
        .inputs
        .iter()
        .enumerate()
        .map(|(j, &up)| {
            // The j-th edge from `up` into `id` is `up`'s consumer slot of the
            // same occurrence rank.
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
        [first, rest @ ..] => {
            // Each further branch is checked against the first, spanned at
            // the stage that ends it, so a type mismatch names both types
            // and points at the branch that differs.
            let checked: Vec<Ident> = (1..ports.len())
                .map(|k| format_ident!("__para_branch_{}", k, span = Span::mixed_site()))
                .collect();
            let checks = rest.iter().zip(&node.inputs[1..]).zip(&checked).map(|((port, &up), var)| {
                let span = model.nodes[up].span;
                let port = Ident::new(&port.to_string(), Span::mixed_site().located_at(span));
                quote_spanned!(span=> let #var = ::para::__private::fan_in_branch(&#first, #port);)
            });
            quote!({
                #(#checks)*
                #g.fan_in([#first #(, #checked)*])
            })
        }
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
    if let Some(y) = node.yield_expr() {
        let port = input_port(model, id);
        let stream = stream_var();
        let ordered = node.attrs.ordered.is_some();
        let create = if model.is_fallible() {
            quote!(::para::__private::try_yield(&mut #g, #input, #ordered))
        } else if ordered {
            quote!(#g.ordered_stream(#input))
        } else {
            quote!(#g.stream(#input))
        };
        let mut out = quote_spanned! {y.yield_token.span=>
            let #input = #port;
            let #stream = #create;
        };
        if let Some(label) = &node.label {
            let name = label.ident.to_string();
            out.extend(quote!(#g.label(#stream.node(), #name);));
        }
        return out;
    }
    let fused = fused_fold(model, id);
    let fused_tail = fused_map(model, id);
    let mut out = if let Some(tail) = fused_tail {
        // This map and the one after it, built as one loop: the second's
        // port comes out here, and its own statements only name it.
        let port = input_port(model, id);
        let tail_port = port_var(tail);
        let (first, second) = (unparen(&node.body), unparen(&model.nodes[tail].body));
        quote_spanned! {span=>
            let #input = #port;
            let (#node_id, #tail_port) = #g.map_then(#input, #first, #second);
        }
    } else if model.nodes[id].inputs.len() == 1
        && fused_map(model, model.nodes[id].inputs[0]) == Some(id)
    {
        quote_spanned!(span=> let #node_id = #port.node();)
    } else if let Some(fold) = fused {
        // This stage and the fold after it, built as one loop: the fold's
        // port comes out here, and the fold's own statements only name it.
        let port = input_port(model, id);
        let fold_port = port_var(fold);
        let create = fused_stage(node, &model.nodes[fold], quote!(#input));
        quote_spanned! {span=>
            let #input = #port;
            let (#node_id, #fold_port) = #create;
        }
    } else if model.nodes[id].inputs.len() == 1
        && fused_fold(model, model.nodes[id].inputs[0]) == Some(id)
    {
        quote_spanned!(span=> let #node_id = #port.node();)
    } else {
        let (prelude, create) = if node.is_source {
            (quote!(), source(node))
        } else {
            let port = input_port(model, id);
            (quote!(let #input = #port;), stage(node, quote!(#input)))
        };
        let mut out = prelude;
        out.extend(if node.is_sink() && returns_node_id(node) {
            quote_spanned!(span=> let #node_id = #create;)
        } else {
            quote_spanned! {span=>
                let #port = #create;
                let #node_id = #port.node();
            }
        });
        out
    };
    if let Some(label) = &node.label {
        let name = label.ident.to_string();
        out.extend(quote!(#g.label(#node_id, #name);));
    }
    if let Some(priority) = &node.attrs.priority {
        out.extend(quote_spanned!(priority.span()=> #g.priority(#node_id, #priority);));
    }
    if let Some(n) = &node.attrs.replicate {
        out.extend(quote_spanned!(n.span()=> #g.replicate(#node_id, #n);));
    }
    match node.consumers.len() {
        // A fused stage's one consumer is its fold or second map, which has
        // no input port.
        _ if fused.is_some() || fused_tail.is_some() => {}
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
                let mut #fan = ::para::__private::fan_out(&mut #g, #moved, #n);
                #(let #outs = #fan.next().expect("one port per branch");)*
            });
        }
    }
    let _ = node_id;
    out
}

/// The fold that stage `id` is fused with, if any: a parallel per-item
/// stage (a map closure, or `filter`, `filter_map`, `flat_map` or
/// `inspect` called with one argument) whose only consumer is a
/// `fold(init, op)` with no other input, neither with attributes or `?`.
/// The pair runs as one loop (see `para-runtime`'s `nodes::fold`): the
/// stage's output is never written out as a batch.
fn fused_fold(model: &Model, id: usize) -> Option<usize> {
    let node = &model.nodes[id];
    let &[fold] = node.consumers.as_slice() else {
        return None;
    };
    let fold_node = &model.nodes[fold];
    let fusable = plain(node)
        && plain(fold_node)
        && fold_node.inputs == [id]
        && fused_pre(&node.body).is_some()
        && call_named(&fold_node.body, "fold", 2).is_some();
    fusable.then_some(fold)
}

/// Whether node `n` is a stage with no attribute, no `?` and no `yield`,
/// which a fusion may run in one loop with its neighbour.
fn plain(n: &Node) -> bool {
    !n.dead && !n.is_source && n.fallible.is_none() && n.yield_expr().is_none() && {
        let a = &n.attrs;
        a.ordered.is_none()
            && a.serial.is_none()
            && a.parallel.is_none()
            && a.split.is_none()
            && a.replicate.is_none()
            && a.priority.is_none()
            && a.gpu.is_none()
    }
}

/// The map that map `id` is fused with, if any (`Graph::map_then`): two
/// plain closure stages in a row that are neither sinks nor fused with a
/// fold, the first's only consumer being the second and the second's only
/// input the first. Along a chain of maps, pairs are taken from the front
/// (`a => b => c => d` fuses `a` with `b` and `c` with `d`).
fn fused_map(model: &Model, id: usize) -> Option<usize> {
    let is_map =
        |n: &Node| plain(n) && !n.is_sink() && matches!(unparen(&n.body), Expr::Closure(_));
    let node = &model.nodes[id];
    let &[tail] = node.consumers.as_slice() else {
        return None;
    };
    let tail_node = &model.nodes[tail];
    let pair = is_map(node)
        && is_map(tail_node)
        && tail_node.inputs == [id]
        && fused_fold(model, id).is_none()
        && fused_fold(model, tail).is_none();
    // A map that is already the second of a pair starts none.
    let taken = || match node.inputs.as_slice() {
        &[up] => fused_map(model, up) == Some(id),
        _ => false,
    };
    (pair && !taken()).then_some(tail)
}

/// The per-item stage of a fusable pair: a map closure (`None`), or the
/// callee and argument of a `filter`, `filter_map`, `flat_map` or
/// `inspect` call (with its trait).
fn fused_pre(body: &Expr) -> Option<Option<(Ident, &Expr, &Expr)>> {
    if let Expr::Closure(_) = unparen(body) {
        return Some(None);
    }
    let traits = [
        ("filter", "FilterFoldCall"),
        ("filter_map", "FilterMapFoldCall"),
        ("flat_map", "FlatMapFoldCall"),
        ("inspect", "InspectFoldCall"),
    ];
    traits.iter().find_map(|&(name, call)| {
        let (func, args) = call_named(body, name, 1)?;
        Some(Some((Ident::new(call, func.span()), func, args[0])))
    })
}

/// `body` as a call of a path ending in `name` with `arity` arguments (not
/// in parentheses, which keep a user's own function of that name): the
/// callee and the arguments.
fn call_named<'e>(body: &'e Expr, name: &str, arity: usize) -> Option<(&'e Expr, Vec<&'e Expr>)> {
    let Expr::Call(ExprCall { func, args, .. }) = body else {
        return None;
    };
    let Expr::Path(path) = &**func else {
        return None;
    };
    let named = path.path.segments.last()?.ident == name && args.len() == arity;
    named.then(|| (&**func, args.iter().collect()))
}

/// The builder call of a fused pair (see [`fused_fold`]): the stage's node
/// and the fold's port.
fn fused_stage(pre: &Node, fold: &Node, input: TokenStream) -> TokenStream {
    let g = graph();
    let span = pre.body.span();
    let (fold_func, fold_args) = call_named(&fold.body, "fold", 2).expect("checked by fused_fold");
    let (init, op) = (fold_args[0], fold_args[1]);
    match fused_pre(&pre.body).expect("checked by fused_fold") {
        Some((call, func, arg)) => quote_spanned!(span=>
            ::para::__private::#call::add((#func, #fold_func), &mut #g, #input, #arg, #init, #op)),
        None => {
            let closure = unparen(&pre.body);
            quote_spanned!(span=>
                ::para::__private::MapFoldCall::add(#fold_func, &mut #g, #input, #closure, #init, #op))
        }
    }
}

/// Whether the builder call for this sink returns a `NodeId` (closure sinks)
/// rather than a port (combinators, stage values, device stages).
fn returns_node_id(node: &Node) -> bool {
    node.attrs.gpu.is_none() && matches!(unparen(&node.body), Expr::Closure(_))
}

// Bodies are passed unparenthesised (`unparen`): as call arguments,
// parentheses would only draw `unused_parens`.
fn source(node: &Node) -> TokenStream {
    let g = graph();
    let body = unparen(&node.body);
    if node.attrs.split.is_some() {
        quote_spanned!(body.span()=> #g.split_source(#body))
    } else {
        // An `IntoIterator` or a `para::Feed`, told apart by trait.
        quote_spanned!(body.span()=> ::para::__private::source(&mut #g, #body))
    }
}

/// A call `name(|..| ..)` of a closure combinator's name with a closure
/// (`fold(init, |acc, x| ..)`: an initialiser, then the closure): the
/// `__private` trait that adds it, the callee and the arguments.
///
/// Only closure combinators need this: their closure's parameter type must
/// come from the input port before the closure is type-checked, which a
/// plain `filter(|&x| ..)` value cannot give. The trait is implemented only
/// for callees that build Para's combinator (`FnOnce(F) -> Filter<F>`), and
/// the callee is the user's own path, so Rust's name resolution decides:
/// Para's `filter` works with full inference, and a user's own `filter`
/// taking a closure is a compile error naming it (never silently replaced
/// by ours), whose note says to write `(filter(..))`. Parentheses, or any
/// other argument than a closure literal (`take(3)`, `batch(n)`, `filter(f)`),
/// take the generic path below: the expression is the user's, evaluated as
/// written, and used as a `Stage` value or a function.
pub(crate) fn closure_combinator(body: &Expr) -> Option<(Ident, &Expr, Vec<&Expr>)> {
    let Expr::Call(ExprCall { func, args, .. }) = body else {
        return None;
    };
    let Expr::Path(path) = &**func else {
        return None;
    };
    let name = path.path.segments.last()?.ident.to_string();
    // The name, the `__private` trait, and how many arguments come before
    // the closure (`fold(init, |acc, x| ..)` has one).
    let known = [
        ("filter", "FilterCall", 0),
        ("filter_map", "FilterMapCall", 0),
        ("flat_map", "FlatMapCall", 0),
        ("inspect", "InspectCall", 0),
        ("take_while", "TakeWhileCall", 0),
        ("fold", "FoldCall", 1),
    ];
    let &(_, call, leading) = known.iter().find(|(n, _, _)| *n == name)?;
    let args: Vec<&Expr> = args.iter().collect();
    if args.len() != leading + 1 || !matches!(args[leading], Expr::Closure(_)) {
        return None;
    }
    Some((Ident::new(call, func.span()), &**func, args))
}

fn stage(node: &Node, input: TokenStream) -> TokenStream {
    let g = graph();
    let body = &node.body;
    let span = body.span();
    if let Some((gpu_span, batch, lanes)) = &node.attrs.gpu {
        let batch = batch.as_ref().map_or_else(
            || quote!(::para::__private::DEFAULT_GPU_BATCH),
            |b| quote!(#b),
        );
        // One lane (the default, or a literal 1) may own its body (`FnMut`);
        // several lanes share it (`Fn + Sync`).
        let one_lane = match lanes {
            None => true,
            Some(Expr::Lit(lit)) => {
                matches!(&lit.lit, syn::Lit::Int(n) if n.base10_digits() == "1")
            }
            Some(_) => false,
        };
        let body = unparen(body);
        return match lanes {
            Some(lanes) if !one_lane => {
                quote_spanned!(*gpu_span=> #g.device(#input, #batch, #lanes, #body))
            }
            _ => quote_spanned!(*gpu_span=> #g.device_mut(#input, #batch, #body)),
        };
    }
    if let Some((call, func, args)) = closure_combinator(body) {
        return quote_spanned!(span=> ::para::__private::#call::add(#func, &mut #g, #input, #(#args),*));
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
        (_, true, _, _) if closure => {
            if node.is_sink() {
                "ordered_sink"
            } else {
                "ordered_map"
            }
        }
        (false, _, true, _) if closure => "serial_map",
        (false, ..) if closure => "map",
        (true, _, _, true) if closure => "parallel_sink",
        (true, ..) if closure => "sink",
        // A function path or a `Stage` value.
        (_, true, _, _) => "ordered_body",
        (false, _, true, _) => "serial_body",
        (false, ..) => "map_body",
        (true, _, _, true) => "map_body",
        (true, ..) => "serial_body",
    };
    if let (Expr::Closure(closure), Some(_)) = (body, node.fallible) {
        // `?` in the body: the closure returns a `Result`, and the stage
        // hands an `Err` to the pipeline's error slot.
        let method = format_ident!("try_{}", method, span = span);
        let errors = errors_var();
        let closure = fallible::fallible_closure(closure);
        return quote_spanned!(span=>
            ::para::__private::#method(&mut #g, #input, &#errors, #closure));
    }
    let method = Ident::new(method, span);
    if closure {
        quote_spanned!(span=> #g.#method(#input, #body))
    } else {
        quote_spanned!(span=> ::para::__private::#method(&mut #g, #input, #body))
    }
}
