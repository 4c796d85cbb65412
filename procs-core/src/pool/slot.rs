//! One worker process and the pool thread that drives it.
//!
//! The thread owns the process: it spawns it (so `PR_SET_PDEATHSIG`, which
//! fires when the *spawning thread* exits, fires only when the pool is gone),
//! keeps a few small requests in flight (pipelining: the worker finds its
//! next request waiting instead of waiting for a wake-up), reaps the worker
//! when it dies and starts a replacement. The [`Watch`] kills a worker from
//! outside when a deadline passes or its caller goes away.
//!
//! Pipelining never deadlocks: while a request is in flight, more are sent
//! only if all unanswered requests fit in [`PIPELINE_BYTES`], less than any
//! pipe or socket buffer, so a send never blocks while the worker is blocked
//! writing a response we are not reading.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

use crate::contract::BoxError;
use crate::contract::erased::{ErasedChannel, Source};
use crate::error::{CallContext, Error};
use crate::exit::Exit;
use crate::pool::direct::Lent;
use crate::pool::job::Job;
use crate::pool::launch::{Worker, is_protocol_error, lost_reason, retire};
use crate::pool::output::Output;
use crate::pool::retry::{Delayed, Requeue};
use crate::pool::spec::Spec;
use crate::pool::watch::{Killed, Watch};
use crate::wire::codec;
use crate::wire::spare::Spare;

mod dying;
mod idle;
mod output;
mod overran;
mod receive;
mod start;

pub(crate) use output::catch_up;
pub(crate) use receive::parse_response;

/// Unanswered request bytes allowed per worker beyond the first request.
pub(crate) const PIPELINE_BYTES: usize = 16 << 10;

/// Requests in flight per worker at most.
pub(crate) const PIPELINE_DEPTH: usize = 8;

/// What every slot of a pool shares.
pub(crate) struct SlotConfig {
    pub(crate) source: Source,
    pub(crate) max_message_size: usize,
    /// The deadline of a task whose proc sets none.
    pub(crate) timeout: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_tasks_per_worker: Option<NonZeroUsize>,
    /// Runs once in each new worker before its first task.
    pub(crate) initializer: Option<Spec>,
    pub(crate) watch: Arc<Watch>,
    /// Where idle slots lend their workers to callers (see `direct`).
    pub(crate) lent: Lent,
    pub(crate) counters: Arc<crate::pool::stats::Counters>,
    /// Memory and CPU limits, and when a worker is too large to keep.
    pub(crate) limits: crate::pool::limits::Limits,
    /// Where spawned workers' stdout and stderr go.
    pub(crate) output: Output,
}

impl SlotConfig {
    /// Whether a call with this deadline may run on a lent worker: one the
    /// pool spawned (it may have to be killed and replaced) and without a
    /// deadline (only a slot watches deadlines).
    pub(crate) fn lends(&self, timeout: Option<Duration>) -> bool {
        matches!(self.source, Source::Spawn(_))
            && timeout.or(self.timeout).is_none()
            && !self.limits.any()
    }
}

/// The lengths of the buffers detached from some calls' results, by the
/// calls' places in their answer.
type Wanted = Vec<(usize, Vec<u64>)>;

/// A job sent to the worker and not answered yet.
struct Sent {
    job: Job,
    bytes: usize,
    /// Why sending it failed. The worker may still answer the requests
    /// before it (a worker that died after answering them closes its end
    /// with those answers unread), so the failure is handled only when this
    /// job reaches the head.
    unsent: Option<BoxError>,
}

pub(crate) struct Slot {
    index: usize,
    config: Arc<SlotConfig>,
    queue: Receiver<Job>,
    /// The way back to the queue, for a job taken while a caller has the
    /// worker (see `idle`).
    requeue: Requeue,
    queue_open: bool,
    /// Jobs to run before taking new ones: those a dead worker never
    /// started, and the calls of a batch that killed its worker.
    local: VecDeque<Job>,
    /// Retried jobs taken from the queue before their backoff ended.
    delayed: Delayed,
    worker: Option<Worker>,
    in_flight: VecDeque<Sent>,
    /// When the head of `in_flight` started running, for batch sizing.
    head_since: Instant,
    buf: Vec<u8>,
    /// A large buffer to receive the next detached result into.
    spare: Spare,
    /// Whether the last start failed: the next is for a job, which
    /// reports the error, not one started ahead of need.
    start_failed: bool,
}

/// How one exchange with a worker went.
enum Trip {
    Answered(Vec<u8>),
    /// The worker closed its end between messages.
    Closed,
    /// The channel failed.
    Failed(BoxError),
}

impl Slot {
    pub(crate) fn new(
        index: usize,
        config: Arc<SlotConfig>,
        queue: Receiver<Job>,
        requeue: Requeue,
    ) -> Slot {
        Slot {
            index,
            config,
            queue,
            requeue,
            queue_open: true,
            local: VecDeque::new(),
            delayed: Delayed::default(),
            worker: None,
            in_flight: VecDeque::new(),
            head_since: Instant::now(),
            buf: Vec::new(),
            spare: Spare::default(),
            start_failed: false,
        }
    }

    pub(crate) fn run(mut self) {
        // Start early so the first call does not wait for a spawn; if this
        // fails, the first job tries again and reports the error. Every slot
        // starts at once, and the first call goes to whichever worker greets
        // first. (A head start for the first worker, the others waiting for
        // its greeting, put their start-ups on the CPUs exactly while the
        // first call ran; BENCHMARKS.md, "Figures behind design choices".)
        self.worker = self.start().ok();
        loop {
            if self.in_flight.is_empty() && self.recycle_due() {
                self.discard(false);
            }
            self.fill_pipeline();
            if self.in_flight.is_empty() {
                if !self.queue_open && self.local.is_empty() && self.delayed.is_empty() {
                    break;
                }
                continue;
            }
            match self
                .in_flight
                .front_mut()
                .and_then(|head| head.unsent.take())
            {
                Some(error) => self.lost(Trip::Failed(error)),
                None => self.receive(),
            }
        }
        self.discard(false);
    }

    /// Sends jobs while the pipeline has room; blocks for one only when
    /// nothing is in flight.
    fn fill_pipeline(&mut self) {
        while self.can_send() {
            let Some(job) = self.next_job(self.in_flight.is_empty()) else {
                return;
            };
            if self.config.watch.is_pool_killed() {
                job.fail(|| Error::PoolClosed);
                continue;
            }
            if job.is_cancelled() {
                continue;
            }
            let size = job.request_len();
            let alone = self.runs_alone(&job) || size > PIPELINE_BYTES;
            if !self.in_flight.is_empty()
                && (alone || self.in_flight_bytes() + size > PIPELINE_BYTES)
            {
                self.local.push_front(job);
                return;
            }
            if alone {
                self.delayed.release();
            }
            self.send(job);
        }
    }

    fn can_send(&self) -> bool {
        let Some(head) = self.in_flight.front() else {
            return true;
        };
        if self.in_flight.iter().any(|sent| sent.unsent.is_some()) {
            return false;
        }
        !self.runs_alone(&head.job)
            && self.in_flight.len() < PIPELINE_DEPTH
            && self.in_flight_bytes() < PIPELINE_BYTES
            && !self.recycle_due()
    }

    /// Whether `job` must be the only request in its worker's pipe.
    fn runs_alone(&self, job: &Job) -> bool {
        // A job not known to be short keeps others from waiting behind it;
        // attached workers get one request at a time, because their
        // transport may block in `send` until the worker reads (MPI's
        // rendezvous sends). A deadline does not matter: the worker times
        // each call from its own start.
        !job.pipelined || matches!(self.config.source, Source::Attach(_))
    }

    fn in_flight_bytes(&self) -> usize {
        self.in_flight.iter().map(|s| s.bytes).sum()
    }

    fn recycle_due(&self) -> bool {
        if self.worker.as_ref().is_some_and(|w| w.limits.bloated) {
            return true;
        }
        match (&self.worker, self.config.max_tasks_per_worker) {
            (Some(worker), Some(max)) => {
                let sent: usize = self.in_flight.iter().map(|s| s.job.tasks.len()).sum();
                worker.tasks + sent >= max.get()
            }
            _ => false,
        }
    }

    fn next_job(&mut self, block: bool) -> Option<Job> {
        loop {
            if let Some(job) = self.delayed.pop_due() {
                return Some(job);
            }
            let job = self.next_queued(block)?;
            if let Some(job) = self.delayed.hold(job) {
                return Some(job);
            }
        }
    }

    /// The next job of this slot's own or of the pool's queue; when
    /// blocking, waits no later than the end of a held retry's backoff.
    fn next_queued(&mut self, block: bool) -> Option<Job> {
        if let Some(job) = self.local.pop_front() {
            return Some(job);
        }
        if !self.queue_open {
            if let Some(at) = self.delayed.next_due().filter(|_| block) {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
            }
            return None;
        }
        if let Some(at) = self.delayed.next_due().filter(|_| block) {
            return match self.queue.recv_deadline(at) {
                Ok(job) => Some(job),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    self.queue_open = false;
                    None
                }
            };
        }
        let next = if block {
            self.wait_for_job()
        } else {
            self.queue.try_recv()
        };
        match next {
            Ok(job) => {
                // A retried call left the queue when it first ran: its
                // statistics count it as running until its last attempt.
                if !job.is_retry() {
                    self.config.counters.taken(job.tasks.len());
                }
                Some(job)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.queue_open = false;
                None
            }
        }
    }

    fn send(&mut self, job: Job) {
        if self.worker.is_none() {
            match self.start() {
                Ok(worker) => self.worker = Some(worker),
                // One spawn attempt per call: the first call reports the
                // failure, the others try again with a worker of their own.
                Err(error) => return self.fail_first(job, error),
            }
        }
        // A deadline needs a worker the pool can kill.
        if job.timeout.is_some() && matches!(self.config.source, Source::Attach(_)) {
            let problem = "attached workers cannot be killed, so calls cannot have deadlines";
            return job.fail(|| Error::InvalidSetting {
                setting: "timeout",
                problem,
            });
        }
        // Starting a worker can take long (an initializer): a call dropped
        // meanwhile is not started at all.
        if job.is_cancelled() {
            return;
        }
        // A batch never takes a worker past its task limit: the calls that
        // do not fit wait for the next worker.
        if let Some(max) = self.config.max_tasks_per_worker {
            let worker = self.worker.as_ref().expect("started above");
            let sent: usize = self.in_flight.iter().map(|s| s.job.tasks.len()).sum();
            let room = max.get().saturating_sub(worker.tasks + sent).max(1);
            if job.tasks.len() > room {
                let (first, rest) = job.split_at(room);
                self.local.push_front(rest);
                return self.send(first);
            }
        }
        let detach = !matches!(self.config.source, Source::Attach(_));
        // Each call's deadline travels with it: the worker times every call
        // from its own start (`worker/watchdog.rs`).
        let timeout = job.timeout.or(self.config.timeout);
        let detached = job.tasks.encode(&mut self.buf, job.id, timeout, detach);
        let size = codec::largest_message(&self.buf, &detached);
        if size > self.config.max_message_size {
            let error = self.too_large(job.id, size);
            return self.fail_first(job, error);
        }
        if self.in_flight.is_empty() {
            // Before sending: the worker may write as soon as it reads.
            self.mark_output();
        }
        let worker = self.worker.as_mut().expect("started above");
        let unsent = send_all(&mut *worker.channel, &self.buf, detached).err();
        let bytes = job.request_len();
        self.in_flight.push_back(Sent { job, bytes, unsent });
        if self.in_flight.len() == 1 {
            self.watch_front();
        }
    }

    /// Gives `error` to the first call of `job` and queues the others as
    /// jobs of their own.
    fn fail_first(&mut self, job: Job, error: Error) {
        let mut calls = job.split().into_iter();
        if let Some(first) = calls.next() {
            first.finish(None, [Err(error)]);
        }
        for rest in calls.rev() {
            self.local.push_front(rest);
        }
    }

    /// Watches the new oldest request, which the worker runs now. Its
    /// calls' deadlines are the worker's to enforce; the watch is the
    /// backstop for a worker that cannot report (see [`backstop`]).
    fn watch_front(&mut self) {
        if let Some(head) = self.in_flight.front() {
            let timeout = head.job.timeout.or(self.config.timeout);
            let deadline = timeout.map(|t| (backstop(t, head.job.tasks.len()), t));
            let cancel = head.job.cancel.clone();
            self.config.watch.begin(self.index, deadline, Some(&cancel));
            self.head_since = Instant::now();
        }
    }

    /// The worker died (or broke its channel) running the oldest request in
    /// flight: that call fails with the reason; a batch is split to find the
    /// call responsible; later requests never started and are queued again.
    fn lost(&mut self, trip: Trip) {
        let Sent { job, .. } = self.in_flight.pop_front().expect("in flight");
        let error = match trip {
            Trip::Failed(error) => Some(error),
            _ => None,
        };
        let reason = self.broken(job.id, error);
        self.requeue_in_flight();
        if job.tasks.len() > 1 {
            for call in job.split().into_iter().rev() {
                self.local.push_front(call);
            }
        } else {
            job.finish(None, [Err(reason)]);
        }
    }

    /// Discards the worker and queues again what it had not answered.
    fn abandon(&mut self, kill_now: bool) {
        self.requeue_in_flight();
        self.discard(kill_now);
    }

    fn requeue_in_flight(&mut self) {
        while let Some(Sent { job, .. }) = self.in_flight.pop_back() {
            self.local.push_front(job);
        }
    }

    /// Turns a broken channel into the right error: a death if the worker
    /// exits, a transport failure if it had to be killed.
    fn broken(&mut self, id: &str, error: Option<BoxError>) -> Error {
        // A worker that sent garbage is alive and untrusted: no grace.
        let garbage = error.as_deref().is_some_and(is_protocol_error);
        let attached = matches!(self.config.source, Source::Attach(_));
        // Read once the worker is reaped, then removed.
        let cgroup = self.worker.as_mut().and_then(|w| w.limits.take_cgroup());
        let output = self.forwarding();
        let retired = self.discard(garbage);
        let reason = lost_reason(id, error, retired, attached, garbage);
        let oom_killed = cgroup.is_some_and(|cgroup| cgroup.oom_killed());
        output::with_tail(
            self.config.limits.classify(reason, oom_killed),
            output.as_ref(),
        )
    }

    /// Reaps the live worker, killing it at once (`kill_now`) or after a
    /// grace period; returns its exit and whether it ended on its own.
    /// `None` if there was no worker, or it was attached (not ours to reap).
    fn discard(&mut self, kill_now: bool) -> Option<(Exit, bool)> {
        let worker = self.worker.take()?;
        retire(worker, &self.config.watch, self.index, kill_now).0
    }

    fn too_large(&self, id: &str, size: usize) -> Error {
        Error::TooLarge {
            id: id.to_owned(),
            size: size as u64,
            limit: self.config.max_message_size as u64,
        }
    }
}

/// Sends a request and then the buffers detached from it.
fn send_all<'a>(
    channel: &mut dyn ErasedChannel,
    msg: &[u8],
    detached: impl IntoIterator<Item = &'a Vec<u8>>,
) -> Result<(), BoxError> {
    channel.send(msg)?;
    detached.into_iter().try_for_each(|buf| channel.send(buf))
}

/// How long the parent lets a request of `tasks` calls with `timeout` each
/// run before it kills the worker itself: every call may take its whole
/// timeout, and the worker's watchdog gets as long again (at least a second)
/// to report an overrun. Only a worker that cannot report (stopped, wedged,
/// without a thread for its watchdog) is killed this way; the parent cannot
/// tell which of the request's calls ran, so all of them fail with
/// `Timeout` rather than risk running one twice.
fn backstop(timeout: Duration, tasks: usize) -> Duration {
    timeout
        .saturating_mul(u32::try_from(tasks).unwrap_or(u32::MAX))
        .saturating_add(grace(timeout))
}

/// How long a worker's watchdog may take to report an overrun.
fn grace(timeout: Duration) -> Duration {
    timeout.max(Duration::from_secs(1))
}

fn killed_error(reason: Killed, id: &str) -> Error {
    match reason {
        Killed::Deadline(timeout) => Error::Timeout {
            id: id.to_owned(),
            timeout,
            context: CallContext::default(),
        },
        Killed::Handshake(timeout) => Error::HandshakeTimeout { timeout },
        Killed::Cancelled | Killed::Pool => Error::PoolClosed,
    }
}
