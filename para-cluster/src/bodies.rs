//! What `pipeline!(cluster = cx, ...)` expands to beyond the builder's
//! methods: non-closure bodies (a `Stage` value or a function path, told
//! apart by trait resolution with a marker type, as on one machine) and
//! the closure combinators (`filter(|x| ..)`), whose closure gets its
//! parameter type from the port.

use crate::graph::{ClusterGraph, ClusterPort, Item, Place};
use para_runtime::combinators::{Filter, FilterMap, FlatMap, Fold, Inspect, TakeWhile};
use para_runtime::{Stage, StageMode};
use std::marker::PhantomData;

/// Marks a body used as a [`Stage`].
pub struct StageBody;

/// Marks a body used as a function returning `Out`.
pub struct FnBody<Out>(PhantomData<fn() -> Out>);

/// A non-closure body in a parallel position.
pub trait ParallelBody<'s, 'a, In, M>: Sized {
    /// What the stage emits.
    type Out;
    /// Adds the stage to `g`.
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
    ) -> ClusterPort<'s, Self::Out>;
}

impl<'s, 'a, In: Item, S: Stage<In> + 'a> ParallelBody<'s, 'a, In, StageBody> for S
where
    S::Out: 'static,
{
    type Out = S::Out;
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
    ) -> ClusterPort<'s, S::Out> {
        g.stage(from, self)
    }
}

impl<'s, 'a, In, Out, F> ParallelBody<'s, 'a, In, FnBody<Out>> for F
where
    In: 'static,
    Out: 'static,
    F: Fn(In) -> Out + 'a,
{
    type Out = Out;
    fn add(self, g: &mut ClusterGraph<'s, 'a>, from: ClusterPort<'s, In>) -> ClusterPort<'s, Out> {
        g.map(from, self)
    }
}

/// A non-closure body in a serial position (a sink, `#[serial]`,
/// `#[ordered]`).
pub trait SerialBody<'s, 'a, In, M>: Sized {
    /// What the stage emits.
    type Out;
    /// Adds the stage to `g`, ordered or not.
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
        ordered: bool,
    ) -> ClusterPort<'s, Self::Out>;
}

impl<'s, 'a, In: Item, S: Stage<In> + 'a> SerialBody<'s, 'a, In, StageBody> for S
where
    S::Out: 'static,
{
    type Out = S::Out;
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
        ordered: bool,
    ) -> ClusterPort<'s, S::Out> {
        // Serially, and ordered if asked, whatever mode it declares (a
        // regrouping stage already sees order), as on one machine.
        let place = match self.mode() {
            StageMode::Regroup => Place::Regroup,
            StageMode::Ordered => Place::Ordered,
            _ if ordered => Place::Ordered,
            _ => Place::Zero,
        };
        g.stage_at(from, self, place)
    }
}

impl<'s, 'a, In, Out, F> SerialBody<'s, 'a, In, FnBody<Out>> for F
where
    In: Item,
    Out: 'static,
    F: FnMut(In) -> Out + 'a,
{
    type Out = Out;
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
        ordered: bool,
    ) -> ClusterPort<'s, Out> {
        if ordered {
            g.ordered_map(from, self)
        } else {
            g.serial_map(from, self)
        }
    }
}

/// A parallel map (or parallel sink) from a non-closure body.
pub fn map_body<'s, 'a, In, M, B: ParallelBody<'s, 'a, In, M>>(
    g: &mut ClusterGraph<'s, 'a>,
    from: ClusterPort<'s, In>,
    body: B,
) -> ClusterPort<'s, B::Out> {
    body.add(g, from)
}

/// A serial map (or sink) from a non-closure body.
pub fn serial_body<'s, 'a, In, M, B: SerialBody<'s, 'a, In, M>>(
    g: &mut ClusterGraph<'s, 'a>,
    from: ClusterPort<'s, In>,
    body: B,
) -> ClusterPort<'s, B::Out> {
    body.add(g, from, false)
}

/// An ordered map (or sink) from a non-closure body.
pub fn ordered_body<'s, 'a, In, M, B: SerialBody<'s, 'a, In, M>>(
    g: &mut ClusterGraph<'s, 'a>,
    from: ClusterPort<'s, In>,
    body: B,
) -> ClusterPort<'s, B::Out> {
    body.add(g, from, true)
}

macro_rules! closure_combinators {
    ($($call:ident $name:literal $stage:ident [$($gen:ident),*] -> $out:ty { $($bound:tt)* })*) => {$(
        #[doc = concat!("`", $name, "(closure)` in a cluster `pipeline!` stage.")]
        #[diagnostic::on_unimplemented(
            message = "this is not Para's combinator of that name: `{Self}`",
            label = "`pipeline!` reads `filter`, `filter_map`, `flat_map`, `inspect` or \
                     `take_while` called with a closure as Para's combinator",
            note = "to use a function of your own with such a name as a stage, put the call \
                    in parentheses, e.g. `=> (filter(|x| ..)) =>`"
        )]
        pub trait $call<'s, 'a, In, F> {
            /// What the stage emits.
            type Out;
            /// Builds the combinator from `f` and adds it after `from`.
            fn add(self, g: &mut ClusterGraph<'s, 'a>, from: ClusterPort<'s, In>, f: F) -> ClusterPort<'s, Self::Out>;
        }

        impl<'s, 'a, In, F, C, $($gen),*> $call<'s, 'a, In, F> for C
        where
            C: FnOnce(F) -> $stage<F>,
            In: Item,
            F: Send + Sync + 'a,
            $($bound)*
        {
            type Out = $out;
            fn add(self, g: &mut ClusterGraph<'s, 'a>, from: ClusterPort<'s, In>, f: F) -> ClusterPort<'s, $out> {
                g.stage(from, self(f))
            }
        }
    )*};
}

closure_combinators! {
    FilterCall "filter" Filter [] -> In { F: Fn(&In) -> bool, }
    InspectCall "inspect" Inspect [] -> In { F: Fn(&In), }
    TakeWhileCall "take_while" TakeWhile [] -> In { F: Fn(&In) -> bool, }
    FilterMapCall "filter_map" FilterMap [U] -> U { U: Send + 'static, F: Fn(In) -> Option<U>, }
    FlatMapCall "flat_map" FlatMap [I] -> I::Item {
        I: IntoIterator, I::Item: Send + 'static, F: Fn(In) -> I,
    }
}

/// `fold(init, closure)` in a cluster `pipeline!` stage: implemented only
/// for Para's `fold`, so the closure's parameter types come from the port
/// and from `init`'s accumulator.
#[diagnostic::on_unimplemented(
    message = "this is not Para's combinator of that name: `{Self}`",
    label = "`pipeline!` reads `fold` called with an initialiser and a closure as Para's `fold`",
    note = "to use a function of your own named `fold` as a stage, put the call in \
            parentheses, e.g. `=> (fold(init, |acc, x| ..)) =>`"
)]
pub trait FoldCall<'s, 'a, In, I, F> {
    /// The accumulator type.
    type Out;
    /// Adds a fold of `init` and `op` after `from`.
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
        init: I,
        op: F,
    ) -> ClusterPort<'s, Self::Out>;
}

impl<'s, 'a, In, A, I, F, C> FoldCall<'s, 'a, In, I, F> for C
where
    C: FnOnce(I, F) -> Fold<I, F>,
    In: 'static,
    A: 'static,
    I: Fn() -> A + 'a,
    F: Fn(A, In) -> A + 'a,
{
    type Out = A;
    fn add(
        self,
        g: &mut ClusterGraph<'s, 'a>,
        from: ClusterPort<'s, In>,
        init: I,
        op: F,
    ) -> ClusterPort<'s, A> {
        // `self` only proves this is Para's `fold`: the builder takes the
        // initialiser and the closure themselves.
        g.fold(from, init, op)
    }
}
