//! Calls as futures: what `call_async` returns for one proc or a tuple.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::de::DeserializeOwned;

use crate::api::results::decode_reply;
use crate::error::Error;
use crate::pool::job::Reply;
use crate::pool::stream::RawResults;

/// The answers of a call's procs, in input order, each with its function's
/// ID.
type Answers = Vec<(&'static str, Result<Reply, Error>)>;

/// One proc or a tuple of procs running in worker processes, as a future of
/// what [`call`](crate::call) would return: `Result<R, Error>`, or a tuple of
/// them. Made by [`call_async`](crate::call_async).
///
/// Awaiting it never blocks the executor's thread: the pool's own threads
/// wake the task when an answer arrives. Nothing is sent before the first
/// poll. Dropping it before it completes cancels its calls: queued ones
/// never run and running ones are killed with their workers, which the pool
/// replaces, so a `tokio::time::timeout` around it kills the task when it
/// fires. It is `Send`, so it can be spawned on a multi-threaded runtime.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call_async, proc, CallFuture};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// # async fn run() -> Result<(), procs_core::Error> {
/// let future: CallFuture<Result<u64, procs_core::Error>> = call_async(proc!(square(7)));
/// assert_eq!(future.await?, 49);
/// let (a, b) = call_async((proc!(square(2)), proc!(square(3)))).await;
/// assert_eq!((a?, b?), (4, 9));
/// # Ok(())
/// # }
/// ```
#[must_use = "a CallFuture does nothing unless awaited"]
pub struct CallFuture<T> {
    raw: RawResults<'static>,
    answers: Answers,
    expected: usize,
    finish: fn(Answers) -> T,
}

impl<T> CallFuture<T> {
    pub(crate) fn new(raw: RawResults<'static>, expected: usize, finish: fn(Answers) -> T) -> Self {
        CallFuture {
            raw,
            answers: Vec::with_capacity(expected),
            expected,
            finish,
        }
    }
}

impl<T> Future for CallFuture<T> {
    type Output = T;

    /// # Panics
    ///
    /// When polled again after it completed.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        while this.answers.len() < this.expected {
            match this.raw.poll_next(cx) {
                Poll::Ready(Some(answer)) => this.answers.push(answer),
                Poll::Ready(None) => panic!("a CallFuture was polled after it completed"),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready((this.finish)(std::mem::take(&mut this.answers)))
    }
}

impl<T> fmt::Debug for CallFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallFuture")
            .field("procs", &self.expected)
            .field("answered", &self.answers.len())
            .finish_non_exhaustive()
    }
}

/// The result of a single proc.
pub(crate) fn finish_one<R: DeserializeOwned + 'static>(answers: Answers) -> Result<R, Error> {
    let (id, result) = answers
        .into_iter()
        .next()
        .expect("one proc yields one result");
    result.and_then(|reply| decode_reply(id, reply))
}
