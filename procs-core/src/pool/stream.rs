//! The stream of one `call` or `pmap`: its input turned into jobs, its
//! answers turned back into results.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use crossbeam_channel::{Receiver, Sender};

use crate::error::Error;
use crate::pool::Shared;
use crate::pool::burst::BURST_JOB_TIME;
use crate::pool::caller::Caller;
use crate::pool::job::{Answered, CancelFlag, Done, Job, Reply, ReplyTo, Task};
use crate::pool::source::{Packing, Source};
use crate::pool::spec::{RetrySpec, Spec};
use crate::pool::tasks::{Packed, Tasks};
use crate::pool::window::{Completed, Segment, Taken};

/// The smoothed time per call and the next batch size after an answer that
/// took `sample` per call. The time is learned with a `pinned` batch size
/// too: whether jobs may be pipelined depends on it (with `chunk_size(1)`
/// it once stayed unknown, and every call waited for the one before).
fn adapted(
    per_task: Option<f64>,
    batch: usize,
    sample: Duration,
    pinned: bool,
) -> (Option<f64>, usize) {
    let sample = sample.as_secs_f64().max(1e-9);
    let smoothed = match per_task {
        Some(old) => 0.5 * old + 0.5 * sample,
        None => sample,
    };
    if pinned {
        return (Some(smoothed), batch);
    }
    let ideal = BATCH_TIME.as_secs_f64() / smoothed;
    // Grow at most fourfold per answer, so one fast sample cannot make a
    // batch of slow calls.
    let batch = (ideal as usize).clamp(1, (batch * 4).min(MAX_BATCH));
    (Some(smoothed), batch)
}

/// The most calls sent to a worker in one message.
const MAX_BATCH: usize = 4096;
/// The most argument bytes in one batch; larger calls travel alone.
const MAX_BATCH_BYTES: usize = 256 << 10;
/// How long a batch should keep a worker busy: long enough to amortise a
/// round trip, short enough to keep workers balanced and results flowing.
const BATCH_TIME: Duration = Duration::from_millis(2);
/// Jobs expected to take less than this may wait in a worker's pipe behind
/// another: the wait is short, and the worker never idles between them.
const PIPELINE_JOB_TIME: Duration = Duration::from_millis(5);
/// The window when the pool sets none: a cap, rarely reached, since the
/// effective window follows the batch size.
const WINDOW_CAP: usize = 1 << 16;

/// Calls taken from the input and not submitted yet: consecutive calls of
/// one function with one deadline, one by one or packed (never both).
#[derive(Default)]
struct Group {
    id: &'static str,
    /// Calls with deadlines batch like others (the worker times each from
    /// its own start), but a request carries one timeout for all.
    timeout: Option<Duration>,
    tasks: Vec<Task>,
    packed: Packed,
    /// The arguments' bytes of `tasks`.
    bytes: usize,
}

impl Group {
    fn len(&self) -> usize {
        self.tasks.len() + self.packed.len()
    }
}

/// The untyped engine behind `Results`, `Unordered` and the tuple form of
/// `call`: takes calls from the input with bounded look-ahead, batches them
/// into jobs, and hands back answers in order or as they complete.
pub(crate) struct RawResults<'a> {
    input: Source<'a>,
    input_done: bool,
    /// The arguments' bytes per call in the last packed batch: how much to
    /// reserve for the next.
    packed_call_bytes: usize,
    pool: Arc<Shared>,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    /// The task awaiting this call, if it is awaited: woken by every answer.
    waker: Arc<AtomicWaker>,
    cancel: CancelFlag,
    /// Whether results are yielded in input order or as they complete.
    ordered: bool,
    /// Results yielded so far, in order.
    next: usize,
    /// Ordered: calls taken from the input and not yet yielded, in input
    /// order, a segment per job.
    ready: VecDeque<Segment>,
    /// Unordered: answered calls not yet yielded, in completion order.
    completed: VecDeque<Completed>,
    /// Calls taken from the input so far: the index of the next one.
    taken: usize,
    /// Calls taken from the input and not yet yielded.
    outstanding: usize,
    /// Calls per message now; adapts to the measured time per call unless
    /// the pool pins it.
    batch: usize,
    /// Seconds per call, smoothed over the batches answered so far.
    per_task: Option<f64>,
    /// Calls submitted and not answered yet.
    unanswered: usize,
    /// While more calls than this are outstanding, the window is full
    /// enough (`usize::MAX` when the window's size must be worked out
    /// again).
    full_above: usize,
    /// Where the call was made, for its jobs.
    caller: Arc<Caller>,
    /// Whether the pool lets short one-call jobs run in bursts.
    bursts: bool,
    /// Jobs set aside for the next burst.
    bursting: VecDeque<Job>,
}

impl<'a> RawResults<'a> {
    pub(crate) fn new(pool: &Arc<Shared>, input: impl Into<Source<'a>>) -> Self {
        Self::with_order(pool, input, true)
    }

    pub(crate) fn with_order(
        pool: &Arc<Shared>,
        input: impl Into<Source<'a>>,
        ordered: bool,
    ) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        RawResults {
            input: input.into(),
            input_done: false,
            packed_call_bytes: 1,
            pool: pool.clone(),
            tx,
            rx,
            waker: Arc::new(AtomicWaker::new()),
            cancel: Arc::new(AtomicBool::new(false)),
            ordered,
            next: 0,
            ready: VecDeque::new(),
            completed: VecDeque::new(),
            taken: 0,
            outstanding: 0,
            batch: pool.chunk_size().unwrap_or(1),
            per_task: None,
            unanswered: 0,
            full_above: usize::MAX,
            bursts: pool.bursts(),
            bursting: VecDeque::new(),
            caller: Arc::new(Caller::here(pool.counters())),
        }
    }

    /// Calls in flight or waiting for the consumer, at most: enough to keep
    /// every worker's pipeline full with batches of the current size, and
    /// never more than the pool's window.
    fn window(&self) -> usize {
        let workers = self.pool.workers().max(1);
        match self.pool.window() {
            Some(window) => window,
            // A burst should keep the workers busy as long as a batch
            // does, and the window hold two.
            None if self.bursting() => {
                let per_task = self.per_task.unwrap_or(1.0).max(1e-9);
                let calls = (BATCH_TIME.as_secs_f64() / per_task) as usize * workers;
                (calls * 2).clamp(16 * workers, WINDOW_CAP)
            }
            None => (self.batch * workers * 4).clamp(16 * workers, WINDOW_CAP),
        }
    }

    /// Takes calls from the input until the window is full, grouping
    /// consecutive calls of one function into batches.
    #[inline]
    fn fill(&mut self) {
        // Asked before every result: most find the window full, or the
        // input done, and should cost no more than this.
        if self.input_done || (self.outstanding > 0 && self.outstanding > self.full_above) {
            return;
        }
        self.fill_window();
    }

    fn fill_window(&mut self) {
        let window = self.window();
        // Batches must leave every worker something to do.
        let batch = self
            .batch
            .min((window / (2 * self.pool.workers().max(1))).max(1));
        // Refill a whole batch at a time: topping up one call per call
        // consumed would send one-call messages however large `batch` is.
        // While calls wait for the consumer there is no hurry.
        let bursting = self.bursting();
        // A burst borrows idle workers: while this stream's jobs are still
        // with the slots, their workers are not idle (and the burst's jobs
        // would go to the slots too, and keep them busy for the next).
        if bursting && self.unanswered > 0 {
            return;
        }
        let refill = match bursting {
            true => window / 2,
            false => batch,
        };
        self.full_above = window.saturating_sub(refill);
        if self.outstanding > 0 && self.outstanding > self.full_above {
            return;
        }
        // Sized once: growing a batch of thousands by doubling costs a
        // dozen reallocations, the larger ones fresh mappings.
        let capacity = batch.min(self.window().saturating_sub(self.outstanding));
        let mut group = Group::default();
        while !self.input_done && self.outstanding < window {
            let index = self.taken;
            let next = match &mut self.input {
                Source::Specs(specs) => specs.next(),
                Source::Packs(packs) => {
                    let packed = &mut group.packed;
                    if packed.len() == 0 {
                        *packed = Packed::new(index);
                        packed.bytes.reserve(capacity * self.packed_call_bytes);
                        group.id = packs.id();
                    }
                    let is_packed = |packing: &Packing| matches!(packing, Packing::Packed);
                    match packed.pack(|bytes| packs.pack_next(bytes), is_packed) {
                        None => None,
                        Some(Packing::Alone(spec)) => Some(*spec),
                        Some(Packing::Packed) => {
                            self.taken += 1;
                            self.outstanding += 1;
                            if packed.len() >= batch || packed.bytes.len() >= MAX_BATCH_BYTES {
                                self.submit_group(&mut group);
                            }
                            continue;
                        }
                    }
                }
            };
            match next {
                None => self.input_done = true,
                Some(Err(error)) => {
                    // Segments follow the input: what is grouped goes first.
                    self.submit_group(&mut group);
                    self.admit_failed(error);
                }
                Some(Ok(Spec {
                    id,
                    args,
                    timeout,
                    retry,
                })) => {
                    self.taken += 1;
                    self.outstanding += 1;
                    // A proc's own retry settings are per call, so such
                    // calls travel alone; so do packable calls that could
                    // not be packed.
                    if retry != RetrySpec::default() || matches!(self.input, Source::Packs(_)) {
                        self.submit_group(&mut group);
                        self.submit(id, vec![Task { index, args }], timeout, retry);
                        continue;
                    }
                    if group.len() > 0 && (group.id != id || group.timeout != timeout) {
                        self.submit_group(&mut group);
                    }
                    group.id = id;
                    group.timeout = timeout;
                    group.bytes += args.len();
                    if group.tasks.is_empty() {
                        group.tasks.reserve_exact(capacity);
                    }
                    group.tasks.push(Task { index, args });
                    if group.len() >= batch || group.bytes >= MAX_BATCH_BYTES {
                        self.submit_group(&mut group);
                    }
                }
            }
        }
        self.submit_group(&mut group);
        self.flush_burst();
    }

    /// Submits the calls grouped so far, if any, and starts a new group.
    fn submit_group(&mut self, group: &mut Group) {
        let Group {
            id,
            timeout,
            tasks,
            packed,
            bytes: _,
        } = std::mem::take(group);
        if !tasks.is_empty() {
            self.submit(id, tasks, timeout, RetrySpec::default());
        }
        if packed.len() > 0 {
            self.packed_call_bytes = packed.bytes.len().div_ceil(packed.len()).max(1);
            self.submit(id, Tasks::Packed(packed), None, RetrySpec::default());
        }
    }

    fn submit(
        &mut self,
        id: &'static str,
        tasks: impl Into<Tasks>,
        timeout: Option<Duration>,
        retry: RetrySpec,
    ) {
        let tasks = tasks.into();
        self.unanswered += tasks.len();
        if self.ordered {
            let start = tasks.indexes().next().unwrap_or(self.taken);
            self.ready.push_back(Segment::new(id, start, tasks.len()));
        }
        let expected = self.per_task.map(|t| t * tasks.len() as f64);
        let reply = ReplyTo::new(self.tx.clone(), self.waker.clone(), self.caller.clone());
        let mut job = Job::new(id, tasks, timeout, self.cancel.clone(), reply);
        job.pipelined = expected.is_some_and(|t| t < PIPELINE_JOB_TIME.as_secs_f64());
        job.retry = self.pool.retry(retry);
        let short = expected.is_some_and(|t| t < BURST_JOB_TIME.as_secs_f64());
        if short && self.bursts && job.bursts() {
            self.bursting.push_back(job);
        } else {
            self.pool.submit(job);
        }
    }

    /// A stream that is polled must not block its executor's thread for a
    /// burst: its jobs go through the slots.
    fn never_burst(&mut self) {
        if self.bursts {
            self.bursts = false;
            self.full_above = usize::MAX;
        }
    }

    /// Runs the jobs set aside for a burst (see `pool::burst`).
    fn flush_burst(&mut self) {
        if !self.bursting.is_empty() {
            self.pool.burst(std::mem::take(&mut self.bursting));
        }
    }

    /// Whether this stream's jobs run in bursts now: one call each, known
    /// to be short. Each burst should then be many jobs, not one per result
    /// consumed: the caller waits for the whole burst.
    fn bursting(&self) -> bool {
        self.bursts
            && self.batch == 1
            && self
                .per_task
                .is_some_and(|t| t < BURST_JOB_TIME.as_secs_f64())
    }

    /// Learns from a batch's time per call how large the next ones should be
    /// (unless the pool pins the size) and whether they may be pipelined.
    fn adapt(&mut self, per_task: Duration) {
        let pinned = self.pool.chunk_size().is_some();
        (self.per_task, self.batch) = adapted(self.per_task, self.batch, per_task, pinned);
        // The window follows the batch size.
        self.full_above = usize::MAX;
    }

    /// Takes one more call from the input, one that failed before it could
    /// be sent.
    fn admit_failed(&mut self, error: Error) {
        if self.ordered {
            let mut segment = Segment::new("", self.taken, 1);
            segment.file_one(self.taken, Err(error));
            self.ready.push_back(segment);
        } else {
            let failed = (self.taken, "", Err(error));
            self.completed.push_back(Completed::One(failed));
        }
        self.taken += 1;
        self.outstanding += 1;
    }

    /// Waits for one job's answers and files them.
    fn receive(&mut self) {
        // We hold a sender, and every job answers exactly once (even when
        // dropped), so this cannot wait forever on a lost job.
        let done = crate::util::spin::recv(&self.rx).expect("the receiver outlives no sender");
        self.file(done);
    }

    /// Files the answers that have arrived, without waiting; whether there
    /// were any.
    fn receive_ready(&mut self) -> bool {
        let mut any = false;
        while let Ok(done) = self.rx.try_recv() {
            self.file(done);
            any = true;
        }
        any
    }

    /// Files one job's answers where the consumer will find them.
    fn file(&mut self, done: Done) {
        if let Some(per_task) = done.per_task {
            self.adapt(per_task);
        }
        self.unanswered -= done.results.len();
        if !self.ordered {
            match done.results {
                Answered::Each(answers) => {
                    for (index, result) in answers {
                        self.completed
                            .push_back(Completed::One((index, done.id, result)));
                    }
                }
                Answered::Run(run) if run.len == 0 => {}
                Answered::Run(run) => self.completed.push_back(Completed::Run(done.id, run, 0)),
            }
            return;
        }
        // A job's calls lie in one segment: the one its first call is in.
        let first = match &done.results {
            Answered::Each(answers) => answers.first().map(|a| a.0),
            Answered::Run(run) => Some(run.first),
        };
        let Some(first) = first else { return };
        let at = self
            .ready
            .partition_point(|segment| segment.start + segment.len <= first);
        if let Some(segment) = self.ready.get_mut(at) {
            segment.file(done.results);
        }
    }

    /// The next result in input order if it is ready; else registers the
    /// task of `cx` to be woken by the next answer. Never blocks.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(&'static str, Result<Reply, Error>)>> {
        self.poll_next_with(cx, |id, taken| (id, taken.into_reply()))
    }

    /// [`poll_next`](Self::poll_next), the result handed to `take` as it
    /// lies in the window.
    pub(crate) fn poll_next_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&'static str, Taken<'_>) -> T,
    ) -> Poll<Option<T>> {
        // Registered before looking, so that an answer filed after the look
        // wakes the task.
        self.waker.register(cx.waker());
        self.never_burst();
        self.fill();
        loop {
            match self.ready.front().map(Segment::is_ready) {
                None => return Poll::Ready(None),
                Some(true) => return Poll::Ready(self.pop_ready(take)),
                Some(false) if !self.receive_ready() => return Poll::Pending,
                Some(false) => {}
            }
        }
    }

    /// The next result to complete, with its input index, if one is ready;
    /// else registers the task of `cx` like [`poll_next`](Self::poll_next).
    pub(crate) fn poll_next_unordered_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        take: impl FnOnce(usize, &'static str, Taken<'_>) -> T,
    ) -> Poll<Option<T>> {
        self.waker.register(cx.waker());
        self.never_burst();
        self.fill();
        loop {
            if !self.completed.is_empty() {
                return Poll::Ready(self.pop_completed(take));
            }
            if self.outstanding == 0 {
                return Poll::Ready(None);
            }
            if !self.receive_ready() {
                return Poll::Pending;
            }
        }
    }

    fn pop_completed<T>(
        &mut self,
        take: impl FnOnce(usize, &'static str, Taken<'_>) -> T,
    ) -> Option<T> {
        let taken = match self.completed.front_mut()? {
            Completed::Run(id, run, yielded) => {
                let index = run.first + *yielded;
                *yielded += 1;
                let more = *yielded < run.len;
                let taken = take(index, id, Taken::next_of(run));
                self.outstanding -= 1;
                if more {
                    return Some(taken);
                }
                taken
            }
            Completed::One(_) => {
                let Some(Completed::One((index, id, result))) = self.completed.pop_front() else {
                    unreachable!("the front is one call's")
                };
                self.outstanding -= 1;
                return Some(take(index, id, Taken::Owned(result)));
            }
        };
        self.completed.pop_front();
        Some(taken)
    }

    #[inline]
    fn pop_ready<T>(&mut self, take: impl FnOnce(&'static str, Taken<'_>) -> T) -> Option<T> {
        let segment = self.ready.front_mut()?;
        let id = segment.id;
        let taken = take(id, segment.take()?);
        if segment.yielded == segment.len {
            self.ready.pop_front();
        }
        self.next += 1;
        self.outstanding -= 1;
        Some(taken)
    }

    /// The next result in input order.
    pub(crate) fn next(&mut self) -> Option<(&'static str, Result<Reply, Error>)> {
        self.next_with(|id, taken| (id, taken.into_reply()))
    }

    /// The next result in input order, handed to `take` as it lies in the
    /// window: a batch's values are decoded in place, with nothing made per
    /// call.
    pub(crate) fn next_with<T>(
        &mut self,
        take: impl FnOnce(&'static str, Taken<'_>) -> T,
    ) -> Option<T> {
        self.fill();
        while !self.ready.front()?.is_ready() {
            self.receive();
        }
        self.pop_ready(take)
    }

    /// The next result to complete, with its input index, handed to `take`
    /// as it lies in the window.
    pub(crate) fn next_unordered_with<T>(
        &mut self,
        take: impl FnOnce(usize, &'static str, Taken<'_>) -> T,
    ) -> Option<T> {
        self.fill();
        loop {
            if !self.completed.is_empty() {
                return self.pop_completed(take);
            }
            if self.outstanding == 0 {
                return None;
            }
            self.receive();
        }
    }

    /// Results yielded so far.
    pub(crate) fn yielded(&self) -> usize {
        self.next
    }

    /// Calls taken from the input and not yielded yet.
    pub(crate) fn pending(&self) -> usize {
        self.outstanding
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = if self.input_done {
            (0, Some(0))
        } else {
            self.input.size_hint()
        };
        let pending = self.outstanding;
        (
            lo.saturating_add(pending),
            hi.and_then(|hi| hi.checked_add(pending)),
        )
    }
}

impl Drop for RawResults<'_> {
    fn drop(&mut self) {
        // Workers skip the jobs of a call nobody listens to any more.
        self.cancel.store(true, Ordering::Relaxed);
        if self.unanswered > 0 {
            self.pool.cancelled();
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_time_per_call_is_learned_whatever_the_batch_size() {
        let fast = Duration::from_micros(5);
        // A pinned size stays, but the time is learned, so short calls are
        // pipelined.
        let (per_task, batch) = adapted(None, 1, fast, true);
        assert_eq!(batch, 1);
        assert!(per_task.is_some_and(|t| t < PIPELINE_JOB_TIME.as_secs_f64()));
        // Adaptive: grows at most fourfold per answer, up to the cap.
        let (_, batch) = adapted(None, 1, fast, false);
        assert_eq!(batch, 4);
        let (_, batch) = adapted(Some(5e-6), MAX_BATCH, fast, false);
        assert_eq!(
            batch,
            MAX_BATCH.min((BATCH_TIME.as_secs_f64() / 5e-6) as usize)
        );
        // Slow calls travel one by one.
        let (_, batch) = adapted(None, 64, Duration::from_millis(10), false);
        assert_eq!(batch, 1);
    }
}
