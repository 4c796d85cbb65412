//! A worker's report that a call of a batch ran past its deadline (see
//! `worker/watchdog.rs`).

use super::output::with_tail;
use super::{Sent, Slot, Trip};
use crate::error::{CallContext, Error};
use crate::pool::job::Job;
use crate::wire::codec::{self, Message};

impl Slot {
    /// The call `seq` of the oldest request overran its deadline, and the
    /// worker's answers to the calls before it follow: those are delivered,
    /// `seq` fails with `Timeout` and is never run again, the calls after it
    /// never started and are queued again, and so are later requests. The
    /// worker is killed, with its process group.
    pub(super) fn overran(&mut self, msg: &[u8]) {
        let Sent { job, .. } = self.in_flight.pop_front().expect("in flight");
        let timeout = job.timeout.or(self.config.timeout);
        let position = match (codec::decode(msg), timeout) {
            (Ok(Message::Overran { seq }), Some(_)) => {
                job.tasks.indexes().position(|index| index as u64 == seq)
            }
            _ => None,
        };
        let (Some(position), Some(timeout)) = (position, timeout) else {
            // Not a call of this request, or one without a deadline: the
            // worker is not to be trusted.
            job.fail(|| Error::Malformed("overran"));
            self.abandon(true);
            return;
        };
        let (done, rest) = job.split_at(position);
        let (overran, after) = rest.split_at(1);
        self.requeue_in_flight();
        if !after.tasks.is_empty() {
            self.local.push_front(after);
        }
        // The worker sends the (maybe empty) response either way; a worker
        // stopped halfway through its report is killed, which ends the wait.
        self.config
            .watch
            .begin(self.index, Some((super::grace(timeout), timeout)), None);
        self.deliver_finished(done);
        self.config.watch.end(self.index);
        // The timed-out call's error carries what the worker wrote to
        // stderr, complete once the worker is gone.
        let output = self.forwarding();
        self.discard(true);
        let timed_out = Error::Timeout {
            id: overran.id.to_owned(),
            timeout,
            context: CallContext::default(),
        };
        overran.finish(None, [Err(with_tail(timed_out, output.as_ref()))]);
    }

    /// Receives and delivers the answers the worker sent for the calls of
    /// `done`, which finished before the overrun.
    fn deliver_finished(&mut self, done: Job) {
        let worker = self.worker.as_mut().expect("jobs in flight have a worker");
        let msg = match worker.channel.recv() {
            Ok(Some(msg)) => msg,
            // The answers are lost with the link, but the calls ran: they
            // must not run again.
            Ok(None) => return self.lose_finished(done, Trip::Closed),
            Err(error) => return self.lose_finished(done, Trip::Failed(error)),
        };
        match super::receive::parse_response(msg, &done) {
            // No catching up with the output here: that would start the
            // stderr tail afresh, and the tail is the timed-out call's.
            Ok((results, wanted)) => {
                if let Some((done, results)) = self.receive_detached(done, results, wanted) {
                    done.finish_answered(None, results);
                }
            }
            Err(_) => {
                done.fail(|| Error::Malformed("overran"));
                self.discard(true);
            }
        }
    }

    /// The calls of `done` ran but their answers were lost: they fail with
    /// the reason, and are not run again.
    fn lose_finished(&mut self, done: Job, trip: Trip) {
        let error = match trip {
            Trip::Failed(error) => Some(error),
            _ => None,
        };
        let reason = self.broken(done.id, error);
        let others = reason.to_string();
        let rest = std::iter::repeat_with(|| Err(Error::Transport(others.clone().into())));
        done.finish(None, std::iter::once(Err(reason)).chain(rest));
    }
}
