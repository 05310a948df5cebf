//! Procedural macros of [Para](https://docs.rs/para): `pipeline!`, which
//! turns a line such as
//! `pipeline!(4, data => (|x| (x * 2, x) => |(x2, x)| x2 - x, |x| -x) => |x| sum += x)`
//! into a static, typed graph of stages run by `para-runtime`.
//!
//! The crate is structured as parse -> validate -> expand, each a plain
//! function over `proc_macro2::TokenStream`, so the logic is unit-testable
//! without a compiler. Users depend on `para`, which re-exports the macro.

mod expand;
mod parse;
mod stream;
mod validate;

use proc_macro::TokenStream;

/// Builds and runs a pipeline; evaluates to its `para::Report`.
/// See the `para` crate for the grammar and examples.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline_tokens(input.into()).into()
}

/// `#[para::pipeline]`: runs the function's `#[stream] for` loops as
/// pipelines, cut into stages at `#[stage(...)]` marks. Re-exported by `para`
/// as `para::pipeline`; see the `para` crate for the rules and examples.
#[proc_macro_attribute]
pub fn stream_pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    stream::expand_attr(args.into(), item.into()).into()
}

/// The whole `pipeline!` transformation on `proc_macro2` tokens: the
/// expansion, or `compile_error!`s pointing at the offending tokens.
fn pipeline_tokens(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    match syn::parse2::<parse::Pipeline>(input).and_then(validate::validate) {
        Ok(model) => expand::expand(&model),
        Err(error) => {
            let errors = error.to_compile_error();
            // A value of the right type keeps follow-up errors quiet.
            quote::quote! {{ #errors; ::para::__private::empty_report() }}
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
