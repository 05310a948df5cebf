//! Closure combinators resolved by Rust, not by spelling: `pipeline!`
//! emits `FilterCall::add(filter, &mut g, port, closure)` with the user's
//! own callee path, so name resolution decides what `filter` is, and the
//! trait's bounds still give the closure its parameter type from the port
//! before the closure is type-checked.

use crate::build::graph::Graph;
use crate::build::port::Port;

/// One trait per closure combinator, implemented only for callees that
/// build Para's combinator from a closure (`FnOnce(F) -> Filter<F>`, which
/// Para's `filter` is, and a user's own `filter` is not). The macro calls
/// `FilterCall::add(filter, &mut g, port, |&x| ..)` with the user's own
/// callee path, so Rust's name resolution decides what `filter` is; the
/// impl's bounds give the closure its parameter type from the port
/// before the closure is checked, as `Graph::filter` does.
macro_rules! closure_combinators {
    ($($call:ident $name:literal $stage:ident [$($gen:ident),*] -> $out:ty { $($bound:tt)* })*) => {$(
        #[doc = concat!("`", $name, "(closure)` in a `pipeline!` stage (see the macro above).")]
        #[diagnostic::on_unimplemented(
            message = "this is not Para's combinator of that name: `{Self}`",
            label = "`pipeline!` reads `filter`, `filter_map`, `flat_map`, `inspect` or \
                     `take_while` called with a closure as Para's combinator",
            note = "to use a function of your own with such a name as a stage, put the call \
                    in parentheses, e.g. `=> (filter(|x| ..)) =>`"
        )]
        pub trait $call<'a, In, F> {
            /// What the stage emits.
            type Out;
            /// Builds the combinator from `f` and adds it after `from`.
            fn add(self, g: &mut Graph<'a>, from: Port<In>, f: F) -> Port<Self::Out>;
        }

        impl<'a, In, F, C, $($gen),*> $call<'a, In, F> for C
        where
            C: FnOnce(F) -> crate::api::combinators::$stage<F>,
            In: Send + 'a,
            F: Send + Sync + 'a,
            $($bound)*
        {
            type Out = $out;
            fn add(self, g: &mut Graph<'a>, from: Port<In>, f: F) -> Port<$out> {
                g.stage(from, self(f))
            }
        }
    )*};
}

closure_combinators! {
    FilterCall "filter" Filter [] -> In { F: Fn(&In) -> bool, }
    InspectCall "inspect" Inspect [] -> In { F: Fn(&In), }
    TakeWhileCall "take_while" TakeWhile [] -> In { F: Fn(&In) -> bool, }
    FilterMapCall "filter_map" FilterMap [U] -> U { U: Send + 'a, F: Fn(In) -> Option<U>, }
    FlatMapCall "flat_map" FlatMap [I] -> I::Item {
        I: IntoIterator, I::Item: Send + 'a, F: Fn(In) -> I,
    }
}

/// `fold(init, closure)` in a `pipeline!` stage: like the closure
/// combinators above, implemented only for Para's `fold`, so the
/// closure's parameter types come from the port (and from `init`'s
/// accumulator) before the closure is checked.
#[diagnostic::on_unimplemented(
    message = "this is not Para's combinator of that name: `{Self}`",
    label = "`pipeline!` reads `fold` called with an initialiser and a closure as Para's `fold`",
    note = "to use a function of your own named `fold` as a stage, put the call in \
            parentheses, e.g. `=> (fold(init, |acc, x| ..)) =>`"
)]
pub trait FoldCall<'a, In, I, F> {
    /// The accumulator type.
    type Out;
    /// Builds the fold from `init` and `op` and adds it after `from`.
    fn add(self, g: &mut Graph<'a>, from: Port<In>, init: I, op: F) -> Port<Self::Out>;
}

impl<'a, In, A, I, F, C> FoldCall<'a, In, I, F> for C
where
    C: FnOnce(I, F) -> crate::api::combinators::Fold<I, F>,
    In: Send + 'a,
    A: Send + 'a,
    I: Fn() -> A + Send + Sync + 'a,
    F: Fn(A, In) -> A + Send + Sync + 'a,
{
    type Out = A;
    fn add(self, g: &mut Graph<'a>, from: Port<In>, init: I, op: F) -> Port<A> {
        let fold = self(init, op);
        g.fold(from, fold.init, fold.op)
    }
}
