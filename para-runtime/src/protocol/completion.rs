//! The completion protocol: when a node's input is over, and when the node
//! is closed.
//!
//! # Completion protocol
//!
//! Every node has a `pending` counter: one token per open upstream edge (a
//! source holds one production token instead), plus one per batch delivered
//! to it and not yet processed, plus one per device job in flight. A batch
//! handed straight to an inline run of its stage, which is done with it
//! before the run returns, is the one exception: it is not counted, as the
//! emitter holds a token of its own node all along, and its node's edge
//! keeps the stage from draining (`Executor::deliver`). When it
//! drops to zero the node's input is over: the thread that saw the zero calls
//! `finish` once (holding a token of its own meanwhile, so whatever `finish`
//! emits is counted), and when it reaches zero again the node is *closed*,
//! which gives back one token of every downstream node. Exactly one thread
//! observes each transition to zero, so each node finishes and closes once.
//! The run is done when every node is closed.
//!
//! [`Pending`] is that counter and the `finished` flag; the executor
//! (`exec::executor`) acts on what [`Pending::complete`] returns:
//!
//! ```text
//!   complete() -> Continue          tokens remain
//!              -> Finish            first zero: `finished` is set and a token
//!                                   is taken for the caller, who runs the
//!                                   node's finish, then calls complete()
//!              -> Close             second zero: close the node
//! ```
//!
//! # Orderings
//!
//! Every write of `pending` is a read-modify-write, so its modification order
//! is one chain and every decrement reads the latest value: exactly one
//! decrement reads 1 for each transition to zero. The RMWs are `AcqRel`: each
//! one continues the release sequence of all earlier ones, so the thread that
//! reads the zero (acquire) sees everything every earlier token holder did
//! before giving its token back (release): the node's state for `finish`,
//! and `finished = true` for the close.

use crate::sync::{AtomicBool, AtomicUsize, Ordering};

/// What [`Pending::complete`] asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// Tokens remain: nothing to do.
    Continue,
    /// The node's input is over. The caller now holds a fresh token of the
    /// node: it must run the node's finish, then give that token back with
    /// [`Pending::complete`] (and act on the result).
    Finish,
    /// The node finished and drained again: the caller closes it (gives back
    /// a token of every downstream node). Returned once per node.
    Close,
}

/// The `pending` counter and `finished` flag of one node.
pub(crate) struct Pending {
    pending: AtomicUsize,
    finished: AtomicBool,
}

impl Pending {
    /// A node with `initial` tokens (its upstream edges, or 1 for a source).
    pub(crate) fn new(initial: usize) -> Self {
        Pending {
            pending: AtomicUsize::new(initial),
            finished: AtomicBool::new(false),
        }
    }

    /// Takes one more token. The caller must already hold one (an upstream
    /// edge delivering a batch, a job cut by the holder of a token), so the
    /// count is not zero here and cannot reach zero before this token is
    /// given back.
    #[inline]
    pub(crate) fn add(&self) {
        // AcqRel: part of the RMW chain that the zero-observer acquires (see
        // the module docs). The caller holds a token, so counting alone
        // would be fine with Relaxed, as in `Arc::clone`.
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes a token if the node is not drained (for a stall flush, which
    /// must not race with the node's close). `false` once the count was zero:
    /// the node is finishing or closed.
    pub(crate) fn try_hold(&self) -> bool {
        // Never from zero: the CAS is atomic, so it succeeds only on a count
        // that still includes someone's token. AcqRel on success, like
        // `complete`: the flush that follows acquires what earlier holders
        // released, and releases its own work to the zero-observer.
        let mut current = self.pending.load(Ordering::Acquire);
        while current > 0 {
            match self.pending.compare_exchange(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// Gives back one token.
    #[inline]
    pub(crate) fn complete(&self) -> Completion {
        // AcqRel: release our work on the node to whoever reads the zero;
        // acquire everyone else's if we read it (see the module docs).
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained()
        } else {
            Completion::Continue
        }
    }

    /// We read the transition to zero.
    #[cold]
    fn drained(&self) -> Completion {
        // Only zero-observers touch `finished`, and they are ordered by the
        // `pending` chain already (the second one acquired the token the
        // first one took below, after setting the flag); AcqRel keeps the
        // flag's own reads and writes ordered with them too.
        if !self.finished.swap(true, Ordering::AcqRel) {
            // Input is over: take a token for the caller, so whatever the
            // node's finish emits is counted before the node can close.
            self.pending.fetch_add(1, Ordering::AcqRel);
            Completion::Finish
        } else {
            Completion::Close
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn finishes_then_closes() {
        let p = Pending::new(2);
        assert_eq!(p.complete(), Completion::Continue);
        assert!(p.try_hold());
        p.add();
        assert_eq!(p.complete(), Completion::Continue);
        assert_eq!(p.complete(), Completion::Continue);
        assert_eq!(p.complete(), Completion::Finish);
        // The finish holds a token: a flush may still join it.
        assert!(p.try_hold());
        assert_eq!(p.complete(), Completion::Continue);
        assert_eq!(p.complete(), Completion::Close);
        assert!(!p.try_hold());
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::Arc;
    use loom::thread;

    use crate::sync::loom_model as model;

    /// What happened to the node: finishes and closes, counted by RMWs (so
    /// the totals are exact), read back with `Relaxed` loads (so a close
    /// only sees the finish if the protocol ordered them).
    struct Log {
        finishes: AtomicUsize,
        closes: AtomicUsize,
    }

    /// Acts on one completion as `Executor::complete` does.
    fn handle(p: &Pending, log: &Log, c: Completion) {
        match c {
            Completion::Continue => {}
            Completion::Finish => {
                assert_eq!(
                    log.closes.load(Ordering::Relaxed),
                    0,
                    "closed before finish"
                );
                log.finishes.fetch_add(1, Ordering::Relaxed);
                // The finish emits a job of its own (a device node's last
                // partial batch), run inline, then gives its token back.
                p.add();
                handle(p, log, p.complete());
                handle(p, log, p.complete());
            }
            Completion::Close => {
                assert_eq!(
                    log.finishes.load(Ordering::Relaxed),
                    1,
                    "closed without seeing the finish"
                );
                log.closes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Two upstream edges close concurrently while a stall flush holds the
    /// node and adds a job: the node finishes exactly once, closes exactly
    /// once, after the finish, and never while someone holds a token.
    #[test]
    fn finish_once_then_close_once() {
        model(|| {
            let p = Arc::new(Pending::new(2));
            let log = Arc::new(Log {
                finishes: AtomicUsize::new(0),
                closes: AtomicUsize::new(0),
            });
            let edge = || {
                let (p, log) = (p.clone(), log.clone());
                thread::spawn(move || handle(&p, &log, p.complete()))
            };
            let a = edge();
            let b = edge();
            let flush = {
                let (p, log) = (p.clone(), log.clone());
                thread::spawn(move || {
                    if p.try_hold() {
                        // A token is held: the node cannot close meanwhile.
                        p.add();
                        handle(&p, &log, p.complete());
                        assert_eq!(log.closes.load(Ordering::Relaxed), 0);
                        handle(&p, &log, p.complete());
                    }
                })
            };
            a.join().unwrap();
            b.join().unwrap();
            flush.join().unwrap();
            assert_eq!(log.finishes.load(Ordering::Relaxed), 1);
            assert_eq!(log.closes.load(Ordering::Relaxed), 1);
            assert!(!p.try_hold(), "a closed node took a token");
        });
    }
}
