//! Results as they complete, for callers that do not need input order.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use serde::de::DeserializeOwned;

use crate::api::results::decode_input;
use crate::error::Error;
use crate::pool::stream::RawResults;

/// An iterator over the results of [`pmap_unordered`](crate::pmap_unordered),
/// in completion order, each with the index of its input.
///
/// A slow call does not hold back the results behind it, so the consumer
/// never waits while any result is ready. Look-ahead, batching and
/// cancellation on drop are as for [`Results`](crate::Results).
///
/// # Examples
///
/// ```no_run
/// use procs_core::pmap_unordered;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// let mut squares = vec![0; 10];
/// for (index, result) in pmap_unordered(square, 0..10) {
///     squares[index] = result?;
/// }
/// assert_eq!(squares[9], 81);
/// # Ok::<(), procs_core::Error>(())
/// ```
pub struct Unordered<'a, R> {
    raw: RawResults<'a>,
    out: PhantomData<fn() -> R>,
}

impl<'a, R> Unordered<'a, R> {
    pub(crate) fn new(raw: RawResults<'a>) -> Self {
        Unordered {
            raw,
            out: PhantomData,
        }
    }
}

impl<R: DeserializeOwned + 'static> Iterator for Unordered<'_, R> {
    type Item = (usize, Result<R, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        self.raw.next_unordered_with(|index, id, taken| {
            (index, taken.decode(|input| decode_input(id, input)))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl<R: DeserializeOwned + 'static> Stream for Unordered<'_, R> {
    type Item = (usize, Result<R, Error>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.raw.poll_next_unordered_with(cx, |index, id, taken| {
            (index, taken.decode(|input| decode_input(id, input)))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

impl<R> fmt::Debug for Unordered<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unordered").finish_non_exhaustive()
    }
}
