//! Receiving a worker's answers: the response, then the buffers detached
//! from its results, parsed into the job's results in one pass.

use std::sync::Arc;

use super::output::with_tail;
use super::{Sent, Slot, Trip, Wanted, killed_error};
use crate::error::Error;
use crate::pool::job::{Answered, Answers, Job, Reply, Run, Tasks};
use crate::pool::trace::recv_answer;
use crate::wire::Broke;
use crate::wire::codec;

impl Slot {
    /// Waits for the answer to the oldest request in flight.
    pub(super) fn receive(&mut self) {
        let worker = self.worker.as_mut().expect("jobs in flight have a worker");
        let head = &self.in_flight.front().expect("in flight").job;
        let trip = match recv_answer(&mut *worker.channel, head.caller(), head.id) {
            Ok(Some(msg)) => Trip::Answered(msg),
            Ok(None) => Trip::Closed,
            Err(error) => Trip::Failed(error),
        };
        let killed = self.config.watch.end(self.index);
        match (trip, killed) {
            (Trip::Answered(msg), _) if codec::is_dying(&msg) => self.dying(&msg),
            (Trip::Answered(msg), _) if codec::is_overran(&msg) => self.overran(&msg),
            (Trip::Answered(msg), killed) => {
                let Sent { job, .. } = self.in_flight.pop_front().expect("in flight");
                let elapsed = self.head_since.elapsed();
                match parse_response(msg, &job) {
                    Ok((mut results, wanted)) => {
                        self.catch_up_output(&mut results);
                        let Some((job, results)) = self.receive_detached(job, results, wanted)
                        else {
                            return;
                        };
                        let per_task = elapsed / job.tasks.len().max(1) as u32;
                        if let Some(worker) = &mut self.worker {
                            worker.tasks += job.tasks.len();
                            self.config.limits.measure(worker);
                        }
                        job.finish_answered(Some(per_task), results);
                        if killed.is_some() {
                            // Killed just after it answered: the answer
                            // stands, the worker does not.
                            self.abandon(false);
                        } else {
                            self.watch_front();
                        }
                    }
                    Err(garbage) => {
                        // The worker is not trusted after a bad answer.
                        let what = match garbage {
                            Error::Malformed(what) => what,
                            _ => "response",
                        };
                        job.fail(|| Error::Malformed(what));
                        self.abandon(true);
                    }
                }
            }
            (_, Some(reason)) => {
                let Sent { job, .. } = self.in_flight.pop_front().expect("in flight");
                let id = job.id;
                // Killed first, so that its stderr tail is complete.
                let output = self.forwarding();
                self.abandon(true);
                job.fail(|| with_tail(killed_error(reason, id), output.as_ref()));
            }
            (trip, None) => self.lost(trip),
        }
    }

    /// Receives the buffers detached from a job's results, which follow its
    /// response; `None` if the link broke meanwhile (the job has then been
    /// answered with the reason, and the worker discarded).
    pub(super) fn receive_detached(
        &mut self,
        mut job: Job,
        mut answered: Answered,
        wanted: Wanted,
    ) -> Option<(Job, Answered)> {
        if wanted.is_empty() {
            return Some((job, answered));
        }
        let results = answered.each_mut();
        // A single call that answered is never run again: its own large
        // arguments can take its large results. (Unless it may be retried:
        // if the link breaks before the results arrive, it runs again.)
        if let ([task], None) = (job.tasks.each().as_mut_slice(), &job.retry) {
            for buf in std::mem::take(&mut task.args.detached) {
                self.spare.give(buf);
            }
        }
        let worker = self.worker.as_mut().expect("jobs in flight have a worker");
        for (index, lens) in wanted {
            for len in lens {
                let error = match self.spare.receive(len, |b| worker.channel.recv_into(b)) {
                    Ok(buf) => {
                        if let (_, Ok(reply)) = &mut results[index] {
                            reply.detached.push(buf);
                        }
                        continue;
                    }
                    Err(Broke::Garbage) => {
                        job.fail(|| Error::Malformed("response"));
                        self.abandon(true);
                        return None;
                    }
                    Err(Broke::Link(error)) => error,
                };
                // The calls ran, but their results are lost with the link.
                let reason = self.broken(job.id, error);
                self.requeue_in_flight();
                let others = reason.to_string();
                let rest = std::iter::repeat_with(|| Err(Error::Transport(others.clone().into())));
                job.finish(None, std::iter::once(Err(reason)).chain(rest));
                return None;
            }
        }
        Some((job, answered))
    }
}

/// The outcomes of a job's calls, in order, with the lengths of the buffers
/// detached from each (by position; only those with some), or an error if the
/// message is not a valid answer to it (the worker is then not trusted).
///
/// A run response, as a worker sends when every call returned a plain
/// value, is taken whole: a batch of thousands of calls costs no work per
/// call here (see `codec::run`).
pub(crate) fn parse_response(msg: Vec<u8>, job: &Job) -> Result<(Answered, Wanted), Error> {
    let first = job.tasks.indexes().next().unwrap_or(0);
    let len = job.tasks.len();
    if let Some((seq, count, at)) = codec::run_response(&msg) {
        // A worker makes a run of calls numbered one after the other.
        let follow =
            matches!(job.tasks, Tasks::Packed(_)) || job.tasks.indexes().eq(first..first + len);
        if seq != first as u64 || count != len || !follow {
            return Err(Error::Malformed("response"));
        }
        return Ok((
            Answered::Run(Run::new(Arc::new(msg), first, len, at)),
            Vec::new(),
        ));
    }
    let msg = Arc::new(msg);
    let base = msg.as_ptr() as usize;
    let mut each: Answers = Vec::with_capacity(len);
    let mut wanted = Vec::new();
    let mut tasks = job.tasks.indexes();
    codec::decode_response(&msg, |outcome| {
        let index = tasks.next().ok_or(Error::Malformed("response"))?;
        if outcome.seq != index as u64 {
            return Err(Error::Malformed("response"));
        }
        let result = match outcome.result {
            Ok((bytes, lens)) => {
                if lens.len() > 0 {
                    wanted.push((each.len(), lens.iter().collect()));
                }
                let start = bytes.as_ptr() as usize - base;
                Ok(Reply::new(msg.clone(), start..start + bytes.len()))
            }
            Err(failure) => Err(failure.into_error(job.id)),
        };
        each.push((index, result));
        Ok(())
    })?;
    if tasks.next().is_some() {
        return Err(Error::Malformed("response"));
    }
    Ok((Answered::Each(each), wanted))
}
