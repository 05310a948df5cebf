//! Splittable sources (`#[split]`): inputs that several workers can produce
//! from at once, because any prefix can be cut off in O(1).
//!
//! # Integer ranges
//!
//! A range of any integer type up to 64 bits is split and measured without
//! overflow: its length is `start.abs_diff(end)` (an unsigned number that
//! holds the distance between any two values of the type, so `-100i8..100`
//! has 200 items and `i64::MIN..i64::MAX` has `u64::MAX`), and the split
//! point is `start.wrapping_add(index as T)`, which is exact because the
//! true split point lies between `start` and `end`. A range longer than
//! `usize::MAX` items (possible for 64-bit types on a 32-bit target) cannot
//! report its length and panics when asked.
//!
//! # Invariant of `VecSplit`: ownership by index
//!
//! A `Vec<T>` is turned into one shared buffer (`RawBuf`) and index ranges
//! over it. Every index of the original vector belongs to exactly one live
//! `VecSplit` or `VecIter`, which alone reads (moves out) or drops that item;
//! splitting hands disjoint ranges to the two halves and leaves the split
//! part an empty range. The buffer itself only frees the allocation, never
//! the items. Every `unsafe` block below relies on this invariant.

use crate::sync::Arc;
use std::marker::PhantomData;
use std::ops::Range;

/// A source that can be cut into independent parts, each produced by a
/// different worker. Implemented for integer ranges (items are the integers),
/// slices (items are `&T`) and, through [`IntoSplit`], for `Vec<T>` (items are
/// the `T`s, moved out).
///
/// ```
/// use para::Split;
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

/// The length of an integer range as a `usize`.
///
/// # Panics
///
/// If the range has more than `usize::MAX` items.
fn range_len<L: TryInto<usize> + Copy + std::fmt::Display>(len: L) -> usize {
    match len.try_into() {
        Ok(len) => len,
        Err(_) => panic!(
            "para: a #[split] range of {len} items is longer than usize::MAX ({}); \
             split it into shorter ranges",
            usize::MAX
        ),
    }
}

macro_rules! split_range {
    ($($t:ty),*) => {$(
        impl Split for Range<$t> {
            type Item = $t;
            type Iter = Range<$t>;
            fn split_len(&self) -> usize {
                // `abs_diff` is the distance in the unsigned type of the same
                // width, which never overflows (see the module doc).
                if self.start < self.end { range_len(self.start.abs_diff(self.end)) } else { 0 }
            }
            fn split_at(self, index: usize) -> (Self, Self) {
                let len = self.split_len();
                assert!(index <= len, "para: split_at({index}) on a range of {len} items");
                // `index <= len` fits in the unsigned type of `$t`, so the
                // cast keeps it modulo 2^bits and the wrapping add lands on
                // the true split point, which lies within `start..=end`.
                let mid = self.start.wrapping_add(index as $t);
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
// by the one `VecSplit`/`VecIter` that owns its index (ownership by index), so
// sending or sharing the buffer is sound whenever the items may be sent.
unsafe impl<T: Send> Send for RawBuf<T> {}
// SAFETY: as above: no two threads ever touch the same item through it.
unsafe impl<T: Send> Sync for RawBuf<T> {}

impl<T> Drop for RawBuf<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `cap` come from a `Vec<T>` that was never freed;
        // every item was moved out or dropped by its owner (ownership by
        // index) before the last part let go of the buffer, so a length of
        // 0 frees only the allocation.
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
    fn split_at(mut self, index: usize) -> (Self, Self) {
        assert!(index <= self.range.len(), "VecSplit::split_at out of range");
        // Taking the range leaves `self` owning no index, so its `Drop`
        // drops no item when it runs at the end of this function.
        let range = std::mem::take(&mut self.range);
        let mid = range.start + index;
        let front = VecSplit {
            buf: Arc::clone(&self.buf),
            range: range.start..mid,
        };
        let back = VecSplit {
            buf: Arc::clone(&self.buf),
            range: mid..range.end,
        };
        (front, back)
    }
    fn into_items(mut self) -> VecIter<T> {
        // As in `split_at`: the range moves to the iterator, `self` drops
        // owning nothing.
        VecIter {
            buf: Arc::clone(&self.buf),
            range: std::mem::take(&mut self.range),
        }
    }
}

impl<T> Drop for VecSplit<T> {
    fn drop(&mut self) {
        // SAFETY: this part owns `self.range` (ownership by index) and moves
        // nothing out of it; it is dropped once, here.
        unsafe { drop_range(&self.buf, self.range.clone()) };
    }
}

/// Drops the items of `range` in place.
///
/// # Safety
///
/// The caller must own every index in `range` (ownership by index, see the
/// module doc): each is below the original vector's length, none of its
/// items has been moved out or dropped, and none will be read or dropped
/// again afterwards.
unsafe fn drop_range<T>(buf: &RawBuf<T>, range: Range<usize>) {
    // SAFETY: by the function's contract the items of `range` are live,
    // initialised and owned by the caller, so dropping them in place once is
    // sound; `ptr.add(range.start)` stays inside the allocation.
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
        // SAFETY: this iterator owns index `i` (ownership by index), and the
        // range advanced past it, so it is read exactly once.
        Some(unsafe { std::ptr::read(self.buf.ptr.add(i)) })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.range.len(), Some(self.range.len()))
    }
}

impl<T> Drop for VecIter<T> {
    fn drop(&mut self) {
        // SAFETY: the iterator owns the indices still in `self.range`
        // (ownership by index): `next` advanced past every item it moved
        // out, so the rest are live; it is dropped once, here.
        unsafe { drop_range(&self.buf, self.range.clone()) };
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

    /// Cuts `range` at the given offsets, each relative to the rest after the
    /// previous cut, and returns the parts' items concatenated, checking
    /// every part's length against what it yields.
    fn split_and_collect<S: Split>(range: S, cuts: &[usize]) -> Vec<S::Item> {
        let mut items = Vec::new();
        let mut rest = range;
        for &cut in cuts {
            let len = rest.split_len();
            let (part, back) = rest.split_at(cut);
            assert_eq!((part.split_len(), back.split_len()), (cut, len - cut));
            items.extend(part.into_items());
            rest = back;
        }
        items.extend(rest.into_items());
        items
    }

    #[test]
    fn signed_ranges_across_zero_split_without_overflow() {
        let range = -100i8..100;
        assert_eq!(range.split_len(), 200);
        let items = split_and_collect(range.clone(), &[150, 7, 0, 43]);
        assert_eq!(items, range.collect::<Vec<_>>());
    }

    #[test]
    fn full_ranges_of_every_type_have_exact_lengths() {
        macro_rules! full {
            ($($t:ty),*) => {$(
                let range = <$t>::MIN..<$t>::MAX;
                let expected = (<$t>::MAX as i128 - <$t>::MIN as i128) as u128;
                assert_eq!(range.split_len() as u128, expected, "{}", stringify!($t));
                // The middle of the range, and the last item before `MAX`.
                let half = range.split_len() / 2;
                let (front, back) = range.clone().split_at(half);
                assert_eq!(front.start, <$t>::MIN);
                assert_eq!(front.end, back.start);
                assert_eq!((back.start as i128 - <$t>::MIN as i128) as usize, half);
                let back_len = back.split_len();
                let (_, last) = back.split_at(back_len - 1);
                assert_eq!(last.into_items().collect::<Vec<_>>(), vec![<$t>::MAX - 1]);
            )*};
        }
        full!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
    }

    #[test]
    fn small_full_ranges_yield_every_item_once() {
        let i8s = split_and_collect(i8::MIN..i8::MAX, &[1, 127, 0, 100]);
        assert_eq!(i8s, (i8::MIN..i8::MAX).collect::<Vec<_>>());
        let u8s = split_and_collect(u8::MIN..u8::MAX, &[200, 54, 1]);
        assert_eq!(u8s, (u8::MIN..u8::MAX).collect::<Vec<_>>());
        let i16s = split_and_collect(i16::MIN..i16::MAX, &[40_000, 20_000, 5_535]);
        assert_eq!(i16s, (i16::MIN..i16::MAX).collect::<Vec<_>>());
    }

    #[test]
    fn i64_extremes_split_several_times() {
        let mut rest = i64::MIN..i64::MAX;
        let mut start = i64::MIN;
        for _ in 0..5 {
            let len = rest.split_len();
            let (front, back) = rest.split_at(len / 3);
            assert_eq!(front.start, start);
            assert_eq!(front.split_len() + back.split_len(), len);
            start = back.start;
            rest = back;
        }
        assert_eq!(rest.end, i64::MAX);
        // The parts stay contiguous up to the end of the type.
        let rest_len = rest.split_len();
        let (_, tail) = rest.split_at(rest_len - 2);
        assert_eq!(
            tail.into_items().collect::<Vec<_>>(),
            [i64::MAX - 2, i64::MAX - 1]
        );
    }

    #[test]
    fn u64_top_of_range() {
        let range = u64::MAX - 10..u64::MAX;
        assert_eq!(range.split_len(), 10);
        let items = split_and_collect(range.clone(), &[3, 0, 6]);
        assert_eq!(items, range.collect::<Vec<_>>());
    }

    #[test]
    #[should_panic(expected = "split_at(11) on a range of 10 items")]
    fn splitting_a_range_past_its_end_panics() {
        let _ = (0u8..10).split_at(11);
    }

    #[test]
    #[should_panic(expected = "longer than usize::MAX")]
    fn a_range_longer_than_usize_max_is_a_clear_panic() {
        // No supported range is that long on a 64-bit target (u64 ranges
        // are on a 32-bit one), so the check is driven with a wider length.
        range_len(u128::from(u64::MAX) + 1 + usize::MAX as u128);
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
