//! Procedural macros of [Para](https://docs.rs/para): `pipeline!`, which
//! turns a line such as
//! `pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x)`
//! into a static, typed graph of stages run by `para-runtime`, and
//! `#[para::pipeline]`, which runs the `#[stream]` loops of a sequential
//! function as pipelines.
//!
//! `pipeline!` is parse (`parse`) -> validate (`validate`) -> expand
//! (`expand`) over the types of `model`; `#[para::pipeline]` lives in
//! `stream`. Both share the option parser, the scope analysis (`scope`)
//! and the messages (`error`), collect every mistake of a call and still
//! emit a best-effort expansion, and are plain functions over
//! `proc_macro2::TokenStream`, unit-testable without a compiler. Users
//! depend on `para`, which re-exports the macros.

#![forbid(unsafe_code)]

mod cluster;
mod error;
mod expand;
mod fallible;
mod model;
mod parse;
mod scope;
mod stream;
mod validate;

use proc_macro::TokenStream;

/// Builds and runs a graph of closures; evaluates to its `para::Report`,
/// or, when a flow ends in `yield`, starts it in the background and
/// evaluates to a `para::Stream` of what reaches the `yield`.
///
/// ```text
/// pipeline!( [OPTIONS ,] FLOW { ; FLOW } [;] )
/// OPTIONS := EXPR                                  a thread count, e.g. `4`
///          | KEY = EXPR { , KEY = EXPR }           threads | capacity | batch | pool | scope
///                                                  | trace | progress | cluster
/// FLOW    := STAGE { => STAGE } [ => [#[ordered]] [ 'label : ] yield ]
/// STAGE   := { ATTR } [ 'label : ] BODY
///          | 'label                                a labelled stage (fan-in or fan-out)
///          | ( FLOW , FLOW { , FLOW } [,] )        fan-out: every branch gets the item
/// ATTR    := #[ordered] | #[serial] | #[parallel] | #[replicate(N)] | #[priority(N)]
///          | #[split] | #[gpu] | #[gpu(batch = N, lanes = L)]
/// BODY    := closure | combinator call | function path | `Stage` value
/// ```
///
/// With `cluster = cx` (the `&mut para::cluster::Cluster` given to
/// `para::cluster::execute`), the same graph runs on a timely-dataflow
/// cluster and the macro evaluates to `()` (see `para::cluster`); what
/// cannot run distributed is a compile error there.
///
/// The first stage of a flow is a source (`IntoIterator` of `Send` items).
/// A stage with a downstream is a map and runs on many workers at once
/// (`Fn`); the last stage is a sink and runs on one worker at a time, so it
/// may mutate what it captures. Closure parameters are inferred from the
/// upstream stage.
///
/// ```ignore
/// use para::prelude::*;
/// let mut sum = 0;
/// pipeline!(4, vec![0, 1, 2] => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x);
/// assert_eq!(sum, 0);
/// ```
///
/// (Run as a doctest on `para::prelude::pipeline`, which re-exports this
/// macro; a proc-macro crate cannot run examples that use `para`.)
///
/// # Streams
///
/// One flow of a pipeline may end in a bare `yield` (items in completion
/// order) or `#[ordered] yield` (in source order); other flows may still
/// end in sinks, and more flows may send into the `yield` through a label
/// (`'out: yield` ... `=> 'out`). `yield` takes no value and no other
/// attribute. The pipeline then runs in the background and the macro
/// returns a `para::Stream<T>` at once. Its stages must be `'static`, as
/// with `std::thread::spawn`: a closure stage that reads a local without
/// `move` is a compile error on that name. With `scope = s`, where `s` is
/// a `&std::thread::Scope`, the graph runs on the scope instead and its
/// stages may borrow what outlives the scope; `scope` is an error on a
/// pipeline without `yield`, which returns after its stages and may always
/// borrow.
///
/// ```ignore
/// use para::prelude::*;
/// let words = vec!["a", "bb", "ccc"];
/// std::thread::scope(|s| {
///     let lens = pipeline!(scope = s, words.iter() => |w| w.len() => #[ordered] yield);
///     assert_eq!(lens.collect::<Vec<_>>(), [1, 2, 3]);
/// });
/// ```
///
/// # Errors
///
/// A stage closure (a map, `#[serial]`, `#[ordered]`, a sink or a
/// `#[parallel]` sink) may use `?`. The first error (in source order when
/// the failing stage is `#[ordered]`, otherwise the first observed) stops
/// the sources and the pipeline evaluates to `Result<Report, E>` (with `yield`, a
/// `Stream<Result<T, E>>`: the items, then the error); each `?` converts its
/// error into `E` with `From`. `E` is inferred from how the result is used,
/// as a function's return type is: annotate it
/// (`let r: Result<_, MyError> = pipeline!(..);`) or make the pipeline the
/// tail of a function returning `Result<Report, MyError>`; `pipeline!(..)?`
/// alone does not fix it, as `?` converts from any error type. A `?` inside a
/// nested closure, an `async` block, a combinator's closure
/// (`filter(|x| ..)`) or a `#[gpu]` body is not the stage's, and a pipeline
/// without `?` still evaluates to a plain `Report`.
///
/// ```ignore
/// use para::prelude::*;
/// let mut total = 0;
/// let r: Result<_, std::num::ParseIntError> =
///     pipeline!(vec!["1", "2", "x"] => |s| s.parse::<u32>()? => |n| total += n);
/// assert!(r.is_err());
/// ```
///
/// Combinators are resolved as Rust resolves the call: `take(n)`,
/// `batch(n)`, `unbatch()` and any call without a closure argument are the
/// value the expression evaluates to, so a function of your own named
/// `take` is yours. `filter`, `filter_map`, `flat_map`, `inspect` and
/// `take_while` called with a closure literal must be Para's (their closure
/// parameter is then inferred from the upstream stage); a function of your
/// own with one of those names, called with a closure, is a compile error
/// on its name ("expected `filter` to return `Filter<_>`"): write
/// `(filter(|x| ..))` to use yours.
///
/// Mistakes are compile errors on the offending token, all of them in one
/// compile. A map closure that assigns to, or takes `&mut` of, a captured
/// variable is an error pointing at the mutation that says to mark the
/// stage `#[serial]`. A mutating method call on a captured variable
/// (`seen.push(x)`) cannot be told from syntax; rustc reports it as E0596,
/// "cannot borrow `seen` as mutable, as it is a captured variable in a `Fn`
/// closure": the fix is the same, `#[serial]`.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline_tokens(input.into()).into()
}

/// Runs the function's `#[stream] for` loops as pipelines, cut into stages
/// at `#[stage(...)]` marks (the model of SPar). Re-exported as
/// `para::pipeline`.
///
/// ```text
/// #[para::pipeline( [KEY = EXPR { , KEY = EXPR }] )]     threads | capacity | batch | pool
///                                                         | trace | progress
/// fn ... {
///     #[stream]
///     for PAT in EXPR {
///         SOURCE STATEMENTS                               run in iteration order
///         #[stage( [OPTION { , OPTION }] )]               starts a stage
///         STAGE STATEMENTS
///         ...
///     }
/// }
/// OPTION := replicate = N | parallel | ordered | priority = N
/// ```
///
/// A bare `#[stage]` is serial, so any loop body is correct before it is
/// fast; `parallel` or `replicate = N` run the stage on many workers at
/// once (it may then not mutate outer state: an assignment to an outer
/// variable is a compile error on the assignment). Loop locals bound in one
/// stage and read in a later one travel with the item, following Rust's
/// scopes (a shadowed local, a block's own local, a closure parameter or a
/// `match` binding of the same name does not travel). `continue` drops the
/// item, `break` stops the source, and `return` or `?` (on an `Option` or a
/// `Result`, through type aliases too, with `From` on errors) make the
/// function return that value once the workers are done.
///
/// ```ignore
/// #[para::pipeline(threads = 4)]
/// fn odd_squares(n: u64) -> Vec<u64> {
///     let mut out = Vec::new();
///     #[stream]
///     for x in 0..n {
///         if x % 2 == 0 {
///             continue;
///         }
///         #[stage(parallel)]
///         let square = x * x;
///         #[stage(ordered)]
///         out.push(square);
///     }
///     out
/// }
/// assert_eq!(odd_squares(10), [1, 9, 25, 49, 81]);
/// ```
///
/// (Run as a doctest on `para::pipeline`, which re-exports this macro.)
#[proc_macro_attribute]
pub fn stream_pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    stream::expand_attr(args.into(), item.into()).into()
}

/// The whole `pipeline!` transformation on `proc_macro2` tokens: the
/// expansion, or `compile_error!`s pointing at the offending tokens.
fn pipeline_tokens(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use syn::parse::Parser;
    let mut errors = error::Errors::default();
    let parsed =
        (|input: syn::parse::ParseStream| parse::pipeline(input, &mut errors)).parse2(input);
    let mut shape = Shape::default();
    let model = match parsed {
        Ok(pipeline) => {
            shape = Shape::of(&pipeline);
            validate::validate(pipeline, &mut errors)
        }
        Err(error) => {
            errors.push(error);
            None
        }
    };
    match (model, errors.finish()) {
        (Some(model), Ok(())) if model.cluster().is_some() => match cluster::check(&model) {
            Ok(()) => cluster::expand(&model),
            Err(e) => {
                let errors = e.to_compile_error();
                quote::quote! {{ #errors; }}
            }
        },
        (Some(model), Ok(())) => expand::expand(&model),
        (_, result) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let value = shape.placeholder();
            quote::quote! {{ #errors; #value }}
        }
    }
}

/// What a `pipeline!` evaluates to, as far as the parser saw: a stream
/// (`yield`) or a report, fallible (`?`) or not.
#[derive(Default)]
struct Shape {
    yields: bool,
    fallible: bool,
}

impl Shape {
    fn of(pipeline: &model::Pipeline) -> Self {
        fn walk(flows: &[model::Flow], shape: &mut Shape) {
            for item in flows.iter().flat_map(|f| &f.stages) {
                match item {
                    model::Item::Stage(stage) => {
                        shape.yields |= model::yield_expr(&stage.body).is_some();
                        let gpu = stage
                            .attrs
                            .iter()
                            .any(|a| matches!(a.kind, model::AttrKind::Gpu { .. }));
                        if let (syn::Expr::Closure(c), false) = (model::unparen(&stage.body), gpu) {
                            shape.fallible |= fallible::first_try(&c.body).is_some();
                        }
                    }
                    model::Item::FanOut(fan) => walk(&fan.branches, shape),
                    model::Item::Ref(_) => {}
                }
            }
        }
        let mut shape = Shape::default();
        walk(&pipeline.flows, &mut shape);
        shape
    }

    /// A value of the type the expansion would have had, so that a
    /// mistake draws no follow-up type errors where the result is used:
    /// an empty iterator stands for the stream.
    fn placeholder(&self) -> proc_macro2::TokenStream {
        match (self.yields, self.fallible) {
            (false, false) => quote::quote!(::para::__private::empty_report()),
            (false, true) => quote::quote!(::core::result::Result::Ok::<_, _>(
                ::para::__private::empty_report()
            )),
            (true, false) => quote::quote!(::core::iter::empty()),
            (true, true) => quote::quote!(::core::iter::empty::<::core::result::Result<_, _>>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pipeline_tokens;
    use proc_macro2::{TokenStream, TokenTree};
    use std::str::FromStr;

    /// Valid inputs covering the whole grammar.
    const EXAMPLES: &[&str] = &[
        "4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x",
        "0..10 => |x| x * 2 => 'sum: |x| total += x; vec![5, 6] => 'sum",
        "threads = 2, capacity = 8, batch = 4, pool = &pool, 0..10 => |x| x => |_x| ()",
        "'t => |x| x; 0..8 => 't: |x| x * 2 => |x| all += x;",
        "#[split] 'n: 0..10 => #[replicate(2)] #[priority(3)] |x| x => #[serial] |x| x \
         => #[ordered] |x| x => #[parallel] |x| f(x)",
        "0..10 => #[gpu(batch = 64, lanes = 2)] |xs: Vec<u32>| xs => #[gpu] |xs| xs => |x| y(x)",
        "0..10 => filter(|&x| x > 1) => batch(4) => unbatch() => take(3) => |x| out.push(x)",
        "0..10 => (|x| x, (|x| x, |x| x) => |x| x) => #[ordered] |x| v.push(x)",
        "(0..10) => (|x| x + 1) => para::prelude::filter(|x| { let y = *x; y > 2 }) \
         => (filter(f)) => flat_map(|x| vec![x; 2]) => inspect(|x| println!(\"{x}\")) \
         => take_while(|_| true) => filter_map(|x| Some(x)) => #[parallel] |x| { let mut s = 0; s += x; s }",
        "threads = 4, 0..1000u64 => move |x| x * x => #[ordered] yield",
        "scope = s, words.iter() => (|w| w.len(), |w| w.len() * 2) => 'out: yield; v => 'out",
        "lines => |l| l.parse::<u32>()? => #[serial] |x| f(x)? => #[ordered] |x| -> u64 { g(x)? } \
         => #[parallel] |x| { check(x)?; }",
        "scope = s, lines => |l| l.parse::<u32>()? => filter(|x| *x > 1) => yield",
    ];

    fn expand(tokens: TokenStream) -> bool {
        std::panic::catch_unwind(|| {
            let _ = pipeline_tokens(tokens);
        })
        .is_ok()
    }

    fn flatten(stream: TokenStream, out: &mut Vec<TokenTree>) {
        for tt in stream {
            out.push(tt);
        }
    }

    #[test]
    fn valid_examples_expand_to_rust() {
        for example in EXAMPLES {
            let out = pipeline_tokens(TokenStream::from_str(example).unwrap());
            let text = out.to_string();
            assert!(!text.contains("compile_error"), "{example}: {text}");
            syn::parse2::<syn::Block>(out).expect("the expansion is a block");
        }
    }

    #[test]
    fn never_panics_on_prefixes_or_shuffles() {
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for example in EXAMPLES {
            let mut tokens = Vec::new();
            flatten(TokenStream::from_str(example).unwrap(), &mut tokens);
            // Every prefix and every suffix.
            for i in 0..=tokens.len() {
                let prefix: TokenStream = tokens[..i].iter().cloned().collect();
                assert!(expand(prefix), "panic on a prefix of {example}");
                let suffix: TokenStream = tokens[i..].iter().cloned().collect();
                assert!(expand(suffix), "panic on a suffix of {example}");
            }
            // Random shuffles, deletions and duplications.
            for _ in 0..300 {
                let mut t = tokens.clone();
                for _ in 0..(next() % 4 + 1) {
                    let n = t.len().max(1);
                    match next() % 3 {
                        0 if !t.is_empty() => {
                            let (a, b) = ((next() as usize) % n, (next() as usize) % n);
                            if a < t.len() && b < t.len() {
                                t.swap(a, b);
                            }
                        }
                        1 if !t.is_empty() => {
                            t.remove((next() as usize) % t.len());
                        }
                        _ if !t.is_empty() => {
                            let copy = t[(next() as usize) % t.len()].clone();
                            t.insert((next() as usize) % t.len(), copy);
                        }
                        _ => {}
                    }
                }
                let stream: TokenStream = t.into_iter().collect();
                assert!(expand(stream.clone()), "panic on {stream}");
            }
        }
    }

    /// `#[para::pipeline]` inputs: (arguments, function).
    const STREAM_EXAMPLES: &[(&str, &str)] = &[
        (
            "threads = 4",
            "fn compress(input: &[u8], level: u32) -> std::io::Result<Vec<u8>> { \
             let mut out = Vec::new(); #[stream] for chunk in input.chunks(1 << 20) { \
             #[stage(replicate = 4)] let z = zlib(chunk, level)?; \
             #[stage(ordered)] out.extend_from_slice(&z); } Ok(out) }",
        ),
        (
            "",
            "fn f(v: &[i32]) -> Option<i32> { let mut s = 0; #[stream] for x in v { \
             if *x < 0 { continue; } if *x > 9 { break; } #[stage(parallel)] let y = x * 2; \
             #[stage(priority = 2)] s += y; if s > 100 { return None; } } Some(s) }",
        ),
        (
            "capacity = 8",
            "fn g(rows: &[Vec<u8>]) -> Result<usize, E> { let mut n = 0; \
             #[stream] 'rows: for (i, row) in rows.iter().enumerate() { \
             let x = row.len(); let x = x + i; { let t = x; } \
             #[stage(replicate = 2)] let f = |x: usize| x + 1; let y = f(x)?; \
             match y { 0 => continue 'rows, k if k > 9 => break, _ => {} } \
             if let Some(first) = row.first() { println!(\"{first} {y}\"); } \
             #[stage(ordered)] n += vec![y; 2].len(); assert!(n > 0, \"{i}\"); } Ok(n) }",
        ),
    ];

    #[test]
    fn stream_examples_expand_to_rust() {
        for (args, func) in STREAM_EXAMPLES {
            let out = crate::stream::expand_attr(
                TokenStream::from_str(args).unwrap(),
                TokenStream::from_str(func).unwrap(),
            );
            assert!(!out.to_string().contains("compile_error"), "{func}: {out}");
            syn::parse2::<syn::ItemFn>(out).expect("the expansion is a function");
        }
    }

    #[test]
    fn stream_attribute_never_panics() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for (args, func) in STREAM_EXAMPLES {
            let args = TokenStream::from_str(args).unwrap();
            let mut tokens = Vec::new();
            flatten(TokenStream::from_str(func).unwrap(), &mut tokens);
            // The function body is one group: mutate inside it too.
            let body_index = tokens.len() - 1;
            let TokenTree::Group(body) = tokens[body_index].clone() else {
                panic!("a function ends with its body");
            };
            let mut inner = Vec::new();
            flatten(body.stream(), &mut inner);
            for i in 0..=inner.len() {
                for cut in [&inner[..i], &inner[i..]] {
                    let mut t = tokens.clone();
                    t[body_index] = TokenTree::Group(proc_macro2::Group::new(
                        proc_macro2::Delimiter::Brace,
                        cut.iter().cloned().collect(),
                    ));
                    let stream: TokenStream = t.into_iter().collect();
                    let ok = std::panic::catch_unwind(|| {
                        crate::stream::expand_attr(args.clone(), stream.clone())
                    })
                    .is_ok();
                    assert!(ok, "panic on {stream}");
                }
            }
            for _ in 0..300 {
                let mut t = inner.clone();
                for _ in 0..(next() % 4 + 1) {
                    if t.is_empty() {
                        break;
                    }
                    let (a, b) = (next() as usize % t.len(), next() as usize % t.len());
                    match next() % 3 {
                        0 => t.swap(a, b),
                        1 => {
                            t.remove(a);
                        }
                        _ => t.insert(a, t[b].clone()),
                    }
                }
                let mut whole = tokens.clone();
                whole[body_index] = TokenTree::Group(proc_macro2::Group::new(
                    proc_macro2::Delimiter::Brace,
                    t.into_iter().collect(),
                ));
                let stream: TokenStream = whole.into_iter().collect();
                let ok = std::panic::catch_unwind(|| {
                    crate::stream::expand_attr(args.clone(), stream.clone())
                })
                .is_ok();
                assert!(ok, "panic on {stream}");
            }
            // Garbage arguments.
            for bad in [
                "threads",
                "threads =",
                "= 4",
                "threads = 4,, batch = 2",
                "x y z",
            ] {
                let out = crate::stream::expand_attr(
                    TokenStream::from_str(bad).unwrap(),
                    TokenStream::from_str(func).unwrap(),
                );
                assert!(out.to_string().contains("compile_error"), "{bad}");
            }
        }
    }

    #[test]
    fn independent_mistakes_are_all_reported() {
        let out = pipeline_tokens(
            TokenStream::from_str(
                "treads = 1, 0..10 => #[orderd] |x| { n += 1; x } => #[split] |_x| ()",
            )
            .unwrap(),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 4, "{out}");
        let out = crate::stream::expand_attr(
            TokenStream::from_str("treads = 1").unwrap(),
            TokenStream::from_str(
                "fn f() { #[stream] for x in 0..1 { #[stage(nope)] let y = x; \
                 #[stage(parallel)] t += y; } }",
            )
            .unwrap(),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }

    fn expansion(input: &str) -> String {
        let out = pipeline_tokens(TokenStream::from_str(input).unwrap());
        syn::parse2::<syn::Block>(out.clone()).expect("the expansion is a block");
        out.to_string().replace(' ', "")
    }

    #[test]
    fn expands_streams_and_fallible_stages() {
        // No `yield`, no `?`: a plain run.
        let out = expansion("v => |x| x => |x| t += x");
        assert!(out.contains(".run_with("), "{out}");
        assert!(
            !out.contains("ErrorSlot") && !out.contains("finish_run"),
            "{out}"
        );
        // `?` in a map and in a serial sink: fallible stages sharing a slot.
        let out = expansion("v => |x| f(x)? => |x| g(x) => #[ordered] |x| h(x)?");
        assert!(out.contains("let__para_errors=::para::__private::ErrorSlot::new();"));
        assert!(
            out.contains("::para::__private::try_map(&mut__para_graph,"),
            "{out}"
        );
        assert!(
            out.contains("::para::__private::try_ordered_sink("),
            "{out}"
        );
        assert!(out.contains("__para_graph.map("), "{out}");
        assert!(
            out.contains("::para::__private::finish_run(__para_errors,"),
            "{out}"
        );
        // A `?` of a combinator's closure or of a device body is not ours.
        let out = expansion("v => filter(|x| f(x)?) => #[gpu] |xs| g(xs)? => |x| h(x)");
        assert!(!out.contains("ErrorSlot"), "{out}");
        // `yield`: spawned, in the background or on a scope.
        let out = expansion("v => move |x| x => yield");
        assert!(out.contains("__para_graph.stream("), "{out}");
        assert!(out.contains(".spawn_with(__para_stream,"), "{out}");
        let out = expansion("scope = s, threads = 2, v => |x| x => #[ordered] yield");
        assert!(out.contains("__para_graph.ordered_stream("), "{out}");
        assert!(
            out.contains(
                ".spawn_scoped_with(s,__para_stream,::para::__private::Options::new().threads(2))"
            ),
            "{out}"
        );
        // `?` with `yield`: a stream of results.
        let out = expansion("scope = s, v => |x| f(x)? => yield");
        assert!(
            out.contains("::para::__private::try_yield(&mut__para_graph,"),
            "{out}"
        );
        assert!(
            out.contains("::para::__private::finish_stream(__para_errors,"),
            "{out}"
        );
    }

    #[test]
    fn a_mistake_keeps_the_value_type() {
        let out = |input: &str| pipeline_tokens(TokenStream::from_str(input).unwrap()).to_string();
        assert!(out("v => yield x").contains("iter :: empty ()"));
        assert!(out("v => |x| f(x)? => yield x").contains("iter :: empty :: < :: core :: result"));
        assert!(out("v => |x| f(x)? => #[orderd] |x| g(x)").contains("Ok :: < _ , _ >"));
        assert!(out("v => #[orderd] |x| g(x)").contains("empty_report"));
        let gpu = out("v => #[gpu] |xs| f(xs)? => #[orderd] |x| g(x)");
        assert!(gpu.contains("empty_report") && !gpu.contains("Ok"), "{gpu}");
    }

    #[test]
    fn errors_are_compile_errors() {
        for bad in [
            "",
            "0..10",
            "0..10 => ()",
            "x => 'nope",
            "treads = 1, a => |x| x",
        ] {
            let out = pipeline_tokens(TokenStream::from_str(bad).unwrap()).to_string();
            assert!(out.contains("compile_error"), "{bad}: {out}");
        }
    }
}
