//! Restoring source order: the reorder buffer of ordered stages.
//!
//! Every node between an origin (a source, or a regrouping stage) and an
//! ordered stage forwards exactly one batch per origin batch along each edge,
//! even an empty one, so an ordered stage knows it has all of origin batch
//! `seq` once `paths` batches with that `seq` have arrived (one per distinct
//! path from the origin). Items of those batches are then interleaved by
//! origin index, and for one origin item, by path (branch order).

use crate::data::batch::{Batch, Tag};
use std::collections::BTreeMap;

/// Batches waiting for their turn at an ordered stage.
pub(crate) struct ReorderBuffer<T> {
    next: u64,
    paths: usize,
    waiting: BTreeMap<u64, Vec<Batch<T>>>,
}

impl<T> ReorderBuffer<T> {
    /// A buffer for a stage reached by `paths` distinct paths from its origin.
    pub(crate) fn new(paths: usize) -> Self {
        ReorderBuffer {
            next: 0,
            paths: paths.max(1),
            waiting: BTreeMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, batch: Batch<T>) {
        debug_assert!(batch.tag.seq >= self.next, "batch arrived twice");
        self.waiting.entry(batch.tag.seq).or_default().push(batch);
    }

    /// The next origin batch in order, merged, once all its paths arrived.
    /// Returns the merged batch and how many input batches it consumed.
    pub(crate) fn pop_ready(&mut self, track_origin: bool) -> Option<(Batch<T>, usize)> {
        let complete = self
            .waiting
            .get(&self.next)
            .is_some_and(|parts| parts.len() >= self.paths);
        if !complete {
            return None;
        }
        let mut parts = self.waiting.remove(&self.next)?;
        self.next += 1;
        let consumed = parts.len();
        Some((merge(&mut parts, track_origin), consumed))
    }

    /// Whether no batch is waiting.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// Interleaves the path batches of one origin batch: by origin item, then by
/// path. With one path the batch passes unchanged.
///
/// The merged batch keeps the smallest incoming path (with one path, its
/// path) rather than starting from none: an ordered stage further down may
/// also be reached by paths that bypass this stage, and only paths counted
/// from the same origin compare in branch order. (Restarting from 0 made such
/// a path compare below, or equal to, a bypassing path of a later branch, so
/// the later stage put the branches out of order, or in arrival order.)
fn merge<T>(parts: &mut Vec<Batch<T>>, track_origin: bool) -> Batch<T> {
    if parts.len() == 1 {
        let mut batch = parts.pop().expect("one part");
        if !track_origin {
            batch.tag.origin = None;
        }
        return batch;
    }
    parts.sort_by_key(|b| b.tag.path);
    let total: usize = parts.iter().map(|b| b.items.len()).sum();
    let weight: usize = parts.iter().map(|b| b.weight).sum();
    let origin_len = parts[0].tag.origin_len;
    let seq = parts[0].tag.seq;
    let path = parts[0].tag.path;
    let mut items = Vec::with_capacity(total);
    let mut origins = Vec::with_capacity(if track_origin { total } else { 0 });
    let mut cursors: Vec<(Tag, usize, std::vec::IntoIter<T>)> = parts
        .drain(..)
        .map(|b| (b.tag, 0, b.items.into_iter()))
        .collect();
    for origin in 0..origin_len {
        for (tag, pos, iter) in cursors.iter_mut() {
            while iter.len() > 0 && tag.origin_of(*pos) == origin {
                items.push(iter.next().expect("non-empty"));
                *pos += 1;
                if track_origin {
                    origins.push(origin);
                }
            }
        }
    }
    debug_assert!(cursors.iter().all(|(_, _, it)| it.len() == 0));
    Batch {
        items,
        tag: Tag {
            seq,
            path,
            origin_len,
            origin: track_origin.then_some(origins),
        },
        weight,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn batch(seq: u64, path: u64, origin: Option<Vec<u32>>, items: Vec<i32>) -> Batch<i32> {
        Batch {
            weight: items.len(),
            items,
            tag: Tag {
                seq,
                path,
                origin_len: 3,
                origin,
            },
        }
    }

    #[test]
    fn single_path_in_sequence_order() {
        let mut rb = ReorderBuffer::new(1);
        rb.insert(batch(1, 0, None, vec![4, 5, 6]));
        assert!(rb.pop_ready(false).is_none());
        rb.insert(batch(0, 0, None, vec![1, 2, 3]));
        assert_eq!(rb.pop_ready(false).unwrap().0.items, vec![1, 2, 3]);
        assert_eq!(rb.pop_ready(false).unwrap().0.items, vec![4, 5, 6]);
        assert!(rb.is_empty());
    }

    #[test]
    fn diamond_interleaves_by_origin_then_branch() {
        let left = Tag::branch_path(0, 0, 0);
        let right = Tag::branch_path(0, 0, 1);
        let mut rb = ReorderBuffer::new(2);
        // right branch filtered out origin 1; left branch doubled origin 2.
        rb.insert(batch(0, right, Some(vec![0, 2]), vec![-1, -3]));
        assert!(rb.pop_ready(false).is_none());
        rb.insert(batch(0, left, Some(vec![0, 1, 2, 2]), vec![10, 20, 30, 31]));
        let (merged, consumed) = rb.pop_ready(true).unwrap();
        assert_eq!(consumed, 2);
        assert_eq!(merged.items, vec![10, -1, 20, 30, 31, -3]);
        assert_eq!(merged.tag.origin, Some(vec![0, 0, 1, 2, 2, 2]));
    }
}
