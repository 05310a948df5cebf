//! Closure combinators resolved by Rust, not by spelling: `pipeline!`
//! emits `FilterCall::add(filter, &mut g, port, closure)` with the user's
//! own callee path, so name resolution decides what `filter` is, and the
//! trait's bounds still give the closure its parameter type from the port
//! before the closure is type-checked.

use crate::api::id::NodeId;
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

/// One trait per per-item combinator that `pipeline!` fuses with the
/// `fold` right after it (`flat_map(f) => fold(init, op)`; see
/// `nodes::fold`), implemented only for a pair of callees that build Para's
/// combinator and Para's `fold`, as the traits above are. The bounds give
/// the closures their parameter types in order: the combinator's from the
/// port, the fold's `op` from `init` and from what the combinator yields.
/// `$pre` turns the combinator's closure into the function the fused loop
/// calls per item, which yields what the stage would emit.
macro_rules! fused_fold_calls {
    ($($call:ident $name:literal $stage:ident [$($gen:ident),*] -> $out:ty
        { $($bound:tt)* } |$f:ident| $pre:expr;)*) => {$(
        #[doc = concat!("`", $name, "(..) => fold(..)` in a `pipeline!` flow, fused (see the macro above).")]
        #[diagnostic::on_unimplemented(
            message = "these are not Para's combinator and `fold`: `{Self}`",
            label = "`pipeline!` reads `filter`, `filter_map`, `flat_map` or `inspect` \
                     followed by `fold` as Para's combinators, and runs them as one loop",
            note = "to use a function of your own with such a name as a stage, put the call \
                    in parentheses, e.g. `=> (fold(init, op)) =>`"
        )]
        pub trait $call<'a, In, F, I, Op> {
            /// The accumulator type.
            type Out;
            /// Builds the combinator from `f` and the fold from `init` and
            /// `op`, and adds them after `from`, fused: the combinator's
            /// node and the fold's port.
            fn add(self, g: &mut Graph<'a>, from: Port<In>, f: F, init: I, op: Op)
                -> (NodeId, Port<Self::Out>);
        }

        impl<'a, In, F, I, Op, A, C, D, $($gen),*> $call<'a, In, F, I, Op> for (C, D)
        where
            C: FnOnce(F) -> crate::api::combinators::$stage<F>,
            D: FnOnce(I, Op) -> crate::api::combinators::Fold<I, Op>,
            In: Send + 'a,
            F: Send + Sync + 'a,
            $($bound)*
            A: Send + 'a,
            I: Fn() -> A + Send + Sync + 'a,
            Op: Fn(A, $out) -> A + Send + Sync + 'a,
        {
            type Out = A;
            fn add(self, g: &mut Graph<'a>, from: Port<In>, f: F, init: I, op: Op)
                -> (NodeId, Port<A>)
            {
                let (stage, fold) = self;
                let $f = stage(f).0;
                let fold = fold(init, op);
                g.fused_fold(from, $name, $pre, fold.init, fold.op)
            }
        }
    )*};
}

fused_fold_calls! {
    FilterFoldCall "filter" Filter [] -> In { F: Fn(&In) -> bool, }
        |f| move |x: In| if f(&x) { Some(x) } else { None };
    InspectFoldCall "inspect" Inspect [] -> In { F: Fn(&In), }
        |f| move |x: In| {
            f(&x);
            Some(x)
        };
    FilterMapFoldCall "filter_map" FilterMap [U] -> U { U: Send + 'a, F: Fn(In) -> Option<U>, }
        |f| f;
    FlatMapFoldCall "flat_map" FlatMap [J] -> J::Item {
        J: IntoIterator, J::Item: Send + 'a, F: Fn(In) -> J,
    }
        |f| f;
}

/// A parallel map closure followed by `fold(init, op)` in a `pipeline!`
/// flow, fused (see `nodes::fold`): implemented only for Para's `fold`.
#[diagnostic::on_unimplemented(
    message = "this is not Para's combinator of that name: `{Self}`",
    label = "`pipeline!` reads `fold` called with an initialiser and a closure as Para's `fold`",
    note = "to use a function of your own named `fold` as a stage, put the call in \
            parentheses, e.g. `=> (fold(init, |acc, x| ..)) =>`"
)]
pub trait MapFoldCall<'a, In, F, I, Op> {
    /// The accumulator type.
    type Out;
    /// Adds the map `f` and the fold from `init` and `op` after `from`,
    /// fused: the map's node and the fold's port.
    fn add(
        self,
        g: &mut Graph<'a>,
        from: Port<In>,
        f: F,
        init: I,
        op: Op,
    ) -> (NodeId, Port<Self::Out>);
}

impl<'a, In, U, F, I, Op, A, D> MapFoldCall<'a, In, F, I, Op> for D
where
    D: FnOnce(I, Op) -> crate::api::combinators::Fold<I, Op>,
    In: Send + 'a,
    U: Send + 'a,
    F: Fn(In) -> U + Send + Sync + 'a,
    A: Send + 'a,
    I: Fn() -> A + Send + Sync + 'a,
    Op: Fn(A, U) -> A + Send + Sync + 'a,
{
    type Out = A;
    fn add(self, g: &mut Graph<'a>, from: Port<In>, f: F, init: I, op: Op) -> (NodeId, Port<A>) {
        let fold = self(init, op);
        g.fused_fold(from, "map", move |x| Some(f(x)), fold.init, fold.op)
    }
}
