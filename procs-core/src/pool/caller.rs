//! What the pool keeps of the place a call was made: the pool's counters,
//! which its answers bump, and (feature `tracing`) the caller's subscriber
//! and span, under which the worker's events are re-emitted. One per
//! `call`/`pmap`, shared by all its jobs.

use std::sync::Arc;

use crate::error::Error;
use crate::pool::job::Reply;
use crate::pool::stats::Counters;

pub(crate) struct Caller {
    counters: Arc<Counters>,
    #[cfg(feature = "tracing")]
    pub(crate) trace: crate::pool::trace::CallerSpan,
}

impl Caller {
    /// The caller on this thread, now: call it where the call is made.
    pub(crate) fn here(counters: &Arc<Counters>) -> Caller {
        Caller {
            counters: counters.clone(),
            #[cfg(feature = "tracing")]
            trace: crate::pool::trace::CallerSpan::current(),
        }
    }

    /// Counts a call's final answer.
    pub(crate) fn answered(&self, result: &Result<Reply, Error>) {
        self.counters.answered(result);
    }

    /// Counts `n` calls answered with a value.
    pub(crate) fn answered_values(&self, n: usize) {
        self.counters.answered_values(n);
    }
}
