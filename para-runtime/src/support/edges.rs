//! Typed helpers for fan-out and fan-in whose trait bounds carry the
//! diagnostics of SPEC section 4: a non-`Clone` item at a fan-out, and
//! fan-in branches that end in different types, each named in the error.
//!
//! Where the caret lands: SPEC section 4 asks for it on the offending
//! branch. The expansion spans each call at the branch (or fan-out) it
//! checks, and the argument at that branch's tokens too, but the argument
//! must be a hygienic local of the expansion (the port it refers to), and
//! rustc reports an unmet bound on such a macro-made expression at the
//! macro's call site: the primary caret covers the whole `pipeline!`, and
//! the secondary one, "required by a bound introduced by this call", marks
//! the branch, with the message naming both types. There is no span that
//! both resolves the hygienic variable and makes rustc point at user
//! tokens alone (see `tests/ui/pipeline/fan_in_types_differ.stderr`).

use crate::build::graph::Graph;
use crate::build::port::Port;

/// Fan-out into `n` branches, as an iterator the expansion takes ports
/// from in branch order.
#[diagnostic::on_unimplemented(
    message = "fan-out of a non-`Clone` item: `{Self}` does not implement `Clone`",
    label = "every branch but the last gets a clone of this stage's output",
    note = "derive or implement `Clone` for the item type, or wrap it in an `Arc`"
)]
pub trait FanOutItem: Clone {}
impl<T: Clone> FanOutItem for T {}

/// See [`FanOutItem`].
pub fn fan_out<'a, T: FanOutItem + Send + 'a>(
    g: &mut Graph<'a>,
    from: Port<T>,
    n: usize,
) -> std::vec::IntoIter<Port<T>> {
    g.fan_out(from, n).into_iter()
}

/// The item type of a fan-in branch, checked against the first branch.
#[diagnostic::on_unimplemented(
    message = "fan-in branches end in different types: this branch emits `{Self}`, \
               the first branch `Port<{T}>`",
    label = "this branch's last stage emits a different type",
    note = "every branch of a fan-out that is followed by `=> stage` must end in the same type"
)]
pub trait SameItem<T> {
    /// The branch's port, now known to carry `T`.
    fn into_port(self) -> Port<T>;
}
impl<T> SameItem<T> for Port<T> {
    fn into_port(self) -> Port<T> {
        self
    }
}

/// See [`SameItem`].
pub fn fan_in_branch<T, P: SameItem<T>>(_first: &Port<T>, branch: P) -> Port<T> {
    branch.into_port()
}
