//! The hand-off of a stream's items to its consumer: [`Outflow`].
//!
//! # Protocol
//!
//! Workers push *chunks* (the items of one batch that reached `yield`,
//! with the capacity units they hold); the keeper of the run pushes the
//! *end* once, after the run is over (its report, or a panic's payload);
//! one consumer takes chunks in push order, then the end. Everything is
//! under one mutex, and the consumer waits on a condition variable only
//! after it saw, under that mutex, neither a chunk nor the end; every push
//! and the end notify under the same mutex when the consumer waits. So a
//! push is never missed, and a consumer never waits after the end.
//!
//! The units of a chunk stay in the run's `alive` count until the consumer
//! has taken the chunk's items (`Stream` gives them back), which is how
//! items waiting in a stream count against `capacity`: a consumer that
//! stops pulling leaves the graph full, and the sources park.
//!
//! Chunks pushed after the consumer is gone (a stream dropped while
//! workers finish their batches) stay here and are dropped with the
//! outflow, once: the consumer's drop waits for the end, and the workers
//! push nothing after it.

use crate::sync::{lock, Condvar, Mutex};
use std::collections::VecDeque;

/// A chunk of items and the capacity units they hold.
pub(crate) type Chunk<T> = (Vec<T>, usize);

struct State<T, End> {
    chunks: VecDeque<Chunk<T>>,
    /// The end, once the keeper pushed it and until the consumer took it.
    end: Option<End>,
    /// The keeper pushed the end (it may have been taken since).
    over: bool,
    /// The consumer waits on `ready`.
    waiting: bool,
    /// Emptied chunk buffers the consumer gave back, for the workers'
    /// next chunks (so a stream allocates no buffer per batch).
    spares: Vec<Vec<T>>,
}

/// How many emptied buffers an outflow keeps.
const MAX_SPARES: usize = 8;

/// What [`Outflow::take`] found.
pub(crate) enum Taken<T, End> {
    /// The next chunk.
    Chunk(Chunk<T>),
    /// Every chunk was taken and the run is over.
    End(End),
    /// Nothing yet (only when not waiting, or after a timed wait).
    Nothing,
}

/// How long [`Outflow::take`] may wait for a chunk or the end.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Not at all.
    No,
    /// Until something comes.
    Forever,
    /// At most this long (a consumer that helps its pool between waits;
    /// under loom, which has no clock, not at all).
    For(std::time::Duration),
}

/// The chunks on their way from a run's `yield` to its consumer.
pub(crate) struct Outflow<T, End> {
    state: Mutex<State<T, End>>,
    ready: Condvar,
}

impl<T, End> Outflow<T, End> {
    pub(crate) fn new() -> Self {
        Outflow {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                end: None,
                over: false,
                waiting: false,
                spares: Vec::new(),
            }),
            ready: Condvar::new(),
        }
    }

    /// A worker hands over the items of one batch, holding `units` of the
    /// run's capacity.
    pub(crate) fn push(&self, items: Vec<T>, units: usize) {
        let mut state = lock(&self.state);
        debug_assert!(!state.over, "para internal error: a chunk after the end");
        state.chunks.push_back((items, units));
        if state.waiting {
            self.ready.notify_one();
        }
    }

    /// An empty buffer for a worker's next chunk: one the consumer gave
    /// back, or a new one.
    pub(crate) fn spare(&self) -> Vec<T> {
        lock(&self.state).spares.pop().unwrap_or_default()
    }

    /// The keeper: the run is over. Called once, after the last push.
    pub(crate) fn end(&self, end: End) {
        let mut state = lock(&self.state);
        state.end = Some(end);
        state.over = true;
        if state.waiting {
            self.ready.notify_one();
        }
    }

    /// Whether the end was pushed.
    pub(crate) fn is_over(&self) -> bool {
        lock(&self.state).over
    }

    /// The consumer takes the next chunk, or the end once every chunk is
    /// taken, waiting as `wait` allows.
    /// `emptied` is the buffer of the chunk the consumer finished, kept
    /// for a worker's next chunk.
    pub(crate) fn take(&self, wait: Wait, emptied: Option<Vec<T>>) -> Taken<T, End> {
        let mut state = lock(&self.state);
        if let Some(buffer) = emptied {
            debug_assert!(buffer.is_empty());
            if state.spares.len() < MAX_SPARES && buffer.capacity() > 0 {
                state.spares.push(buffer);
            }
        }
        loop {
            if let Some(chunk) = state.chunks.pop_front() {
                return Taken::Chunk(chunk);
            }
            if let Some(end) = state.end.take() {
                return Taken::End(end);
            }
            if state.over {
                // The end was taken already: nothing more will come.
                return Taken::Nothing;
            }
            state.waiting = true;
            match wait {
                Wait::No => {
                    state.waiting = false;
                    return Taken::Nothing;
                }
                Wait::Forever => {
                    state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                    state.waiting = false;
                }
                Wait::For(timeout) => {
                    #[cfg(not(loom))]
                    {
                        state = match self.ready.wait_timeout(state, timeout) {
                            Ok((state, _)) => state,
                            Err(e) => e.into_inner().0,
                        };
                    }
                    #[cfg(loom)]
                    let _ = timeout;
                    state.waiting = false;
                    if state.chunks.is_empty() && state.end.is_none() {
                        return Taken::Nothing;
                    }
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn chunks_in_order_then_the_end_once() {
        let flow: Outflow<u32, &str> = Outflow::new();
        flow.push(vec![1, 2], 2);
        flow.push(vec![3], 1);
        flow.end("report");
        assert!(matches!(flow.take(Wait::No, None), Taken::Chunk((v, 2)) if v == [1, 2]));
        assert!(matches!(flow.take(Wait::Forever, None), Taken::Chunk((v, 1)) if v == [3]));
        assert!(matches!(
            flow.take(Wait::Forever, None),
            Taken::End("report")
        ));
        // After the end was taken, even a blocking take returns at once.
        assert!(matches!(flow.take(Wait::Forever, None), Taken::Nothing));
        assert!(flow.is_over());
    }

    #[test]
    fn a_timed_wait_returns_nothing_when_nothing_comes() {
        let flow: Outflow<u32, ()> = Outflow::new();
        let wait = Wait::For(std::time::Duration::from_millis(1));
        assert!(matches!(flow.take(wait, None), Taken::Nothing));
        assert!(!flow.is_over());
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{loom_model as model, Arc};
    use loom::thread;

    /// Two workers push while the keeper ends the run after them and the
    /// consumer blocks: the consumer gets both chunks, then the end, and
    /// never waits for good (a lost wake-up would make loom report a
    /// deadlock).
    #[test]
    fn consumer_gets_every_chunk_then_the_end() {
        model(|| {
            let flow: Arc<Outflow<u32, u32>> = Arc::new(Outflow::new());
            let workers: Vec<_> = (0..2)
                .map(|i| {
                    let flow = flow.clone();
                    thread::spawn(move || flow.push(vec![i], 1))
                })
                .collect();
            let keeper = {
                let flow = flow.clone();
                thread::spawn(move || {
                    for w in workers {
                        w.join().unwrap();
                    }
                    flow.end(7);
                })
            };
            let mut seen = Vec::new();
            let end = loop {
                match flow.take(Wait::Forever, None) {
                    Taken::Chunk((items, units)) => {
                        assert_eq!(units, 1);
                        seen.extend(items);
                    }
                    Taken::End(end) => break end,
                    Taken::Nothing => unreachable!("a blocking take before the end"),
                }
            };
            keeper.join().unwrap();
            seen.sort_unstable();
            assert_eq!((seen, end), (vec![0, 1], 7));
        });
    }

    /// A consumer that polls without waiting and one push: the chunk is
    /// seen by the poll or by the next one, never lost.
    #[test]
    fn a_poll_never_loses_a_push() {
        model(|| {
            let flow: Arc<Outflow<u32, ()>> = Arc::new(Outflow::new());
            let worker = {
                let flow = flow.clone();
                thread::spawn(move || flow.push(vec![1], 1))
            };
            let early = matches!(flow.take(Wait::No, None), Taken::Chunk(_));
            worker.join().unwrap();
            let late = matches!(flow.take(Wait::No, None), Taken::Chunk(_));
            assert!(early ^ late);
        });
    }
}
