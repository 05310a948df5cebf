//! Non-closure stage bodies (a `Stage` value or a function path) in a
//! parallel or a serial position. The macro cannot tell the two kinds apart
//! by syntax, so a marker type parameter (`StageBody` / `FnBody`) lets trait
//! resolution pick the implementation.

use crate::api::combinators::Fold;
use crate::api::stage::{Input, Output, Stage, StageMode};
use crate::build::graph::Graph;
use crate::build::port::Port;
use std::marker::PhantomData;

/// Marks a body used as a [`Stage`].
pub struct StageBody;
/// Marks a body used as a function returning `Out`.
pub struct FnBody<Out>(PhantomData<fn() -> Out>);
/// Marks a [`Fold`] body (not a `Stage`: it has per-worker state).
pub struct FoldBody<A>(PhantomData<fn() -> A>);

/// A non-closure body in a parallel position: a `Stage` value or a
/// function path `Fn(In) -> Out`.
pub trait ParallelBody<'a, In, M>: Sized {
    /// What the stage emits.
    type Out;
    /// Adds the stage to `g`.
    fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<Self::Out>;
}

impl<'a, In: Send + 'a, S: Stage<In> + 'a> ParallelBody<'a, In, StageBody> for S
where
    S::Out: 'a,
{
    type Out = S::Out;
    fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<S::Out> {
        g.stage(from, self)
    }
}

impl<'a, In, Out, F> ParallelBody<'a, In, FnBody<Out>> for F
where
    In: Send + 'a,
    Out: Send + 'a,
    F: Fn(In) -> Out + Send + Sync + 'a,
{
    type Out = Out;
    fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<Out> {
        g.map(from, self)
    }
}

impl<'a, In, A, I, F> ParallelBody<'a, In, FoldBody<A>> for Fold<I, F>
where
    In: Send + 'a,
    A: Send + 'a,
    I: Fn() -> A + Send + Sync + 'a,
    F: Fn(A, In) -> A + Send + Sync + 'a,
{
    type Out = A;
    fn add(self, g: &mut Graph<'a>, from: Port<In>) -> Port<A> {
        g.fold(from, self.init, self.op)
    }
}

/// A non-closure body in a serial position: a `Stage` value or a
/// function path `FnMut(In) -> Out`.
pub trait SerialBody<'a, In, M>: Sized {
    /// What the stage emits.
    type Out;
    /// Adds the stage to `g`, ordered or not.
    fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<Self::Out>;
}

impl<'a, In: Send + 'a, S: Stage<In> + 'a> SerialBody<'a, In, StageBody> for S
where
    S::Out: 'a,
{
    type Out = S::Out;
    fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<S::Out> {
        // In a serial position (a sink, `#[serial]`, `#[ordered]`) a
        // `Stage` value runs serially, and ordered if asked, whatever
        // mode it declares (a regrouping stage already sees order).
        let declared = self.mode();
        let mode = match declared {
            StageMode::Regroup | StageMode::Ordered => declared,
            _ if ordered => StageMode::Ordered,
            _ => StageMode::Serial,
        };
        if mode == declared {
            g.stage(from, self)
        } else {
            g.stage(from, WithMode(self, mode))
        }
    }
}

/// A `Stage` run in another mode than it declares.
struct WithMode<S>(S, StageMode);

impl<In, S: Stage<In>> Stage<In> for WithMode<S> {
    type Out = S::Out;
    fn mode(&self) -> StageMode {
        self.1
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn process(&self, item: In, out: &mut Output<'_, S::Out>) {
        self.0.process(item, out);
    }
    fn process_batch(&self, input: &mut Input<'_, In>, out: &mut Output<'_, S::Out>) {
        self.0.process_batch(input, out);
    }
    fn flush(&self, out: &mut Output<'_, S::Out>) {
        self.0.flush(out);
    }
}

impl<'a, In, Out, F> SerialBody<'a, In, FnBody<Out>> for F
where
    In: Send + 'a,
    Out: Send + 'a,
    F: FnMut(In) -> Out + Send + 'a,
{
    type Out = Out;
    fn add(self, g: &mut Graph<'a>, from: Port<In>, ordered: bool) -> Port<Out> {
        if ordered {
            g.ordered_map(from, self)
        } else {
            g.serial_map(from, self)
        }
    }
}

/// A parallel map (or parallel sink) from a non-closure body.
pub fn map_body<'a, In, M, B: ParallelBody<'a, In, M>>(
    g: &mut Graph<'a>,
    from: Port<In>,
    body: B,
) -> Port<B::Out> {
    body.add(g, from)
}

/// A serial map (or sink) from a non-closure body.
pub fn serial_body<'a, In, M, B: SerialBody<'a, In, M>>(
    g: &mut Graph<'a>,
    from: Port<In>,
    body: B,
) -> Port<B::Out> {
    body.add(g, from, false)
}

/// An ordered map (or sink) from a non-closure body.
pub fn ordered_body<'a, In, M, B: SerialBody<'a, In, M>>(
    g: &mut Graph<'a>,
    from: Port<In>,
    body: B,
) -> Port<B::Out> {
    body.add(g, from, true)
}
