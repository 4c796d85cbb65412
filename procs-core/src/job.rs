//! A unit of work on its way from a caller to a worker and back.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::error::Error;

/// A function's encoded return value, borrowed from the message it came in
/// so that a large result is not copied out of it.
#[derive(Debug)]
pub(crate) struct Reply {
    msg: Vec<u8>,
    range: Range<usize>,
}

impl Reply {
    pub(crate) fn new(msg: Vec<u8>, range: Range<usize>) -> Reply {
        debug_assert!(range.end <= msg.len());
        Reply { msg, range }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.msg[self.range.clone()]
    }
}

/// What a job yields: its position in the call and its outcome.
pub(crate) type Done = (usize, Result<Reply, Error>);

/// Shared by every job of one call: set when the caller stops listening.
pub(crate) type CancelFlag = Arc<AtomicBool>;

pub(crate) struct Job {
    pub(crate) index: usize,
    pub(crate) id: &'static str,
    pub(crate) args: Vec<u8>,
    /// The task's own deadline, if its proc set one.
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel: CancelFlag,
    reply: Option<Sender<Done>>,
}

impl Job {
    pub(crate) fn new(
        index: usize,
        id: &'static str,
        args: Vec<u8>,
        timeout: Option<Duration>,
        cancel: CancelFlag,
        reply: Sender<Done>,
    ) -> Job {
        Job {
            index,
            id,
            args,
            timeout,
            cancel,
            reply: Some(reply),
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub(crate) fn finish(mut self, result: Result<Reply, Error>) {
        if let Some(reply) = self.reply.take() {
            // The caller may have gone; nobody is left to tell.
            let _ = reply.send((self.index, result));
        }
    }
}

impl Drop for Job {
    // A job dropped unanswered (the pool shut down under it) must still
    // answer, or its caller would wait forever.
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send((self.index, Err(Error::PoolClosed)));
        }
    }
}
