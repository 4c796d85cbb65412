//! The ordered stream of results of one `call` or `pmap`.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use serde::de::DeserializeOwned;

use crate::error::{Error, Payload};
use crate::pool::job::Reply;
use crate::pool::stream::RawResults;
use crate::wire::detached::Input;
use crate::wire::value::result_error;

/// An iterator over the results of [`call`](crate::call) or
/// [`pmap`](crate::pmap), in input order.
///
/// Each result is yielded as soon as it and every result before it are
/// ready. The input is consumed lazily with a bounded look-ahead (the pool's
/// window), so an endless input runs in constant memory and results do not
/// pile up ahead of a slow consumer. Dropping the iterator cancels the work
/// still queued and kills the calls still running.
///
/// It is also a [`Stream`] for async code ([`call_async`](crate::call_async)
/// returns it for an iterator of procs): polling never blocks, the pool
/// wakes the task when the next result is ready, and a slow consumer gets
/// the same bounded look-ahead. It is `Send` (when its input iterator is), so
/// it can be held across an `.await` in a spawned task.
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
        self.raw
            .next_with(|id, taken| taken.decode(|input| decode_input(id, input)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl<R: DeserializeOwned + 'static> Stream for Results<'_, R> {
    type Item = Result<R, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.raw.poll_next_with(cx, |id, taken| {
            taken.decode(|input| decode_input(id, input))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl<R> fmt::Debug for Results<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Results")
            .field("yielded", &self.raw.yielded())
            .field("pending", &self.raw.pending())
            .finish_non_exhaustive()
    }
}

pub(crate) fn decode_reply<R: DeserializeOwned + 'static>(
    id: &str,
    mut reply: Reply,
) -> Result<R, Error> {
    decode_input(id, reply.input())
}

/// A call's result of type `R` from its value's bytes.
pub(crate) fn decode_input<R: DeserializeOwned + 'static>(
    id: &str,
    mut input: Input<'_>,
) -> Result<R, Error> {
    let value = input.take().and_then(|value| input.end().map(|()| value));
    value.map_err(|source| Error::Decode {
        id: id.to_owned(),
        payload: Payload::Result,
        source: result_error::<R>(source),
    })
}
