//! Work queues: the sole user of crossbeam-deque.
//!
//! * [`SharedQueue`] is a multi-producer multi-consumer FIFO (crossbeam's
//!   `Injector`). It holds a node's input batches and the run's global tasks.
//! * [`LocalQueue`] / [`Thief`] are a worker's own LIFO deque and the handle
//!   other workers steal from (FIFO end).
//!
//! crossbeam-deque is not instrumented for loom, so under `cfg(loom)` the same
//! API is backed by a locked `VecDeque` built on loom's mutex.

#[cfg(not(loom))]
mod imp {
    use crossbeam_deque::{Injector, Steal, Stealer, Worker};

    /// A multi-producer, multi-consumer FIFO queue.
    pub(crate) struct SharedQueue<T>(Injector<T>);

    impl<T> SharedQueue<T> {
        pub(crate) fn new() -> Self {
            SharedQueue(Injector::new())
        }

        pub(crate) fn push(&self, value: T) {
            self.0.push(value);
        }

        /// Pops the oldest value; retries only while crossbeam says `Retry`.
        pub(crate) fn pop(&self) -> Option<T> {
            retry(|| self.0.steal())
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    /// Runs `steal` until it gives a definite answer: crossbeam's `Retry`
    /// means another thread raced with this one, not that the queue is
    /// empty, so it is retried, and only then.
    fn retry<T>(mut steal: impl FnMut() -> Steal<T>) -> Option<T> {
        loop {
            match steal() {
                Steal::Success(value) => return Some(value),
                Steal::Empty => return None,
                Steal::Retry => std::hint::spin_loop(),
            }
        }
    }

    /// A worker's own deque: the owner pushes and pops at one end (LIFO).
    pub(crate) struct LocalQueue<T>(Worker<T>);

    /// The stealing end of another worker's [`LocalQueue`].
    pub(crate) struct Thief<T>(Stealer<T>);

    impl<T> LocalQueue<T> {
        pub(crate) fn new() -> Self {
            LocalQueue(Worker::new_lifo())
        }

        pub(crate) fn thief(&self) -> Thief<T> {
            Thief(self.0.stealer())
        }

        pub(crate) fn push(&self, value: T) {
            self.0.push(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.pop()
        }
    }

    impl<T> Thief<T> {
        /// Steals the oldest value of the victim's deque.
        pub(crate) fn steal(&self) -> Option<T> {
            retry(|| self.0.steal())
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }
}

#[cfg(loom)]
mod imp {
    use crate::sync::{lock, Arc, Mutex};
    use std::collections::VecDeque;

    pub(crate) struct SharedQueue<T>(Mutex<VecDeque<T>>);

    impl<T> SharedQueue<T> {
        pub(crate) fn new() -> Self {
            SharedQueue(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, value: T) {
            lock(&self.0).push_back(value);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            lock(&self.0).pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }
    }

    pub(crate) struct LocalQueue<T>(Arc<Mutex<VecDeque<T>>>);
    pub(crate) struct Thief<T>(Arc<Mutex<VecDeque<T>>>);

    impl<T> LocalQueue<T> {
        pub(crate) fn new() -> Self {
            LocalQueue(Arc::new(Mutex::new(VecDeque::new())))
        }
        pub(crate) fn thief(&self) -> Thief<T> {
            Thief(self.0.clone())
        }
        pub(crate) fn push(&self, value: T) {
            lock(&self.0).push_back(value);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            lock(&self.0).pop_back()
        }
    }

    impl<T> Thief<T> {
        pub(crate) fn steal(&self) -> Option<T> {
            lock(&self.0).pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }
    }
}

pub(crate) use imp::{LocalQueue, SharedQueue, Thief};

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn shared_queue_is_fifo() {
        let q = SharedQueue::new();
        for i in 0..10 {
            q.push(i);
        }
        let out: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert!(q.is_empty());
    }

    #[test]
    fn local_queue_is_lifo_and_thief_takes_oldest() {
        let q = LocalQueue::new();
        let thief = q.thief();
        for i in 0..4 {
            q.push(i);
        }
        assert_eq!(thief.steal(), Some(0));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(thief.steal(), Some(1));
        assert!(thief.is_empty());
        assert_eq!(q.pop(), None);
    }
}
