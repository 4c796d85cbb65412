//! The slot's side of output forwarding (`pool::output`): catching up with
//! what the worker printed before handing answers back, and the stderr tail
//! in the errors of the calls it ran.

use super::Slot;
use crate::error::Error;
use crate::pool::job::Answered;
use crate::pool::launch::Worker;
use crate::pool::output::{Forwarding, record_tail, record_tail_text};

impl Slot {
    /// The current worker's output forwarding, kept by a caller that is
    /// about to retire the worker and wants its stderr tail afterwards.
    pub(super) fn forwarding(&self) -> Option<Forwarding> {
        self.worker.as_ref()?.output.clone()
    }

    /// Writes out what the worker printed before its latest answer (so it
    /// comes before the answer's results), records its stderr tail in the
    /// answer's failed calls, and starts the tail afresh for the next call
    /// (a pipelined call that already wrote something loses that from its
    /// tail, never from the output).
    ///
    /// Skipped (but for the tail) when nothing was read from the link since
    /// the last catch-up: the answer then came in bytes read before it, and
    /// the worker writes its output before its answer, so that catch-up
    /// wrote this answer's output too. Pipelined one-call answers mostly
    /// arrive several to a read.
    pub(super) fn catch_up_output(&mut self, answered: &mut Answered) {
        if let Some(worker) = self.worker.as_mut() {
            catch_up(worker, answered);
        }
    }

    /// Starts the worker's stderr tail afresh: a call is sent to an idle
    /// worker.
    pub(super) fn mark_output(&self) {
        if let Some(output) = self.worker.as_ref().and_then(|w| w.output.as_ref()) {
            output.mark();
        }
    }
}

/// `error` with the stderr tail of `output` recorded, for an error built
/// after its worker was retired.
pub(super) fn with_tail(mut error: Error, output: Option<&Forwarding>) -> Error {
    record_tail(&mut error, output);
    error
}

/// The slot's [`catch_up_output`](Slot::catch_up_output) for `worker`,
/// which a caller running calls itself (`pool::burst`) uses too.
pub(crate) fn catch_up(worker: &mut Worker, answered: &mut Answered) {
    let Some(output) = worker.output.as_ref() else {
        return;
    };
    let results = match answered {
        Answered::Each(results) => &mut results[..],
        Answered::Run(_) => &mut [],
    };
    let failed = results.iter().any(|(_, result)| result.is_err());
    let reads = worker.channel.reads();
    if !failed && reads.is_some() && reads == worker.caught_up {
        output.mark();
        return;
    }
    let tail = output.catch_up_then_mark(failed);
    worker.caught_up = reads;
    for error in results
        .iter_mut()
        .filter_map(|(_, result)| result.as_mut().err())
    {
        record_tail_text(error, || tail.clone());
    }
}
