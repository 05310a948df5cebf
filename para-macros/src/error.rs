//! Every message the two macros show users, in one place, and the collector
//! that lets one macro call report all of its independent mistakes at once
//! (the role of serde_derive's `Ctxt` and cxx's `Errors`).
//!
//! Each function builds the `syn::Error` for one mistake: the caller gives
//! the span of the offending token, this module words the message (naming
//! what was found and what was expected), so wording stays consistent and
//! reviewable in one file.

use proc_macro2::Span;
use std::fmt::Display;
use syn::parse::ParseStream;

/// The errors of one macro call, combined into one `syn::Error` (which
/// renders as one `compile_error!` per message, each at its own span).
#[derive(Default)]
pub struct Errors {
    all: Option<syn::Error>,
    count: usize,
}

impl Errors {
    /// Records an error.
    pub fn push(&mut self, error: syn::Error) {
        self.count += error.clone().into_iter().count();
        match &mut self.all {
            Some(all) => all.combine(error),
            None => self.all = Some(error),
        }
    }

    /// Records the error of a failed step, passing a success through.
    pub fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// How many messages were recorded (to tell whether a step added any).
    pub fn count(&self) -> usize {
        self.count
    }

    /// All the errors as one, or `Ok` when there were none.
    pub fn finish(self) -> syn::Result<()> {
        match self.all {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

fn at(span: Span, message: impl Display) -> syn::Error {
    syn::Error::new(span, message)
}

// ---------------------------------------------------------------- options

/// The run options of `#[para::pipeline]`, as listed in messages.
pub const OPTION_NAMES: &str = "`threads`, `capacity`, `batch`, `pool`, `trace`, `progress`";

/// The run options of `pipeline!`, as listed in messages.
pub const PIPELINE_OPTION_NAMES: &str =
    "`threads`, `capacity`, `batch`, `pool`, `scope`, `trace`, `progress`, `cluster`";

/// `names`: [`OPTION_NAMES`] or [`PIPELINE_OPTION_NAMES`].
pub fn unknown_option(span: Span, name: &dyn Display, names: &str) -> syn::Error {
    at(
        span,
        format!("unknown option `{name}`; the options are {names}"),
    )
}

pub fn scope_in_attribute(span: Span) -> syn::Error {
    at(
        span,
        format!(
            "`scope` is an option of `pipeline!` for a pipeline that ends in `yield`; \
             `#[para::pipeline]` runs its loop to the end before the function goes on, so its \
             stages may borrow already; the options are {OPTION_NAMES}"
        ),
    )
}

pub fn cluster_in_attribute(span: Span) -> syn::Error {
    at(
        span,
        format!(
            "`cluster` is an option of `pipeline!` (`pipeline!(cluster = cx, ...)`); \
             `#[para::pipeline]` runs on one machine; the options are {OPTION_NAMES}"
        ),
    )
}

/// `what` (an option, an attribute, `yield`, `?`) cannot run on a cluster:
/// `why` says why and what to do instead.
pub fn not_on_cluster(span: Span, what: &str, why: &str) -> syn::Error {
    at(
        span,
        format!("{what} is not supported with `cluster`: {why}"),
    )
}

pub fn scope_without_yield(span: Span) -> syn::Error {
    at(
        span,
        "`scope` is for a pipeline that ends in `yield`, whose stages run in the background; \
         this pipeline returns once every stage has finished, so its stages may borrow \
         already: remove `scope`",
    )
}

pub fn duplicate_option(span: Span, name: &dyn Display) -> syn::Error {
    at(span, format!("the option `{name}` is given twice"))
}

pub fn expected_flow_after_options(input: ParseStream) -> syn::Error {
    input.error("expected `,` and a flow after the options")
}

// ---------------------------------------------------------------- pipeline! grammar

pub fn empty_pipeline(input: ParseStream) -> syn::Error {
    input.error(
        "expected a pipeline: `pipeline!(source => stage => sink)`, optionally preceded by \
         options such as `4,` or `threads = 4, capacity = 1024,`",
    )
}

pub fn expected_arrow_or_semicolon(input: ParseStream) -> syn::Error {
    input.error("expected `=>` to continue the flow, or `;` to start another flow")
}

pub fn expected_stage_after_arrow(input: ParseStream) -> syn::Error {
    input.error("expected a stage after `=>`")
}

pub fn expected_branch_end(input: ParseStream) -> syn::Error {
    input.error("expected `=>`, `,` or `)` in a fan-out branch")
}

pub fn expected_stage(input: ParseStream) -> syn::Error {
    input.error("expected a stage: a closure such as `|x| x + 1`, or an expression")
}

// ---------------------------------------------------------------- stage attributes

/// The stage attributes of `pipeline!`, as listed in messages.
pub const ATTR_NAMES: &str = "`ordered`, `serial`, `parallel`, `replicate(N)`, `priority(N)`, \
                              `split`, `gpu`, `gpu(batch = N, lanes = L)`";

pub fn unknown_attribute(path: &syn::Path) -> syn::Error {
    let message = match path.get_ident() {
        Some(name) => {
            format!("unknown stage attribute `#[{name}]`; the attributes are {ATTR_NAMES}")
        }
        None => format!("unknown stage attribute; the attributes are {ATTR_NAMES}"),
    };
    syn::Error::new_spanned(path, message)
}

pub fn attribute_takes_no_arguments(meta: &syn::Meta, name: &str) -> syn::Error {
    syn::Error::new_spanned(meta, format!("`#[{name}]` takes no arguments"))
}

pub fn attribute_needs_one_value(tokens: &dyn quote::ToTokens, name: &str) -> syn::Error {
    syn::Error::new_spanned(tokens, format!("expected `#[{name}(N)]` with one value"))
}

pub fn unknown_gpu_option(meta: &syn::meta::ParseNestedMeta) -> syn::Error {
    meta.error("unknown `#[gpu]` option; the options are `batch = N` and `lanes = L`")
}

pub fn duplicate_gpu_option(meta: &syn::meta::ParseNestedMeta) -> syn::Error {
    meta.error("this `#[gpu]` option is given twice")
}

pub fn gpu_name_value(nv: &syn::MetaNameValue) -> syn::Error {
    syn::Error::new_spanned(nv, "expected `#[gpu]` or `#[gpu(batch = N, lanes = L)]`")
}

pub fn attribute_on_reference(span: Span, label: &syn::Lifetime) -> syn::Error {
    at(
        span,
        format!(
            "an attribute cannot be put on a reference to `{label}`; put it where the stage is \
             defined (`{label}: ...`)"
        ),
    )
}

pub fn attribute_on_fan_out(span: Span) -> syn::Error {
    at(
        span,
        "an attribute cannot be put on a fan-out group; put it on a stage inside",
    )
}

pub fn duplicate_attribute(span: Span) -> syn::Error {
    at(span, "this attribute is given twice")
}

pub fn misplaced_on_source(span: Span, name: &str) -> syn::Error {
    at(
        span,
        format!("`#[{name}]` cannot be put on a source (the first stage of a flow)"),
    )
}

pub fn replicate_on_source(span: Span) -> syn::Error {
    at(
        span,
        "`#[replicate(N)]` cannot be put on a source; use `#[split]` to let several workers \
         produce from it",
    )
}

pub fn split_not_on_source(span: Span) -> syn::Error {
    at(
        span,
        "`#[split]` can only be put on a source (the first stage of a flow)",
    )
}

pub fn conflicting_attributes(span: Span, first: &str, second: &str) -> syn::Error {
    at(
        span,
        format!("`#[{first}]` and `#[{second}]` cannot be combined on one stage"),
    )
}

pub fn gpu_with_mode(span: Span) -> syn::Error {
    at(
        span,
        "`#[gpu]` stages run on device lanes; they cannot also be `#[ordered]`, `#[serial]` or \
         `#[parallel]`",
    )
}

pub fn replicate_on_serial(span: Span) -> syn::Error {
    at(
        span,
        "`#[replicate(N)]` is for parallel stages; a serial or ordered stage runs on one worker \
         at a time",
    )
}

// ---------------------------------------------------------------- yield

pub fn yield_with_value(value: &syn::Expr) -> syn::Error {
    syn::Error::new_spanned(
        value,
        "`yield` takes no value: it ends a flow, and the items that reach it come out of the \
         stream `pipeline!` returns; write `=> yield` after the stage that makes them",
    )
}

pub fn attribute_on_yield(span: Span, name: &str) -> syn::Error {
    at(
        span,
        format!(
            "`#[{name}]` cannot be put on `yield`; it takes only `#[ordered]` (items in source \
             order; a bare `yield` gives them in completion order)"
        ),
    )
}

pub fn second_yield(span: Span) -> syn::Error {
    at(
        span,
        "a pipeline has one `yield`, and this is a second one; label the first (`'out: yield`) \
         and end this flow with `=> 'out` to send its items into the same stream",
    )
}

pub fn yield_not_last(span: Span) -> syn::Error {
    at(
        span,
        "`yield` must end its flow: the items that reach it leave the graph through the stream \
         `pipeline!` returns, so no stage can follow it",
    )
}

pub fn yield_starts_flow(span: Span) -> syn::Error {
    at(
        span,
        "`yield` cannot start a flow: it ends one (`source => |x| ... => yield`); a flow starts \
         with its source",
    )
}

/// A closure stage of a background pipeline (one ending in `yield`,
/// without `scope`) that reads a local by reference.
pub fn borrows_without_scope(span: Span, name: &str) -> syn::Error {
    at(
        span,
        format!(
            "this stage borrows `{name}`, but a pipeline that ends in `yield` runs in the \
             background, after this statement: add `scope = s` (a `&std::thread::Scope`) to let \
             its stages borrow, or make the closure `move`"
        ),
    )
}

// ---------------------------------------------------------------- graph shape

pub fn only_a_reference(span: Span) -> syn::Error {
    at(
        span,
        "this flow is only a reference; send it on, e.g. `'name => |x| ...`",
    )
}

pub fn reference_in_the_middle(label: &syn::Lifetime) -> syn::Error {
    at(
        label.span(),
        format!(
            "a reference to `{label}` can only start a flow (to take its output) or end one (to \
             send into it)"
        ),
    )
}

pub fn fan_out_starts_flow(span: Span) -> syn::Error {
    at(
        span,
        "a fan-out cannot start a flow: it needs a source before it",
    )
}

pub fn empty_fan_out(span: Span) -> syn::Error {
    at(
        span,
        "empty fan-out: a fan-out `( ... , ... )` needs at least two branches",
    )
}

pub fn single_branch_fan_out(span: Span) -> syn::Error {
    at(
        span,
        "a fan-out needs at least two branches separated by `,`; for one branch, remove the \
         parentheses",
    )
}

pub fn duplicate_label(label: &syn::Lifetime) -> syn::Error {
    at(
        label.span(),
        format!("duplicate label `{label}`: each label names one stage"),
    )
}

pub fn undefined_label(label: &syn::Lifetime, known: &[String]) -> syn::Error {
    let hint = if known.is_empty() {
        "no stage has a label; define one with `'name: |x| ...`".to_string()
    } else {
        let known: Vec<String> = known.iter().map(|k| format!("`'{k}`")).collect();
        format!("the labels are {}", known.join(", "))
    };
    at(label.span(), format!("undefined label `{label}`; {hint}"))
}

pub fn only_a_source(span: Span) -> syn::Error {
    at(
        span,
        "this flow is only a source; add a stage, e.g. `data => |x| ...`",
    )
}

pub fn cyclic_label(span: Span, label: Option<&syn::Lifetime>) -> syn::Error {
    let name = label.map_or_else(|| "this stage".to_string(), |l| format!("`{l}`"));
    at(
        span,
        format!(
            "cyclic label: {name} feeds itself through a label reference; a pipeline must not loop"
        ),
    )
}

pub fn ordered_several_sources(span: Span, sources: usize) -> syn::Error {
    at(
        span,
        format!(
            "`#[ordered]` stage reachable from {sources} sources; source order is only defined \
             for one source"
        ),
    )
}

/// A parallel stage that mutates captured state (SPEC 1 and 2), on the
/// mutating expression; `fix` says how to make the stage serial in the
/// macro's own syntax.
pub fn parallel_mutation(mutation: &proc_macro2::TokenStream, name: &str, fix: &str) -> syn::Error {
    syn::Error::new_spanned(
        mutation,
        format!(
            "a parallel stage cannot mutate `{name}`: many workers run the stage at once and \
             share what it captures; {fix}"
        ),
    )
}

/// The fix for [`parallel_mutation`] in `pipeline!`.
pub const MAP_FIX: &str = "mark the stage `#[serial]` (one item at a time, it may then mutate \
                           what it captures), or use an atomic or a `Mutex`";

/// The fix for [`parallel_mutation`] in `#[para::pipeline]`.
pub const STAGE_FIX: &str = "make the stage serial (`#[stage]` or `#[stage(ordered)]`), or use \
                             an atomic or a `Mutex`";

// ---------------------------------------------------------------- #[para::pipeline]

/// The `#[stage(...)]` options, as listed in messages.
const STAGE_OPTION_NAMES: &str = "`replicate = N`, `parallel`, `ordered`, `priority = N`";

pub fn unknown_stage_option(meta: &syn::meta::ParseNestedMeta) -> syn::Error {
    meta.error(format!(
        "unknown stage option; the options are {STAGE_OPTION_NAMES}"
    ))
}

pub fn ordered_and_parallel(span: Span) -> syn::Error {
    at(
        span,
        "an `ordered` stage runs on one worker at a time; it cannot also be `parallel` or \
         `replicate`",
    )
}

pub fn no_stream_loop(span: Span) -> syn::Error {
    at(
        span,
        "`#[para::pipeline]` found no `#[stream]` loop in this function; mark the `for` loop to \
         run as a pipeline with `#[stream]`",
    )
}

pub fn stream_not_a_for_loop(span: Span) -> syn::Error {
    at(
        span,
        "`#[stream]` marks a `for` loop; put it on `for item in items { ... }`",
    )
}

pub fn stream_takes_no_arguments(meta: &syn::Meta) -> syn::Error {
    syn::Error::new_spanned(meta, "`#[stream]` takes no arguments")
}

pub fn stage_outside_stream(span: Span) -> syn::Error {
    at(
        span,
        "`#[stage]` outside a `#[stream]` loop; stages split the body of a `#[stream] for` loop",
    )
}

pub fn stream_in_closure(span: Span) -> syn::Error {
    at(
        span,
        "`#[stream]` can only mark a loop directly in the function body, not inside a closure",
    )
}
