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
mod validate;

use proc_macro::TokenStream;

/// Builds and runs a pipeline; evaluates to its `para::Report`.
/// See the `para` crate for the grammar and examples.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline_tokens(input.into()).into()
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
