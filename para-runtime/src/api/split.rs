//! Splittable sources (`#[split]`): inputs that several workers can produce
//! from at once, because any prefix can be cut off in O(1).
//!
//! # Invariant of `VecSplit`
//!
//! A `Vec<T>` is turned into one shared buffer (`RawBuf`) and index ranges
//! over it. Every index of the original vector belongs to exactly one live
//! `VecSplit` or `VecIter`, which alone reads (moves out) or drops that item;
//! splitting hands disjoint ranges to the two halves. The buffer itself only
//! frees the allocation, never the items.

use crate::sync::Arc;
use std::marker::PhantomData;
use std::ops::Range;

/// A source that can be cut into independent parts, each produced by a
/// different worker. Implemented for integer ranges (items are the integers),
/// slices (items are `&T`) and, through [`IntoSplit`], for `Vec<T>` (items are
/// the `T`s, moved out).
///
/// ```
/// use para_runtime::Split;
/// let (front, back) = (0..10u32).split_at(3);
/// assert_eq!((front.split_len(), back.split_len()), (3, 7));
/// assert_eq!(back.into_items().next(), Some(3));
/// ```
pub trait Split: Sized + Send {
    /// The items the source yields.
    type Item: Send;
    /// The iterator over one part.
    type Iter: Iterator<Item = Self::Item>;
    /// How many items this part yields.
    fn split_len(&self) -> usize;
    /// Cuts the part into the first `index` items and the rest.
    /// Implementations must return parts of lengths `index` and `len - index`.
    fn split_at(self, index: usize) -> (Self, Self);
    /// The items of this part, in order.
    fn into_items(self) -> Self::Iter;
}

/// Conversion into a [`Split`]: `Vec<T>` becomes a [`VecSplit`], anything that
/// is already a `Split` stays itself.
pub trait IntoSplit {
    /// The splittable form.
    type Split: Split;
    /// Converts `self`.
    fn into_split(self) -> Self::Split;
}

impl<S: Split> IntoSplit for S {
    type Split = S;
    fn into_split(self) -> S {
        self
    }
}

macro_rules! split_range {
    ($($t:ty),*) => {$(
        impl Split for Range<$t> {
            type Item = $t;
            type Iter = Range<$t>;
            fn split_len(&self) -> usize {
                if self.start < self.end { (self.end - self.start) as usize } else { 0 }
            }
            fn split_at(self, index: usize) -> (Self, Self) {
                let mid = self.start + index as $t;
                (self.start..mid, mid..self.end)
            }
            fn into_items(self) -> Self::Iter {
                self
            }
        }
    )*};
}
split_range!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl<'a, T: Sync> Split for &'a [T] {
    type Item = &'a T;
    type Iter = std::slice::Iter<'a, T>;
    fn split_len(&self) -> usize {
        self.len()
    }
    fn split_at(self, index: usize) -> (Self, Self) {
        <[T]>::split_at(self, index)
    }
    fn into_items(self) -> Self::Iter {
        self.iter()
    }
}

impl<T: Send> IntoSplit for Vec<T> {
    type Split = VecSplit<T>;
    fn into_split(self) -> VecSplit<T> {
        let mut items = std::mem::ManuallyDrop::new(self);
        let len = items.len();
        let buf = RawBuf {
            ptr: items.as_mut_ptr(),
            cap: items.capacity(),
            _owns: PhantomData,
        };
        VecSplit {
            buf: Arc::new(buf),
            range: 0..len,
        }
    }
}

/// The allocation of a `Vec` shared by the parts of a [`VecSplit`].
struct RawBuf<T> {
    ptr: *mut T,
    cap: usize,
    _owns: PhantomData<T>,
}

// SAFETY: a `RawBuf` is only a shared allocation; each item in it is accessed
// by the one `VecSplit`/`VecIter` that owns its index (module invariant), so
// sending or sharing the buffer is sound whenever the items may be sent.
unsafe impl<T: Send> Send for RawBuf<T> {}
// SAFETY: as above: no two threads ever touch the same item through it.
unsafe impl<T: Send> Sync for RawBuf<T> {}

impl<T> Drop for RawBuf<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `cap` come from a `Vec<T>` that was never freed;
        // every item was moved out or dropped by its owner (module invariant),
        // so a length of 0 frees only the allocation.
        unsafe { drop(Vec::from_raw_parts(self.ptr, 0, self.cap)) };
    }
}

/// A part of a `Vec<T>` given to a split source: it owns the items of its
/// index range and yields them by value.
pub struct VecSplit<T> {
    buf: Arc<RawBuf<T>>,
    range: Range<usize>,
}

impl<T: Send> Split for VecSplit<T> {
    type Item = T;
    type Iter = VecIter<T>;
    fn split_len(&self) -> usize {
        self.range.len()
    }
    fn split_at(self, index: usize) -> (Self, Self) {
        assert!(index <= self.range.len(), "VecSplit::split_at out of range");
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so moving its buffer
        // handle out transfers ownership of its range to the two new parts.
        let buf = unsafe { std::ptr::read(&this.buf) };
        let mid = this.range.start + index;
        let front = VecSplit {
            buf: buf.clone(),
            range: this.range.start..mid,
        };
        let back = VecSplit {
            buf,
            range: mid..this.range.end,
        };
        (front, back)
    }
    fn into_items(self) -> VecIter<T> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: as in `split_at`: ownership of the range moves to the iterator.
        let buf = unsafe { std::ptr::read(&this.buf) };
        VecIter {
            buf,
            range: this.range.clone(),
        }
    }
}

impl<T> Drop for VecSplit<T> {
    fn drop(&mut self) {
        drop_range(&self.buf, self.range.clone());
    }
}

/// Drops the items of `range`, which the caller owns (module invariant).
fn drop_range<T>(buf: &RawBuf<T>, range: Range<usize>) {
    // SAFETY: the caller owns every index in `range`, all within the original
    // length, and none of them has been moved out.
    unsafe {
        let start = buf.ptr.add(range.start);
        std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
            start,
            range.end - range.start,
        ));
    }
}

/// The items of a [`VecSplit`], moved out one by one.
pub struct VecIter<T> {
    buf: Arc<RawBuf<T>>,
    range: Range<usize>,
}

impl<T> Iterator for VecIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let i = self.range.next()?;
        // SAFETY: this iterator owns index `i` (module invariant), and the
        // range advanced past it, so it is read exactly once.
        Some(unsafe { std::ptr::read(self.buf.ptr.add(i)) })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.range.len(), Some(self.range.len()))
    }
}

impl<T> Drop for VecIter<T> {
    fn drop(&mut self) {
        drop_range(&self.buf, self.range.clone());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn ranges_split() {
        let (a, b) = (5i64..15).split_at(4);
        assert_eq!(a.into_items().collect::<Vec<_>>(), vec![5, 6, 7, 8]);
        assert_eq!(b.split_len(), 6);
        let (start, end) = (10u8, 3u8);
        assert_eq!((start..end).split_len(), 0);
    }

    #[test]
    fn slices_split() {
        let data = [1, 2, 3];
        let (a, b) = Split::split_at(&data[..], 1);
        assert_eq!(a.into_items().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(b.split_len(), 2);
    }

    #[test]
    fn vec_split_moves_each_item_once_and_drops_the_rest() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct D(#[allow(dead_code)] u32);
        impl Drop for D {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let v: Vec<D> = (0..10).map(D).collect();
        let s = v.into_split();
        let (a, rest) = s.split_at(3);
        let (b, c) = rest.split_at(4);
        let taken: Vec<D> = a.into_items().collect();
        assert_eq!(taken.len(), 3);
        let mut it = b.into_items();
        let one = it.next().unwrap();
        assert_eq!(one.0, 3);
        drop(it); // drops 3 unread items
        assert_eq!(DROPS.load(Ordering::SeqCst), 3);
        drop(c); // drops 3 more
        assert_eq!(DROPS.load(Ordering::SeqCst), 6);
        drop(one);
        drop(taken);
        assert_eq!(DROPS.load(Ordering::SeqCst), 10);
    }
}
