//! Parsing `pipeline!` input into the model of [`crate::model`]. Every node,
//! edge and option keeps its span so later errors point at the right token.
//!
//! ```text
//! pipeline!( [OPTIONS ,] FLOW { ; FLOW } [;] )
//! OPTIONS := EXPR | KEY = EXPR { , KEY = EXPR }
//! FLOW    := STAGE { => STAGE }
//! STAGE   := { ATTR } [ LABEL : ] BODY | LABEL | ( FLOW , FLOW { , FLOW } [,] )
//! ```
//!
//! Mistakes that leave the structure intact (an unknown option or
//! attribute, an attribute in the wrong place) are recorded in [`Errors`]
//! and parsing goes on, so one compile shows all of them; a broken structure
//! (a missing stage after `=>`) stops the parse.

use crate::error::{self, Errors};
use crate::model::{
    yield_expr, Attr, AttrKind, FanOut, Flow, Item, OptionItem, OptionKey, Pipeline, StageDef,
};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{token, Expr, Ident, Lifetime, Token};

/// Which macro's options are parsed: `scope` is `pipeline!`'s alone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// `pipeline!( .. )`.
    Macro,
    /// `#[para::pipeline( .. )]`.
    Attribute,
}

/// `KEY = EXPR`, for `pipeline!` and `#[para::pipeline(...)]` alike: `None`
/// (with the error recorded) for an unknown or repeated key, whose value is
/// still parsed so the rest of the input can be checked.
pub fn option(
    input: ParseStream,
    seen: &[OptionItem],
    front: Front,
    errors: &mut Errors,
) -> syn::Result<Option<OptionItem>> {
    let ident: Ident = input.parse()?;
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    let names = match front {
        Front::Macro => error::PIPELINE_OPTION_NAMES,
        Front::Attribute => error::OPTION_NAMES,
    };
    let Some(key) = OptionKey::from_name(&ident.to_string()) else {
        errors.push(error::unknown_option(ident.span(), &ident, names));
        return Ok(None);
    };
    if key == OptionKey::Scope && front == Front::Attribute {
        errors.push(error::scope_in_attribute(ident.span()));
        return Ok(None);
    }
    if key == OptionKey::Cluster && front == Front::Attribute {
        errors.push(error::cluster_in_attribute(ident.span()));
        return Ok(None);
    }
    if seen.iter().any(|o| o.key == key) {
        errors.push(error::duplicate_option(ident.span(), &ident));
        return Ok(None);
    }
    Ok(Some(OptionItem {
        key,
        span: ident.span(),
        value,
    }))
}

/// `#[para::pipeline(KEY = EXPR, ...)]` arguments.
pub fn attr_options(input: ParseStream, errors: &mut Errors) -> syn::Result<Vec<OptionItem>> {
    let mut options = Vec::new();
    while !input.is_empty() {
        if let Some(option) = option(input, &options, Front::Attribute, errors)? {
            options.push(option);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(options)
}

/// The whole `pipeline!` input.
pub fn pipeline(input: ParseStream, errors: &mut Errors) -> syn::Result<Pipeline> {
    if input.is_empty() {
        return Err(error::empty_pipeline(input));
    }
    let options = parse_options(input, errors)?;
    let mut flows = Vec::new();
    loop {
        if input.is_empty() {
            break;
        }
        flows.push(parse_flow(input, true, errors)?);
        if input.is_empty() {
            break;
        }
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            continue;
        }
        return Err(error::expected_arrow_or_semicolon(input));
    }
    if flows.is_empty() {
        return Err(error::empty_pipeline(input));
    }
    Ok(Pipeline { options, flows })
}

/// `KEY = EXPR, ...,` or a bare thread count `EXPR,`, or nothing.
fn parse_options(input: ParseStream, errors: &mut Errors) -> syn::Result<Vec<OptionItem>> {
    let mut options = Vec::new();
    let mut keyed = false;
    // Keyed options: `ident =` (not `==`, not `=>`).
    while input.peek(Ident)
        && input.peek2(Token![=])
        && !input.peek2(Token![==])
        && !input.peek2(Token![=>])
    {
        keyed = true;
        if let Some(option) = option(input, &options, Front::Macro, errors)? {
            options.push(option);
        }
        if input.is_empty() {
            return Err(error::expected_flow_after_options(input));
        }
        input.parse::<Token![,]>()?;
    }
    if keyed {
        return Ok(options);
    }
    // A bare thread count: an expression followed by `,` at the top level.
    let fork = input.fork();
    if fork.parse::<Expr>().is_ok() && fork.peek(Token![,]) {
        let value: Expr = input.parse()?;
        input.parse::<Token![,]>()?;
        options.push(OptionItem {
            key: OptionKey::Threads,
            span: value.span(),
            value,
        });
    }
    Ok(options)
}

/// `STAGE { => STAGE }`
fn parse_flow(input: ParseStream, top_level: bool, errors: &mut Errors) -> syn::Result<Flow> {
    let mut stages = vec![parse_item(input, errors)?];
    while input.peek(Token![=>]) {
        input.parse::<Token![=>]>()?;
        if input.is_empty() || input.peek(Token![;]) || input.peek(Token![,]) {
            return Err(error::expected_stage_after_arrow(input));
        }
        stages.push(parse_item(input, errors)?);
    }
    if !(top_level || input.is_empty() || input.peek(Token![,])) {
        return Err(error::expected_branch_end(input));
    }
    Ok(Flow { stages })
}

fn parse_item(input: ParseStream, errors: &mut Errors) -> syn::Result<Item> {
    let mut attrs = parse_attrs(input, errors)?;
    if input.peek(Lifetime) {
        let label: Lifetime = input.parse()?;
        if input.peek(Token![:]) && !input.peek(Token![::]) {
            input.parse::<Token![:]>()?;
            // Attributes may also follow the label: `'name: #[ordered] |x| ...`.
            attrs.extend(parse_attrs(input, errors)?);
            let body = parse_body(input)?;
            check_yield(&body, &mut attrs, errors);
            return Ok(Item::Stage(StageDef {
                attrs,
                label: Some(label),
                body,
            }));
        }
        if let Some(attr) = attrs.first() {
            errors.push(error::attribute_on_reference(attr.span, &label));
        }
        return Ok(Item::Ref(label));
    }
    if input.peek(token::Paren) && is_fan_out(input) {
        if let Some(attr) = attrs.first() {
            errors.push(error::attribute_on_fan_out(attr.span));
        }
        let content;
        let paren = syn::parenthesized!(content in input);
        let mut branches = Vec::new();
        while !content.is_empty() {
            branches.push(parse_flow(&content, false, errors)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Item::FanOut(FanOut {
            span: paren.span.join(),
            branches,
        }));
    }
    let body = parse_body(input)?;
    check_yield(&body, &mut attrs, errors);
    Ok(Item::Stage(StageDef {
        attrs,
        label: None,
        body,
    }))
}

/// A parenthesised group is a fan-out when it is empty or holds a `,` or a
/// `=>` at its top level (a tuple is never a source); otherwise it is an
/// expression in parentheses.
fn is_fan_out(input: ParseStream) -> bool {
    let Some((inside, _, _)) = input.cursor().group(proc_macro2::Delimiter::Parenthesis) else {
        return false;
    };
    if inside.eof() {
        return true;
    }
    let mut cursor = inside;
    while let Some((tt, next)) = cursor.token_tree() {
        if let proc_macro2::TokenTree::Punct(p) = &tt {
            if p.as_char() == ',' {
                return true;
            }
            if p.as_char() == '=' && p.spacing() == proc_macro2::Spacing::Joint {
                if let Some((proc_macro2::TokenTree::Punct(q), _)) = next.token_tree() {
                    if q.as_char() == '>' {
                        return true;
                    }
                }
            }
        }
        cursor = next;
    }
    false
}

/// A stage body: a closure or any expression, up to `=>`, `;`, `,` or `)`.
fn parse_body(input: ParseStream) -> syn::Result<Expr> {
    if input.is_empty() || input.peek(Token![;]) || input.peek(Token![,]) || input.peek(Token![=>])
    {
        return Err(error::expected_stage(input));
    }
    input.parse::<Expr>()
}

/// `yield` is bare and takes only `#[ordered]`; other attributes are
/// reported on their name and dropped, so they draw no further errors.
fn check_yield(body: &Expr, attrs: &mut Vec<Attr>, errors: &mut Errors) {
    let Some(y) = yield_expr(body) else {
        return;
    };
    if let Some(value) = &y.expr {
        errors.push(error::yield_with_value(value));
    }
    attrs.retain(|attr| {
        let ordered = matches!(attr.kind, AttrKind::Ordered);
        if !ordered {
            errors.push(error::attribute_on_yield(attr.span, attr.kind.name()));
        }
        ordered
    });
}

/// Outer attributes; a malformed or unknown one is recorded and skipped.
fn parse_attrs(input: ParseStream, errors: &mut Errors) -> syn::Result<Vec<Attr>> {
    let mut attrs = Vec::new();
    for attr in syn::Attribute::parse_outer(input)? {
        if let Some(attr) = errors.ok(convert_attr(&attr)) {
            attrs.push(attr);
        }
    }
    Ok(attrs)
}

fn convert_attr(attr: &syn::Attribute) -> syn::Result<Attr> {
    // The attribute's name: on stable, a span cannot cover `#[...]` whole.
    let span = attr.path().span();
    let path = attr.path();
    let Some(name) = path.get_ident().map(Ident::to_string) else {
        return Err(error::unknown_attribute(path));
    };
    let no_args = |kind: AttrKind| -> syn::Result<Attr> {
        match &attr.meta {
            syn::Meta::Path(_) => Ok(Attr { kind, span }),
            meta => Err(error::attribute_takes_no_arguments(meta, &name)),
        }
    };
    let one_arg = |name: &str| -> syn::Result<Expr> {
        match &attr.meta {
            syn::Meta::List(list) => list
                .parse_args::<Expr>()
                .map_err(|_| error::attribute_needs_one_value(list, name)),
            meta => Err(error::attribute_needs_one_value(meta, name)),
        }
    };
    let kind = match name.as_str() {
        "ordered" => return no_args(AttrKind::Ordered),
        "serial" => return no_args(AttrKind::Serial),
        "parallel" => return no_args(AttrKind::Parallel),
        "split" => return no_args(AttrKind::Split),
        "replicate" => AttrKind::Replicate(one_arg("replicate")?),
        "priority" => AttrKind::Priority(one_arg("priority")?),
        "gpu" => parse_gpu(attr)?,
        _ => return Err(error::unknown_attribute(path)),
    };
    Ok(Attr { kind, span })
}

fn parse_gpu(attr: &syn::Attribute) -> syn::Result<AttrKind> {
    let mut batch = None;
    let mut lanes = None;
    match &attr.meta {
        syn::Meta::Path(_) => {}
        syn::Meta::List(_) => {
            attr.parse_nested_meta(|meta| {
                let slot = if meta.path.is_ident("batch") {
                    &mut batch
                } else if meta.path.is_ident("lanes") {
                    &mut lanes
                } else {
                    return Err(error::unknown_gpu_option(&meta));
                };
                if slot.is_some() {
                    return Err(error::duplicate_gpu_option(&meta));
                }
                *slot = Some(meta.value()?.parse::<Expr>()?);
                Ok(())
            })?;
        }
        syn::Meta::NameValue(nv) => return Err(error::gpu_name_value(nv)),
    }
    Ok(AttrKind::Gpu { batch, lanes })
}
