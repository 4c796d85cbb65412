//! What an idle slot does while it waits for a job: it keeps its worker
//! ready, and lends it to callers (see `direct`).
//!
//! A job that comes while a caller has the worker goes back to the queue:
//! the caller's call may be long (or wait for that very job), and another
//! slot may be free. The slot then waits for its worker, holding nothing.

use crossbeam_channel::TryRecvError;

use super::Slot;
use crate::contract::erased::Source;
use crate::pool::job::Job;
use crate::util::spin::{self, Next};

impl Slot {
    /// Waits for the next job, or the queue's end.
    ///
    /// A worker that is gone is replaced now rather than at the next job
    /// (unless the last start failed: the next job's start reports why), so
    /// the pool keeps its size between jobs. And a caller that retires a
    /// worker it borrowed says so, and the slot looks every so often (at
    /// most 200 ms apart): callers running a stream on lent workers may
    /// never send this slot a job that would start one.
    pub(super) fn wait_for_job(&mut self) -> Result<Job, TryRecvError> {
        loop {
            match self.queue.try_recv() {
                Err(TryRecvError::Empty) => {}
                next => return next,
            }
            if self.worker.is_none() && self.replaces_ahead() {
                // A failed start is tried again, and reported, by the next
                // job.
                self.worker = self.start().ok();
            }
            let lent = &self.config.lent;
            let Some(worker) = self.worker.take_if(|_| self.config.lends(None)) else {
                return spin::recv(&self.queue).map_err(|_| TryRecvError::Disconnected);
            };
            // A signal from an earlier lending is stale: the slot had its
            // worker back since.
            lent.take_retired(self.index);
            lent.lend(self.index, worker);
            let next = match spin::recv_or_woken(&self.queue, || lent.take_retired(self.index)) {
                Next::Recv(Ok(job)) => match lent.try_reclaim(self.index) {
                    Ok(worker) => {
                        self.worker = worker;
                        Some(Ok(job))
                    }
                    // A caller has the worker, maybe for long: the job goes
                    // back for a slot that is free (or for this one once
                    // the caller is done) rather than wait here behind a
                    // call it knows nothing of. Only a closed pool refuses.
                    Err(()) => {
                        let refused = self.requeue.send(job).err();
                        self.worker = lent.reclaim(self.index);
                        refused.map(Ok)
                    }
                },
                Next::Recv(Err(closed)) => {
                    self.worker = lent.reclaim(self.index);
                    Some(Err(closed))
                }
                Next::Woken => {
                    self.worker = lent.reclaim(self.index);
                    None
                }
            };
            // Callers may have used up its tasks.
            if self.recycle_due() {
                self.discard(false);
            }
            if let Some(next) = next {
                return next.map_err(|_| TryRecvError::Disconnected);
            }
        }
    }

    /// Whether a worker that is gone is started again before a job needs
    /// it: only one the pool spawns (an attached worker comes when it
    /// comes), while the pool runs, and when starting works.
    fn replaces_ahead(&self) -> bool {
        matches!(self.config.source, Source::Spawn(_))
            && !self.start_failed
            && !self.config.watch.is_pool_killed()
    }
}
