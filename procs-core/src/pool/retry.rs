//! Retrying a call whose worker died or that timed out, and giving up on
//! one that keeps bringing workers down (a poison task).
//!
//! Every failure of a call, whatever the path (a dead or lost worker, a
//! deadline, a panic under `panic = "abort"`), is answered through
//! [`Job::finish_indexed`], so that is where this decides: a failure that
//! may be retried, with attempts left, becomes a new one-call job that goes
//! back to the pool's queue with the failures so far; any other failure is
//! delivered, with its earlier attempts and what replaying it takes recorded
//! in its [`CallContext`](crate::CallContext).
//!
//! A retried job waits a short backoff before it runs again, without
//! holding up a slot: the slot that takes it from the queue keeps it aside
//! ([`Delayed`]) and runs other jobs meanwhile. The dead worker is replaced
//! anyway, so the retry runs on a fresh one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::error::Error;
use crate::pool::job::{Answers, Job, Task};
use crate::util::sync::lock;

/// How many times the calls of a job may run again, and on which failures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    /// Runs after the first, at most.
    pub(crate) retries: u32,
    /// Whether a panic is retried too (it is usually deterministic).
    pub(crate) panics: bool,
}

/// The first backoff before a retry; doubled per attempt up to
/// [`LONGEST_BACKOFF`]. Short: a worker death is rarely about time, and the
/// replacement worker takes a few milliseconds to start anyway.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const LONGEST_BACKOFF: Duration = Duration::from_millis(200);

/// The pool's queue as jobs see it: retried jobs go back through it, and it
/// refuses them once the pool is shut down (the queue's sender is the only
/// one, so the slots still see the queue close).
#[derive(Clone)]
pub(crate) struct Requeue(Arc<Mutex<Option<Sender<Job>>>>);

impl Requeue {
    pub(crate) fn new(queue: Sender<Job>) -> Requeue {
        Requeue(Arc::new(Mutex::new(Some(queue))))
    }

    /// Queues `job`, or gives it back if the pool is shut down.
    #[allow(
        clippy::result_large_err,
        reason = "a job given back is moved, not copied; boxing it would cost an allocation per job"
    )]
    pub(crate) fn send(&self, job: Job) -> Result<(), Job> {
        match &*lock(&self.0) {
            Some(queue) => queue.send(job).map_err(|unsent| unsent.into_inner()),
            None => Err(job),
        }
    }

    /// Closes the queue: the slots drain it and stop.
    pub(crate) fn close(&self) {
        drop(lock(&self.0).take());
    }
}

/// A job's retry state: its policy, the way back to the queue, and for a
/// retried call its earlier failures and when it may run again.
pub(crate) struct Retry {
    policy: Policy,
    queue: Requeue,
    /// The failures of the earlier attempts of the job's one call, oldest
    /// first (only one-call jobs are ever retried).
    earlier: Vec<Error>,
    /// The end of the backoff.
    not_before: Option<Instant>,
}

impl Retry {
    /// The retry state of a new job; `None` when its calls are not retried.
    pub(crate) fn new(policy: Policy, queue: &Requeue) -> Option<Retry> {
        (policy.retries > 0).then(|| Retry {
            policy,
            queue: queue.clone(),
            earlier: Vec::new(),
            not_before: None,
        })
    }

    /// The same policy for a part of the job that holds none of its calls.
    pub(crate) fn without_history(&self) -> Retry {
        Retry {
            policy: self.policy,
            queue: self.queue.clone(),
            earlier: Vec::new(),
            not_before: self.not_before,
        }
    }

    /// The same state for a part of the job (a batch split in parts); the
    /// earlier attempts go with the first part.
    pub(crate) fn part(&mut self) -> Retry {
        Retry {
            policy: self.policy,
            queue: self.queue.clone(),
            earlier: std::mem::take(&mut self.earlier),
            not_before: self.not_before,
        }
    }
}

/// Whether a failure brought the worker down: what a retry may cure, and
/// what makes a call poison when it happens on every attempt. A resource
/// limit's kill (`OutOfMemory`, `CpuTimeLimit`) is left out: the call would
/// need the same memory or CPU time on its next worker.
fn brought_down(error: &Error) -> bool {
    matches!(
        error,
        Error::WorkerDied { .. } | Error::WorkerLost { .. } | Error::Timeout { .. }
    )
}

/// Whether a failure may be retried: never one that is not the task's
/// doing or would recur (codec, unknown function, size, a closed pool).
fn retryable(error: &Error, policy: Policy) -> bool {
    brought_down(error) || (policy.panics && matches!(error, Error::Panicked { .. }))
}

/// The wait before attempt `attempt + 1`.
fn backoff(attempt: usize) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16) as u32;
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(LONGEST_BACKOFF)
}

impl Job {
    /// Whether this job runs a call again (it has failed before).
    pub(crate) fn is_retry(&self) -> bool {
        self.retry.as_ref().is_some_and(|r| !r.earlier.is_empty())
    }

    /// When this job may run: not before the end of its backoff.
    pub(crate) fn not_before(&self) -> Option<Instant> {
        self.retry.as_ref()?.not_before
    }

    /// Sorts out a job's answers: retries the failed calls that may be
    /// retried (they answer later) and returns the other answers, the
    /// failures made final.
    pub(super) fn settle(&mut self, results: Answers) -> Answers {
        let tasks = std::mem::take(self.tasks.each());
        let mut earlier = self
            .retry
            .as_mut()
            .map(|retry| std::mem::take(&mut retry.earlier))
            .unwrap_or_default();
        let mut settled = Vec::with_capacity(results.len());
        for (task, (index, result)) in tasks.into_iter().zip(results) {
            let error = match result {
                Ok(reply) => {
                    settled.push((index, Ok(reply)));
                    continue;
                }
                Err(error) => error,
            };
            // Only a one-call job has earlier attempts: they are this call's.
            let earlier = std::mem::take(&mut earlier);
            if let Err((task, error, earlier)) = self.run_again(task, error, earlier) {
                settled.push((index, Err(self.last_failure(task, error, earlier))));
            }
        }
        settled
    }

    /// Queues `task` to run again after `error`, if its policy allows;
    /// else gives everything back.
    #[allow(clippy::result_large_err, reason = "the failure path, once per call")]
    fn run_again(
        &self,
        task: Task,
        error: Error,
        mut earlier: Vec<Error>,
    ) -> Result<(), (Task, Error, Vec<Error>)> {
        let Some(retry) = &self.retry else {
            return Err((task, error, earlier));
        };
        let attempts = earlier.len() + 1;
        let allowed = attempts <= retry.policy.retries as usize
            && retryable(&error, retry.policy)
            // A call nobody waits for any more is not run again.
            && !self.is_cancelled();
        let Some(reply) = self.reply_to().filter(|_| allowed) else {
            return Err((task, error, earlier));
        };
        earlier.push(error);
        let mut job = Job::new(
            self.id,
            vec![task],
            self.timeout,
            self.cancel.clone(),
            reply,
        );
        job.retry = Some(Retry {
            policy: retry.policy,
            queue: retry.queue.clone(),
            earlier,
            not_before: Some(Instant::now() + backoff(attempts)),
        });
        retry.queue.send(job).map_err(|mut job| {
            // The pool is shut down: the last failure stands.
            let mut earlier = job.retry.take().map(|r| r.earlier).unwrap_or_default();
            let error = earlier.pop().expect("pushed above");
            let task = job.tasks.each().pop().expect("one call");
            job.forget();
            (task, error, earlier)
        })
    }

    /// The error a call that is not run again yields: its last failure, or
    /// [`Error::Poisoned`] if every attempt brought a worker down, with the
    /// earlier attempts and the call itself (for replay) recorded.
    pub(super) fn last_failure(&self, task: Task, error: Error, earlier: Vec<Error>) -> Error {
        let attempts = earlier.len() + 1;
        let exhausted = self
            .retry
            .as_ref()
            .is_some_and(|retry| attempts > retry.policy.retries as usize);
        let poisoned = exhausted && brought_down(&error) && earlier.iter().all(brought_down);
        let mut error = if poisoned {
            Error::Poisoned {
                id: self.id.to_owned(),
                attempts: attempts as u32,
                last: Box::new(error),
                context: Default::default(),
            }
        } else {
            error
        };
        if let Some(context) = error.context_mut() {
            context.recorded().earlier_attempts = earlier;
        }
        error.record_replay(self.id, task.args);
        error
    }

    /// The last failure of a retried job dropped unanswered (the pool shut
    /// down under it), if it is one.
    pub(super) fn unfinished_retry(&mut self) -> Option<(usize, Error)> {
        let mut earlier = std::mem::take(&mut self.retry.as_mut()?.earlier);
        let error = earlier.pop()?;
        let task = self.tasks.each().pop()?;
        let index = task.index;
        Some((index, self.last_failure(task, error, earlier)))
    }
}

/// The retried jobs a slot took from the queue before their backoff ended,
/// held until it does while the slot runs others.
#[derive(Default)]
pub(crate) struct Delayed {
    jobs: Vec<Job>,
}

impl Delayed {
    /// Gives `job` back if it may run now; else holds it.
    pub(crate) fn hold(&mut self, job: Job) -> Option<Job> {
        match job.not_before() {
            Some(at) if at > Instant::now() => {
                self.jobs.push(job);
                None
            }
            _ => Some(job),
        }
    }

    /// A held job whose backoff has ended, if any.
    pub(crate) fn pop_due(&mut self) -> Option<Job> {
        let now = Instant::now();
        let due = self
            .jobs
            .iter()
            .position(|job| job.not_before().is_none_or(|at| at <= now))?;
        Some(self.jobs.swap_remove(due))
    }

    /// Gives the held jobs back to the pool's queue, for whichever slot is
    /// free when their backoff ends: this slot is about to run a job that
    /// may take long, and they must not wait behind it.
    pub(crate) fn release(&mut self) {
        for job in std::mem::take(&mut self.jobs) {
            let queue = job.retry.as_ref().map(|retry| retry.queue.clone());
            let unsent = match queue {
                Some(queue) => queue.send(job).err(),
                None => Some(job),
            };
            // The pool is shut down: this slot runs it before it stops.
            self.jobs.extend(unsent);
        }
    }

    /// When the next held job may run.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.jobs.iter().filter_map(Job::not_before).min()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(1000), LONGEST_BACKOFF);
    }

    #[test]
    fn only_failures_of_the_worker_are_retried_unless_panics_are() {
        let died = Error::WorkerLost {
            id: "f".into(),
            context: Default::default(),
        };
        let panicked = Error::Panicked {
            id: "f".into(),
            panic: Box::new(crate::wire::panic::PanicInfo {
                message: "boom".into(),
                location: None,
                backtrace: None,
            }),
            context: Default::default(),
        };
        let plain = Policy {
            retries: 1,
            panics: false,
        };
        let panics = Policy {
            panics: true,
            ..plain
        };
        assert!(retryable(&died, plain));
        assert!(!retryable(&panicked, plain));
        assert!(retryable(&panicked, panics));
        assert!(!retryable(&Error::PoolClosed, panics));
        assert!(!retryable(&Error::Malformed("response"), panics));
    }
}
