//! The direct hand-off: a batch passed from the stage that emitted it to the
//! stage that runs it inline on the same worker, without a trip through the
//! receiving stage's inbox.
//!
//! # Invariant
//!
//! A [`Handoff`] is either empty or holds two pointers set by
//! [`Handoff::to`]:
//!
//! * `inbox`: the address of the `Inbox<T>` the batch was meant for. It
//!   identifies the receiving stage and, since one object has one type, the
//!   item type `T`.
//! * `batch`: a pointer to an `Option<Batch<T>>` on the stack frame of the
//!   emitter's `Executor::deliver`, which stays suspended, and does not
//!   touch the `Option`, until the inline run it started returns.
//!
//! Only the receiving stage, running inside that inline run, calls
//! [`Handoff::take`] with the same inbox; `take` empties the handoff, so the
//! pointer is dereferenced at most once, and `deliver` empties it again when
//! the inline run returns, so a stale pointer never outlives its frame.

use crate::data::batch::Batch;
use crate::data::inbox::Inbox;

/// A batch on its way to the stage run inline (see the module doc).
pub(crate) struct Handoff {
    inbox: *const (),
    batch: *mut (),
}

impl Handoff {
    /// No batch is being handed over.
    pub(crate) const EMPTY: Handoff = Handoff {
        inbox: std::ptr::null(),
        batch: std::ptr::null_mut(),
    };

    /// A handoff of the batch in `slot` to the stage owning `inbox`. The
    /// caller keeps `slot` alive and untouched, and stores
    /// [`Handoff::EMPTY`] back, once the inline run of that stage returns.
    pub(crate) fn to<T>(inbox: &Inbox<T>, slot: &mut Option<Batch<T>>) -> Handoff {
        Handoff {
            inbox: (inbox as *const Inbox<T>).cast(),
            batch: (slot as *mut Option<Batch<T>>).cast(),
        }
    }

    /// Whether no batch is being handed over.
    pub(crate) fn is_empty(&self) -> bool {
        self.inbox.is_null()
    }

    /// Takes the batch handed to the stage whose inbox is `inbox`, if one was.
    pub(crate) fn take<T>(&mut self, inbox: &Inbox<T>) -> Option<Batch<T>> {
        if !std::ptr::eq(self.inbox, (inbox as *const Inbox<T>).cast()) {
            return None;
        }
        let batch = self.batch.cast::<Option<Batch<T>>>();
        *self = Handoff::EMPTY;
        // SAFETY: by the module invariant, `to::<U>` set `self.inbox` to
        // an `Inbox<U>` and `self.batch` to its own `Option<Batch<U>>`. That
        // inbox is `inbox` (checked above), an `Inbox<T>`: one object has one
        // type, so `U = T` and the cast is to the right type. The `Option`
        // lives in `deliver`'s frame, suspended below this call and not
        // touching it until the inline run returns; `self` was emptied
        // above, so this is the only dereference.
        unsafe { (*batch).take() }
    }
}
