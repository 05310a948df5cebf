//! The source of a flow in `pipeline!`: an iterator or a feed, told apart
//! by trait resolution (a marker type parameter, as in `bodies`), so the
//! expansion writes one call for both and a value that is neither gets an
//! error that names what a source may be.

use crate::build::graph::Graph;
use crate::build::port::Port;
use crate::nodes::feed::Feed;

/// Marks a source that is an `IntoIterator`.
pub struct IterSource;
/// Marks a source that is a [`Feed`].
pub struct FeedSource;

/// What may start a flow: an `IntoIterator` (whose iterator and items are
/// `Send`) or a [`Feed`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the source of a flow",
    label = "a source is an `IntoIterator` whose iterator and items are `Send`, or a `para::Feed`",
    note = "ranges, `Vec`s, `v.iter()`, a channel's `into_iter()` and `para::feed()`'s `Feed` are sources"
)]
pub trait SourceBody<'a, M> {
    /// The items the source yields.
    type Item;
    /// Adds the source to `g`.
    fn add(self, g: &mut Graph<'a>) -> Port<Self::Item>;
}

impl<'a, I> SourceBody<'a, IterSource> for I
where
    I: IntoIterator,
    I::IntoIter: Send + 'a,
    I::Item: Send + 'a,
{
    type Item = I::Item;
    fn add(self, g: &mut Graph<'a>) -> Port<I::Item> {
        g.source(self)
    }
}

impl<'a, T: Send + 'a> SourceBody<'a, FeedSource> for Feed<T> {
    type Item = T;
    fn add(self, g: &mut Graph<'a>) -> Port<T> {
        g.feed_source(self)
    }
}

/// Adds the source `body` to `g` (see [`SourceBody`]).
pub fn source<'a, M, S: SourceBody<'a, M>>(g: &mut Graph<'a>, body: S) -> Port<S::Item> {
    body.add(g)
}
