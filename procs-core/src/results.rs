//! The ordered stream of results of one `call` or `pmap`.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};
use serde::de::DeserializeOwned;

use crate::error::{Error, Payload};
use crate::job::{CancelFlag, Done, Job, Reply};
use crate::pool::Pool;
use crate::proc::Spec;

/// An iterator over the results of [`call`](crate::call) or
/// [`pmap`](crate::pmap), in input order.
///
/// Each result is yielded as soon as it and every result before it are
/// ready. The input is consumed lazily with a bounded look-ahead (the pool's
/// window), so an endless input runs in constant memory and results do not
/// pile up ahead of a slow consumer. Dropping the iterator cancels the work
/// still queued.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{pmap, Results};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// let results: Results<'_, u64> = pmap(square, 0..10);
/// let squares: Vec<u64> = results.collect::<Result<_, _>>()?;
/// assert_eq!(squares[9], 81);
/// # Ok::<(), procs_core::Error>(())
/// ```
pub struct Results<'a, R> {
    raw: RawResults<'a>,
    out: PhantomData<fn() -> R>,
}

impl<'a, R> Results<'a, R> {
    pub(crate) fn new(raw: RawResults<'a>) -> Self {
        Results {
            raw,
            out: PhantomData,
        }
    }
}

impl<R: DeserializeOwned + 'static> Iterator for Results<'_, R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let (id, result) = self.raw.next()?;
        Some(result.and_then(|reply| decode_reply(id, &reply)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl<R> fmt::Debug for Results<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Results")
            .field("yielded", &self.raw.next)
            .field("pending", &self.raw.ready.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn decode_reply<R: DeserializeOwned + 'static>(
    id: &str,
    reply: &Reply,
) -> Result<R, Error> {
    crate::codec::decode_value(reply.bytes()).map_err(|source| Error::Decode {
        id: id.to_owned(),
        payload: Payload::Result,
        source,
    })
}

/// A slot of the reorder window: one call, answered or not.
struct Pending {
    id: &'static str,
    result: Option<Result<Reply, Error>>,
}

/// The untyped engine behind [`Results`] and the tuple form of `call`.
pub(crate) struct RawResults<'a> {
    input: Box<dyn Iterator<Item = Result<Spec, Error>> + 'a>,
    input_done: bool,
    pool: Pool,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    cancel: CancelFlag,
    /// The index of the front of `ready`: the next result to yield.
    next: usize,
    /// Calls taken from the input and not yet yielded, in input order.
    ready: VecDeque<Pending>,
    window: usize,
}

impl<'a> RawResults<'a> {
    pub(crate) fn new(pool: &Pool, input: impl Iterator<Item = Result<Spec, Error>> + 'a) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        RawResults {
            input: Box::new(input),
            input_done: false,
            pool: pool.clone(),
            tx,
            rx,
            cancel: Arc::new(AtomicBool::new(false)),
            next: 0,
            ready: VecDeque::new(),
            window: pool.window(),
        }
    }

    /// Takes calls from the input until the window is full.
    fn fill(&mut self) {
        while !self.input_done && self.ready.len() < self.window {
            let index = self.next + self.ready.len();
            match self.input.next() {
                None => self.input_done = true,
                Some(Err(error)) => self.ready.push_back(Pending {
                    id: "",
                    result: Some(Err(error)),
                }),
                Some(Ok(Spec { id, args, timeout })) => {
                    self.ready.push_back(Pending { id, result: None });
                    let job = Job::new(
                        index,
                        id,
                        args,
                        timeout,
                        self.cancel.clone(),
                        self.tx.clone(),
                    );
                    self.pool.submit(job);
                }
            }
        }
    }

    pub(crate) fn next(&mut self) -> Option<(&'static str, Result<Reply, Error>)> {
        self.fill();
        while self.ready.front()?.result.is_none() {
            // We hold a sender, and every job answers exactly once (even
            // when dropped), so this cannot wait forever on a lost job.
            let (index, result) = self.rx.recv().expect("the receiver outlives no sender");
            if let Some(pending) = index
                .checked_sub(self.next)
                .and_then(|i| self.ready.get_mut(i))
            {
                pending.result = Some(result);
            }
        }
        let pending = self.ready.pop_front()?;
        self.next += 1;
        Some((pending.id, pending.result.expect("checked above")))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = if self.input_done {
            (0, Some(0))
        } else {
            self.input.size_hint()
        };
        let pending = self.ready.len();
        (
            lo.saturating_add(pending),
            hi.and_then(|hi| hi.checked_add(pending)),
        )
    }
}

impl Drop for RawResults<'_> {
    fn drop(&mut self) {
        // Workers skip the jobs of a call nobody listens to any more.
        self.cancel.store(true, Ordering::Relaxed);
        if self.ready.iter().any(|pending| pending.result.is_none()) {
            self.pool.cancelled();
        }
    }
}
