//! Parsing `pipeline!` input into our own model. Every node, edge and option
//! keeps its span so later errors point at the right token.
//!
//! ```text
//! pipeline!( [OPTIONS ,] FLOW { ; FLOW } [;] )
//! OPTIONS := EXPR | KEY = EXPR { , KEY = EXPR }
//! FLOW    := STAGE { => STAGE }
//! STAGE   := { ATTR } [ LABEL : ] BODY | LABEL | ( FLOW , FLOW { , FLOW } [,] )
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{token, Expr, Ident, Lifetime, Token};

/// The whole macro input.
pub struct Pipeline {
    pub options: Vec<OptionItem>,
    pub flows: Vec<Flow>,
}

/// One run option.
pub struct OptionItem {
    pub key: OptionKey,
    /// The key's span (the value's span for a bare thread count).
    pub span: Span,
    pub value: Expr,
}

/// The options `pipeline!` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKey {
    Threads,
    Capacity,
    Batch,
    Pool,
}

/// `KEY = EXPR`, for `pipeline!` and `#[para::pipeline(...)]` alike.
impl Parse for OptionItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let ident: Ident = input.parse()?;
        let Some(key) = OptionKey::from_ident(&ident) else {
            return Err(syn::Error::new(
                ident.span(),
                format!(
                    "unknown option `{ident}`; the options are {}",
                    OptionKey::NAMES
                ),
            ));
        };
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        Ok(OptionItem {
            key,
            span: ident.span(),
            value,
        })
    }
}

impl OptionKey {
    pub const NAMES: &'static str = "`threads`, `capacity`, `batch`, `pool`";

    fn from_ident(ident: &Ident) -> Option<Self> {
        Some(match ident.to_string().as_str() {
            "threads" => OptionKey::Threads,
            "capacity" => OptionKey::Capacity,
            "batch" => OptionKey::Batch,
            "pool" => OptionKey::Pool,
            _ => return None,
        })
    }
}

/// `STAGE => STAGE => ...`
pub struct Flow {
    pub stages: Vec<Item>,
}

/// One position of a flow.
pub enum Item {
    Stage(StageDef),
    /// `'name`: a reference to a labelled stage.
    Ref(Lifetime),
    FanOut(FanOut),
}

/// `{ ATTR } [ 'label : ] BODY`
pub struct StageDef {
    pub attrs: Vec<Attr>,
    pub label: Option<Lifetime>,
    pub body: Expr,
}

/// `( FLOW , FLOW , ... )`
pub struct FanOut {
    pub span: Span,
    pub branches: Vec<Flow>,
}

/// A stage attribute.
pub struct Attr {
    pub kind: AttrKind,
    pub span: Span,
}

pub enum AttrKind {
    Ordered,
    Serial,
    Parallel,
    Replicate(Expr),
    Priority(Expr),
    Split,
    Gpu {
        batch: Option<Expr>,
        lanes: Option<Expr>,
    },
}

pub const ATTR_NAMES: &str =
    "`ordered`, `serial`, `parallel`, `replicate(N)`, `priority(N)`, `split`, `gpu`, `gpu(batch = N, lanes = L)`";

impl StageDef {
    pub fn span(&self) -> Span {
        match &self.label {
            Some(label) => label
                .span()
                .join(self.body.span())
                .unwrap_or_else(|| self.body.span()),
            None => self.body.span(),
        }
    }
}

impl Parse for Pipeline {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected a pipeline: `pipeline!(source => stage => sink)`, optionally preceded by \
                 options such as `4,` or `threads = 4, capacity = 1024,`",
            ));
        }
        let options = parse_options(input)?;
        let mut flows = Vec::new();
        loop {
            if input.is_empty() {
                break;
            }
            flows.push(parse_flow(input, true)?);
            if input.is_empty() {
                break;
            }
            if input.peek(Token![;]) {
                input.parse::<Token![;]>()?;
                continue;
            }
            return Err(
                input.error("expected `=>` to continue the flow, or `;` to start another flow")
            );
        }
        if flows.is_empty() {
            return Err(input.error("expected at least one flow after the options"));
        }
        Ok(Pipeline { options, flows })
    }
}

/// `KEY = EXPR, ...,` or a bare thread count `EXPR,`, or nothing.
fn parse_options(input: ParseStream) -> syn::Result<Vec<OptionItem>> {
    let mut options = Vec::new();
    // Keyed options: `ident =` (not `==`, not `=>`).
    while input.peek(Ident)
        && input.peek2(Token![=])
        && !input.peek2(Token![==])
        && !input.peek2(Token![=>])
    {
        options.push(input.parse()?);
        if input.is_empty() {
            return Err(input.error("expected `,` and a flow after the options"));
        }
        input.parse::<Token![,]>()?;
    }
    if !options.is_empty() {
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
fn parse_flow(input: ParseStream, top_level: bool) -> syn::Result<Flow> {
    let mut stages = vec![parse_item(input)?];
    while input.peek(Token![=>]) {
        input.parse::<Token![=>]>()?;
        if input.is_empty() || input.peek(Token![;]) || input.peek(Token![,]) {
            return Err(input.error("expected a stage after `=>`"));
        }
        stages.push(parse_item(input)?);
    }
    if !(top_level || input.is_empty() || input.peek(Token![,])) {
        return Err(input.error("expected `=>`, `,` or `)` in a fan-out branch"));
    }
    Ok(Flow { stages })
}

fn parse_item(input: ParseStream) -> syn::Result<Item> {
    let mut attrs = parse_attrs(input)?;
    if input.peek(Lifetime) {
        let label: Lifetime = input.parse()?;
        if input.peek(Token![:]) && !input.peek(Token![::]) {
            input.parse::<Token![:]>()?;
            // Attributes may also follow the label: `'name: #[ordered] |x| ...`.
            attrs.extend(parse_attrs(input)?);
            let body = parse_body(input)?;
            return Ok(Item::Stage(StageDef {
                attrs,
                label: Some(label),
                body,
            }));
        }
        if let Some(attr) = attrs.first() {
            return Err(syn::Error::new(
                attr.span,
                format!(
                    "an attribute cannot be put on a reference to `{label}`; put it where the \
                     stage is defined (`{label}: ...`)"
                ),
            ));
        }
        return Ok(Item::Ref(label));
    }
    if input.peek(token::Paren) && is_fan_out(input) {
        if let Some(attr) = attrs.first() {
            return Err(syn::Error::new(
                attr.span,
                "an attribute cannot be put on a fan-out group; put it on a stage inside",
            ));
        }
        let content;
        let paren = syn::parenthesized!(content in input);
        let mut branches = Vec::new();
        while !content.is_empty() {
            branches.push(parse_flow(&content, false)?);
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
        return Err(
            input.error("expected a stage: a closure such as `|x| x + 1`, or an expression")
        );
    }
    input.parse::<Expr>()
}

fn parse_attrs(input: ParseStream) -> syn::Result<Vec<Attr>> {
    let mut attrs = Vec::new();
    for attr in syn::Attribute::parse_outer(input)? {
        attrs.push(convert_attr(&attr)?);
    }
    Ok(attrs)
}

fn convert_attr(attr: &syn::Attribute) -> syn::Result<Attr> {
    // The attribute's name: on stable, a span cannot cover `#[...]` whole.
    let span = attr.path().span();
    let path = attr.path();
    let Some(name) = path.get_ident().map(Ident::to_string) else {
        return Err(syn::Error::new_spanned(
            path,
            format!("unknown stage attribute; the attributes are {ATTR_NAMES}"),
        ));
    };
    let no_args = |kind: AttrKind| -> syn::Result<Attr> {
        match &attr.meta {
            syn::Meta::Path(_) => Ok(Attr { kind, span }),
            _ => Err(syn::Error::new_spanned(
                &attr.meta,
                format!("`#[{name}]` takes no arguments"),
            )),
        }
    };
    let one_arg = |name: &str| -> syn::Result<Expr> {
        match &attr.meta {
            syn::Meta::List(list) => list.parse_args::<Expr>().map_err(|_| {
                syn::Error::new_spanned(list, format!("expected `#[{name}(N)]` with one value"))
            }),
            _ => Err(syn::Error::new_spanned(
                &attr.meta,
                format!("expected `#[{name}(N)]` with one value"),
            )),
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
        _ => {
            return Err(syn::Error::new_spanned(
                path,
                format!("unknown stage attribute `#[{name}]`; the attributes are {ATTR_NAMES}"),
            ))
        }
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
                    return Err(meta.error(
                        "unknown `#[gpu]` option; the options are `batch = N` and `lanes = L`",
                    ));
                };
                if slot.is_some() {
                    return Err(meta.error("this `#[gpu]` option is given twice"));
                }
                *slot = Some(meta.value()?.parse::<Expr>()?);
                Ok(())
            })?;
        }
        syn::Meta::NameValue(nv) => {
            return Err(syn::Error::new_spanned(
                nv,
                "expected `#[gpu]` or `#[gpu(batch = N, lanes = L)]`",
            ))
        }
    }
    Ok(AttrKind::Gpu { batch, lanes })
}
