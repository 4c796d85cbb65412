//! A unit of work on its way from a caller to a worker and back: one call,
//! or a batch of calls of one function sent in one message.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use crossbeam_channel::Sender;

use crate::error::{CallContext, Error, Payload};
use crate::pool::retry::Retry;
use crate::wire::codec::{self, Failure};
use crate::wire::detached::Input;

pub(crate) use crate::pool::tasks::{Task, Tasks};

/// A function's encoded return value, borrowed from the message it came in
/// (shared by the calls of a batch) so that it is not copied out of it.
#[derive(Debug)]
pub(crate) struct Reply {
    msg: Arc<Vec<u8>>,
    range: Range<usize>,
    /// The large byte buffers detached from the value.
    pub(crate) detached: Vec<Vec<u8>>,
}

impl Reply {
    pub(crate) fn new(msg: Arc<Vec<u8>>, range: Range<usize>) -> Reply {
        debug_assert!(range.end <= msg.len());
        Reply {
            msg,
            range,
            detached: Vec::new(),
        }
    }

    /// The value's bytes and its detached buffers, ready to decode.
    pub(crate) fn input(&mut self) -> Input<'_> {
        Input::within(
            &self.msg,
            self.range.clone(),
            std::mem::take(&mut self.detached),
        )
    }
}

/// Each call's position and outcome.
pub(crate) type Answers = Vec<(usize, Result<Reply, Error>)>;

/// The answers of consecutive calls that all returned a value without
/// detached buffers: a run response (`codec::run`), each value behind its
/// length. The caller decodes them in place as it reaches them; nothing is
/// made per call on the way (a batch of thousands of tiny calls spent more
/// on per-call answer entries, built by one thread and read by another,
/// than on the calls), and no thread but the caller's walks them.
pub(crate) struct Run {
    pub(crate) msg: Arc<Vec<u8>>,
    /// The position of the first call; the others follow it.
    pub(crate) first: usize,
    /// How many calls it answers.
    pub(crate) len: usize,
    /// Where the next value's length lies in `msg`.
    at: usize,
}

impl Run {
    /// The answers of `len` calls from `first` whose values follow each
    /// other in `msg` from `at`.
    pub(crate) fn new(msg: Arc<Vec<u8>>, first: usize, len: usize, at: usize) -> Run {
        Run {
            msg,
            first,
            len,
            at,
        }
    }

    /// Where the next value lies in `msg`. The slot did not look inside the
    /// message: a value that does not fit in it is the caller's to find.
    #[inline]
    pub(crate) fn next_range(&mut self) -> Result<Range<usize>, Error> {
        codec::next_item(&self.msg, &mut self.at).ok_or(Error::Malformed("response"))
    }

    /// The calls' answers one by one.
    pub(crate) fn into_answers(mut self) -> Answers {
        (0..self.len)
            .map(|offset| {
                let reply = self
                    .next_range()
                    .map(|range| Reply::new(self.msg.clone(), range));
                (self.first + offset, reply)
            })
            .collect()
    }
}

/// A job's answers: a [`Run`] when every call returned a value and nothing
/// else is to be done with them, else one by one.
pub(crate) enum Answered {
    Each(Answers),
    Run(Run),
}

impl Answered {
    /// How many calls are answered.
    pub(crate) fn len(&self) -> usize {
        match self {
            Answered::Each(answers) => answers.len(),
            Answered::Run(run) => run.len,
        }
    }

    /// The answers one by one, made so if they were a run.
    pub(crate) fn each_mut(&mut self) -> &mut Answers {
        if let Answered::Run(run) = self {
            let run = std::mem::replace(run, Run::new(Arc::default(), 0, 0, 0));
            *self = Answered::Each(run.into_answers());
        }
        match self {
            Answered::Each(answers) => answers,
            Answered::Run(_) => unreachable!("made one by one above"),
        }
    }

    /// The positions of the answered calls, in order.
    fn indexes(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Answered::Each(answers) => Box::new(answers.iter().map(|a| a.0)),
            Answered::Run(run) => Box::new(run.first..run.first + run.len),
        }
    }
}

/// What a job yields: each call's position and outcome, and how long the
/// worker took per call (for adaptive batching; `None` if it did not run).
pub(crate) struct Done {
    /// The function the calls called.
    pub(crate) id: &'static str,
    pub(crate) results: Answered,
    pub(crate) per_task: Option<Duration>,
}

/// Where a job's answers go: the channel of the call it belongs to, and the
/// waker of a task awaiting that call (async callers), woken after each
/// answer so that no thread has to wait for it.
#[derive(Clone)]
pub(crate) struct ReplyTo {
    tx: Sender<Done>,
    waker: Arc<AtomicWaker>,
    caller: Arc<crate::pool::caller::Caller>,
}

impl ReplyTo {
    pub(crate) fn new(
        tx: Sender<Done>,
        waker: Arc<AtomicWaker>,
        caller: Arc<crate::pool::caller::Caller>,
    ) -> ReplyTo {
        ReplyTo { tx, waker, caller }
    }

    /// Delivers the answers; fails only if the call is gone.
    pub(crate) fn send(&self, done: Done) -> Result<(), Done> {
        match &done.results {
            Answered::Each(answers) => answers.iter().for_each(|(_, r)| self.caller.answered(r)),
            Answered::Run(run) => self.caller.answered_values(run.len),
        }
        let sent = self.tx.send(done).map_err(|unsent| unsent.into_inner());
        self.waker.wake();
        sent
    }
}

/// Shared by every job of one call: set when the caller stops listening.
pub(crate) type CancelFlag = Arc<AtomicBool>;

pub(crate) struct Job {
    pub(crate) id: &'static str,
    pub(crate) tasks: Tasks,
    /// The deadline of each call, if the procs set one; such jobs hold one
    /// call and are never pipelined.
    pub(crate) timeout: Option<Duration>,
    /// Whether the job is known to be short enough to wait in a worker's
    /// pipe behind another; a long job there would sit idle while another
    /// worker might be free.
    pub(crate) pipelined: bool,
    pub(crate) cancel: CancelFlag,
    reply: Option<ReplyTo>,
    /// How failed calls are run again (`pool/retry.rs`); `None` when they
    /// are not.
    pub(crate) retry: Option<Retry>,
}

impl Job {
    pub(crate) fn new(
        id: &'static str,
        tasks: impl Into<Tasks>,
        timeout: Option<Duration>,
        cancel: CancelFlag,
        reply: ReplyTo,
    ) -> Job {
        Job {
            id,
            tasks: tasks.into(),
            timeout,
            pipelined: false,
            cancel,
            reply: Some(reply),
            retry: None,
        }
    }

    /// Where the job's answers go, for a job that answers some of them.
    pub(super) fn reply_to(&self) -> Option<ReplyTo> {
        self.reply.clone()
    }

    /// Drops the job without answering: another job answers for its calls.
    pub(super) fn forget(mut self) {
        self.reply = None;
    }

    /// Who made the calls, if the job is still unanswered.
    pub(crate) fn caller(&self) -> Option<&crate::pool::caller::Caller> {
        self.reply.as_ref().map(|r| &*r.caller)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Answers every call with the result `results` gives for it.
    pub(crate) fn finish(
        self,
        per_task: Option<Duration>,
        results: impl IntoIterator<Item = Result<Reply, Error>>,
    ) {
        let results = self.tasks.indexes().zip(results).collect();
        self.finish_indexed(per_task, results);
    }

    /// Answers the calls with their results, each with the call's position
    /// (as the job's tasks list them).
    pub(crate) fn finish_indexed(self, per_task: Option<Duration>, results: Answers) {
        self.finish_answered(per_task, Answered::Each(results));
    }

    /// [`finish_indexed`](Self::finish_indexed) for answers that may be a
    /// run.
    pub(crate) fn finish_answered(mut self, per_task: Option<Duration>, results: Answered) {
        debug_assert!(results.indexes().eq(self.tasks.indexes()));
        // The one place every failure passes: retried here, or made final.
        let results = match results {
            Answered::Each(answers) if answers.iter().any(|(_, result)| result.is_err()) => {
                Answered::Each(self.settle(answers))
            }
            results => results,
        };
        if results.len() == 0 {
            // Every call runs again; the retries answer.
            return self.forget();
        }
        if let Some(reply) = self.reply.take() {
            // The caller may have gone; nobody is left to tell.
            let _ = reply.send(Done {
                id: self.id,
                results,
                per_task,
            });
        }
    }

    /// The bytes its request takes on the wire (tag, count, timeout, ID,
    /// calls), detached buffers included, without encoding it.
    pub(crate) fn request_len(&self) -> usize {
        let header = crate::contract::frame::HEADER_LEN;
        header + 1 + 4 + 8 + 4 + self.id.len() + self.tasks.wire_len()
    }

    /// Whether it may run in a burst on an idle worker (`pool::burst`):
    /// one call, without deadline or retries, whose small request detaches
    /// nothing.
    pub(crate) fn bursts(&self) -> bool {
        self.tasks.len() == 1
            && self.timeout.is_none()
            && self.retry.is_none()
            && !self.tasks.detaches()
            && self.request_len() <= crate::pool::burst::BURST_REQUEST_BYTES
    }

    /// Answers every call with an error made by `error`.
    pub(crate) fn fail(self, error: impl Fn() -> Error) {
        let n = self.tasks.len();
        self.finish(None, (0..n).map(|_| Err(error())));
    }

    /// Splits a batch in two: its first `n` calls and the others.
    pub(crate) fn split_at(mut self, n: usize) -> (Job, Job) {
        let reply = self.reply.take().expect("unanswered");
        let rest = self.tasks.each().split_off(n);
        let first = std::mem::take(self.tasks.each());
        let mut make = |tasks: Vec<Task>| {
            // The earlier attempts are a call's: a part without calls (a
            // split at either end) must not take them from it.
            let retry = match self.retry.as_mut() {
                Some(retry) if tasks.is_empty() => Some(retry.without_history()),
                retry => retry.map(Retry::part),
            };
            let mut job = Job::new(
                self.id,
                tasks,
                self.timeout,
                self.cancel.clone(),
                reply.clone(),
            );
            job.pipelined = self.pipelined;
            job.retry = retry;
            job
        };
        (make(first), make(rest))
    }

    /// Splits a batch into one job per call, to find which call killed its
    /// worker.
    pub(crate) fn split(mut self) -> Vec<Job> {
        let reply = self.reply.take().expect("unanswered");
        std::mem::take(self.tasks.each())
            .into_iter()
            .map(|task| {
                let mut job = Job::new(
                    self.id,
                    vec![task],
                    self.timeout,
                    self.cancel.clone(),
                    reply.clone(),
                );
                job.retry = self.retry.as_mut().map(Retry::part);
                job
            })
            .collect()
    }
}

impl Drop for Job {
    // A job dropped unanswered (the pool shut down under it) must still
    // answer, or its caller would wait forever.
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            // A retried call keeps its last failure rather than hiding it.
            if let Some(result) = self.unfinished_retry() {
                let _ = reply.send(Done {
                    id: self.id,
                    results: Answered::Each(vec![(result.0, Err(result.1))]),
                    per_task: None,
                });
                return;
            }
            let results = self
                .tasks
                .indexes()
                .map(|index| (index, Err(Error::PoolClosed)))
                .collect();
            let _ = reply.send(Done {
                id: self.id,
                results: Answered::Each(results),
                per_task: None,
            });
        }
    }
}

/// The public error for a failure a worker reported.
impl Failure {
    pub(crate) fn into_error(self, id: &str) -> Error {
        let id = id.to_owned();
        match self {
            Failure::Panicked(panic) => Error::Panicked {
                id,
                panic: Box::new(panic),
                context: CallContext::default(),
            },
            Failure::UnknownFunction { known } => Error::UnknownFunction { id, known },
            Failure::DuplicateId => Error::DuplicateId {
                // The worker is this binary: it registers what we do.
                definitions: crate::remote::registry::registry().definitions(&id),
                id,
            },
            Failure::DecodeArgs(msg) => Error::Decode {
                id,
                payload: Payload::Arguments,
                source: msg.into(),
            },
            Failure::EncodeResult(msg) => Error::Encode {
                id,
                payload: Payload::Result,
                source: msg.into(),
            },
            Failure::TooLarge { size, limit } => Error::TooLarge { id, size, limit },
        }
    }
}
