//! Batches: the unit of work that travels between nodes.
//!
//! A batch is a `Vec` of one node's input items plus a [`Tag`] that says where
//! the items came from. Tags are per batch, never per item, except for the
//! optional `origin` array, which exists only on paths that feed an ordered
//! stage through a diamond (fan-out then fan-in) and a filter or flat-map.

/// Where a batch comes from, so ordered stages can restore source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Sequence number of the source batch (per origin node, from 0).
    pub(crate) seq: u64,
    /// Which fan-out path the batch took since its origin: one byte per
    /// fan-out level, most significant first, so paths compare in branch order.
    pub(crate) path: u64,
    /// How many items the origin batch had.
    pub(crate) origin_len: u32,
    /// For each item, the index of the origin item it descends from; `None`
    /// means "item `i` descends from origin item `i`".
    pub(crate) origin: Option<Vec<u32>>,
}

/// Bits of `Tag::path` one fan-out level takes.
pub(crate) const PATH_DIGIT_BITS: u32 = 8;
/// The most fan-out levels a path to an ordered stage can cross.
pub(crate) const MAX_PATH_DEPTH: u32 = u64::BITS / PATH_DIGIT_BITS;
/// The most branches a fan-out on a path to an ordered stage can have.
pub(crate) const MAX_PATH_BRANCHES: usize = (1 << PATH_DIGIT_BITS) - 1;

impl Tag {
    /// The tag of origin batch `seq` holding `len` items.
    pub(crate) fn origin(seq: u64, len: usize) -> Self {
        Tag {
            seq,
            path: 0,
            origin_len: len as u32,
            origin: None,
        }
    }

    /// The path after taking branch `branch` at fan-out level `depth`.
    pub(crate) fn branch_path(path: u64, depth: u32, branch: usize) -> u64 {
        if depth >= MAX_PATH_DEPTH {
            return path;
        }
        let shift = u64::BITS - PATH_DIGIT_BITS * (depth + 1);
        path | (((branch + 1) as u64) << shift)
    }

    /// The origin index of item `i` of this batch.
    pub(crate) fn origin_of(&self, i: usize) -> u32 {
        match &self.origin {
            Some(origin) => origin[i],
            None => i as u32,
        }
    }
}

/// A batch of items for one node.
#[derive(Debug)]
pub(crate) struct Batch<T> {
    pub(crate) items: Vec<T>,
    pub(crate) tag: Tag,
    /// How many units of the run's `capacity` this batch holds: the number of
    /// source items it descends from (a fan-out's copies each count in full,
    /// which over-counts and so keeps the bound).
    pub(crate) weight: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compare_in_branch_order() {
        let a = Tag::branch_path(0, 0, 0);
        let b = Tag::branch_path(0, 0, 1);
        let a0 = Tag::branch_path(a, 1, 0);
        let a1 = Tag::branch_path(a, 1, 1);
        assert!(a0 < a1 && a1 < b);
        assert!(a < a0);
    }

    #[test]
    fn identity_origin() {
        let t = Tag::origin(3, 5);
        assert_eq!(t.origin_of(4), 4);
        let t = Tag {
            origin: Some(vec![0, 0, 2]),
            ..t
        };
        assert_eq!(t.origin_of(1), 0);
    }
}
