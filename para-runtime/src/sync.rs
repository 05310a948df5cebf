//! The one place that imports threads, atomics, locks, `Arc`, condition
//! variables and channels: every other module takes them from here.
//!
//! Under `cfg(loom)` the primitives the protocols use (atomics, `Arc`,
//! `Mutex`, `Condvar`) come from [loom], so the models in the crate's
//! `#[cfg(loom)]` tests explore all interleavings of the real code;
//! otherwise they are the standard library's. Threads and channels serve
//! the start and end of a run and the device lanes (`exec::scheduler`,
//! `nodes::device`), which the loom models do not cover: loom has no scoped
//! threads and no `select`, so they are the standard library's and
//! crossbeam's in both configurations, but still only reached through here,
//! so that a model of them has one place to switch.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub(crate) use crossbeam_utils::{Backoff, CachePadded};

/// Channels: the device lanes' job queue and the run's shutdown signal.
pub(crate) mod channel {
    pub(crate) use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
}

/// Process-wide state (the cache of worker pools), which outlives every run
/// and is not part of any protocol a loom model checks: the standard
/// library's in both configurations (loom's primitives cannot be statics).
pub(crate) use std::sync::{Mutex as StdMutex, OnceLock};

/// Threads: device lanes are scoped threads of the run; a stream's keeper
/// is a thread of its own, or of the user's scope.
pub(crate) mod thread {
    /// The progress line's ticker thread (`exec::progress`).
    #[cfg(feature = "progress")]
    pub(crate) use std::thread::JoinHandle;
    pub(crate) use std::thread::{scope, Builder, Scope};
}

/// Locks `mutex`, ignoring poisoning.
///
/// A poisoned lock means a user stage panicked while holding it; the run is
/// already being cancelled and the data inside is only dropped afterwards, so
/// the panic is reported through the run, not through the lock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A hint inside a retry loop (a yield point under loom, which must see the
/// other threads make progress).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Runs `f` under loom with a preemption bound (3, unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise), small enough for CI.
#[cfg(all(test, loom))]
pub(crate) fn loom_model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(3);
    builder.check(f);
}
