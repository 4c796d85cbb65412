//! A stream's short one-call jobs, run by the calling thread itself on idle
//! workers.
//!
//! Through the queue, a call of the unbatched stream (`chunk_size(1)`)
//! crossed five threads (caller, slot, worker, slot, caller) and spent more
//! on the wake-ups between them than on its pipes (BENCHMARKS.md). `direct`
//! already runs a lone call on an idle worker from the calling thread; a
//! *burst* does the same for the jobs a stream has ready: it borrows every
//! idle worker, keeps up to `BURST_DEPTH` requests in flight on each (sent
//! several to a write),
//! reads the answers in the order the requests went out, and sends the next
//! job to the worker that just answered. Answers go to the stream's channel
//! as a slot's would, and the stream files them as any others.
//!
//! Only one-call jobs known to be short go this way (the stream decides,
//! `RawResults::submit`): the caller returns to its consumer only once the
//! burst is over, so a slow call would hold back the results before it.
//!
//! **Why it cannot deadlock.** As on the direct path, the caller only
//! `try_lock`s places and needs nothing from a slot while it holds them.
//! The requests in flight on a worker fit in [`PIPELINE_BYTES`], less than
//! any pipe buffer, so a send never blocks while the worker is blocked
//! writing an answer the caller is not reading yet.
//!
//! **Failures** are handled as a slot handles them: the call whose answer
//! did not come gets the error (a death, a panic under `panic = "abort"`, a
//! broken link), the worker is retired, and the requests behind it, which it
//! never started, go back to the queue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::contract::BoxError;
use crate::error::{CallContext, Error};
use crate::pool::direct::{Borrowed, Lent, broken, dying};
use crate::pool::job::Job;
use crate::pool::slot::{PIPELINE_BYTES, catch_up, parse_response};
use crate::pool::trace::recv_answer;
use crate::pool::watch::Watch;
use crate::wire::Broke;
use crate::wire::codec::{self, Message};
use crate::wire::spare::Spare;

/// Requests in flight per worker at most in a burst.
const BURST_DEPTH: usize = 64;

/// Jobs expected to take less than this may run in a burst.
pub(crate) const BURST_JOB_TIME: Duration = Duration::from_micros(200);

/// The largest request a burst sends: a job with larger arguments goes to
/// the queue. A worker's requests in flight stay within [`PIPELINE_BYTES`]
/// together.
pub(crate) const BURST_REQUEST_BYTES: usize = PIPELINE_BYTES / 16;

/// What a burst gives back to the queue.
#[derive(Default)]
pub(crate) struct Left {
    /// Jobs it did not send: no worker was idle, or had room.
    pub(crate) unsent: Vec<Job>,
    /// Jobs it sent to a worker that died before it started them.
    pub(crate) returned: Vec<Job>,
}

/// One borrowed worker and the requests it has not answered, oldest first.
struct Lane<'a> {
    worker: Borrowed<'a>,
    in_flight: VecDeque<Job>,
    /// The bytes of the requests in flight.
    bytes: usize,
    /// When the oldest request in flight started running, as far as the
    /// caller can tell (for the stream's time per call).
    head_since: Instant,
    /// Why a send failed: the lane takes no more requests.
    unsendable: Option<BoxError>,
}

/// Runs `jobs` (one-call jobs without deadline, retries or detached
/// buffers, each request within [`BURST_REQUEST_BYTES`]) on the idle
/// workers of `lent`; what it could not run is left for the queue.
pub(crate) fn run(
    lent: &Lent,
    mut jobs: VecDeque<Job>,
    watch: &Watch,
    max_tasks: Option<usize>,
) -> Left {
    let mut lanes: Vec<Lane<'_>> = lent
        .borrow_idle(max_tasks)
        .into_iter()
        .map(|worker| Lane {
            worker,
            in_flight: VecDeque::new(),
            bytes: 0,
            head_since: Instant::now(),
            unsendable: None,
        })
        .collect();
    let mut left = Left::default();
    // The lane of each request in flight, oldest first: answers are read in
    // this order, so the consumer's next result comes first.
    let mut order: VecDeque<usize> = VecDeque::new();
    let mut bufs = Requests::default();
    let mut spare = Spare::default();
    loop {
        for (at, lane) in lanes.iter_mut().enumerate() {
            let room = lane.room(&jobs, max_tasks);
            if room == 0 {
                continue;
            }
            lane.send(jobs.drain(..room).collect(), &mut bufs);
            lent.counters().submitted(room);
            lent.counters().taken(room);
            order.extend(std::iter::repeat_n(at, room));
        }
        let Some(at) = order.pop_front() else {
            break;
        };
        let lane = &mut lanes[at];
        if let Err(returned) = lane.receive(watch, &mut spare) {
            // The lane is closed: its requests left `order` with it.
            order.retain(|&other| other != at);
            lent.counters().returned(returned.len());
            left.returned.extend(returned);
        }
    }
    for lane in &mut lanes {
        // A worker that could not take a request has nothing in flight
        // now: it goes without a call to blame.
        if lane.unsendable.is_some() && lane.worker.place.is_some() {
            let broke = Broke::Link(lane.unsendable.take());
            let _ = broken(&mut lane.worker.place, lane.worker.index, watch, "", broke);
        }
    }
    left.unsent.extend(jobs);
    // Once their places are free, so that a slot can start at once.
    let retired: Vec<usize> = lanes
        .iter()
        .filter(|lane| lane.worker.place.is_none())
        .map(|lane| lane.worker.index)
        .collect();
    drop(lanes);
    for index in retired {
        lent.tell_retired(index);
    }
    left
}

/// The requests of the jobs sent together, encoded one after the other.
#[derive(Default)]
struct Requests {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    buf: Vec<u8>,
}

impl Lane<'_> {
    /// How many of `jobs` it takes now: none while more than half its
    /// pipeline is full, so that requests go several to a write (and a
    /// worker is woken once for several).
    fn room(&self, jobs: &VecDeque<Job>, max_tasks: Option<usize>) -> usize {
        let Some(worker) = self.worker.place.as_ref() else {
            return 0;
        };
        let full = self.in_flight.len() > BURST_DEPTH / 2 || self.bytes > PIPELINE_BYTES / 2;
        if self.unsendable.is_some() || full {
            return 0;
        }
        let sent = worker.tasks + self.in_flight.len();
        let tasks = max_tasks.map_or(usize::MAX, |max| max.saturating_sub(sent));
        let count = (BURST_DEPTH - self.in_flight.len()).min(tasks);
        let mut bytes = self.bytes;
        jobs.iter()
            .take(count)
            .take_while(|job| {
                bytes += job.request_len();
                bytes <= PIPELINE_BYTES
            })
            .count()
    }

    /// Sends the requests of `jobs` with one write where the transport
    /// can. If the link broke, the worker takes no more; the jobs stay in
    /// flight, as a slot keeps a request it failed to send, because some
    /// may have gone out: reading their answers finds out which call the
    /// worker died in, and the ones after it never started.
    fn send(&mut self, jobs: Vec<Job>, bufs: &mut Requests) {
        let worker = self.worker.place.as_mut().expect("a lane with room");
        bufs.bytes.clear();
        bufs.ends.clear();
        for job in &jobs {
            let detached = job.tasks.encode(&mut bufs.buf, job.id, None, true);
            debug_assert!(detached.is_empty(), "burst jobs detach nothing");
            bufs.bytes.extend_from_slice(&bufs.buf);
            bufs.ends.push(bufs.bytes.len());
        }
        let starts = std::iter::once(0).chain(bufs.ends.iter().copied());
        let msgs: Vec<&[u8]> = starts
            .zip(&bufs.ends)
            .map(|(start, &end)| &bufs.bytes[start..end])
            .collect();
        if self.in_flight.is_empty() {
            // Before sending: the worker may write as soon as it reads.
            if let Some(output) = &worker.output {
                output.mark();
            }
            self.head_since = Instant::now();
        }
        if let Err(error) = worker.channel.send_many(&msgs) {
            self.unsendable = Some(error);
        }
        self.bytes += jobs.iter().map(Job::request_len).sum::<usize>();
        self.in_flight.extend(jobs);
    }

    /// Reads the answer to the oldest request and hands it to its job. On
    /// a failure the job gets the error, the worker is retired, and the
    /// jobs it had not started are returned.
    fn receive(&mut self, watch: &Watch, spare: &mut Spare) -> Result<(), Vec<Job>> {
        let job = self.in_flight.pop_front().expect("in flight");
        self.bytes -= job.request_len();
        let (index, place) = (self.worker.index, &mut self.worker.place);
        let worker = place.as_mut().expect("in flight on a live worker");
        // The calling thread's own subscriber and span are the caller's.
        let msg = match recv_answer(&mut *worker.channel, None, job.id) {
            Ok(Some(msg)) => msg,
            Ok(None) => return Err(self.lost(job, watch, Broke::Link(None))),
            Err(error) => return Err(self.lost(job, watch, Broke::Link(Some(error)))),
        };
        if codec::is_dying(&msg) {
            let error = match codec::decode(&msg) {
                Ok(Message::Dying { seq, panic }) if seq == job.tasks.index(0) as u64 => {
                    Error::Panicked {
                        id: job.id.to_owned(),
                        panic: Box::new(panic),
                        context: CallContext::default(),
                    }
                }
                _ => return Err(self.lost(job, watch, Broke::Garbage)),
            };
            let error = dying(place, index, watch, error);
            job.finish(None, [Err(error)]);
            return Err(self.in_flight.drain(..).collect());
        }
        let Ok((mut answered, wanted)) = parse_response(msg, &job) else {
            return Err(self.lost(job, watch, Broke::Garbage));
        };
        // Large results follow their response.
        for (at, lens) in wanted {
            for len in lens {
                let buf = match spare.receive(len, |b| worker.channel.recv_into(b)) {
                    Ok(buf) => buf,
                    Err(broke) => return Err(self.lost(job, watch, broke)),
                };
                if let (_, Ok(reply)) = &mut answered.each_mut()[at] {
                    reply.detached.push(buf);
                }
            }
        }
        catch_up(worker, &mut answered);
        worker.tasks += 1;
        let now = Instant::now();
        let per_task = now.saturating_duration_since(self.head_since);
        self.head_since = now;
        job.finish_answered(Some(per_task), answered);
        Ok(())
    }

    /// The link broke while `job` ran: it fails with the reason, the worker
    /// is retired, and the requests after it are returned.
    fn lost(&mut self, job: Job, watch: &Watch, broke: Broke) -> Vec<Job> {
        let (index, place) = (self.worker.index, &mut self.worker.place);
        let error = broken(place, index, watch, job.id, broke);
        job.finish(None, [Err(error)]);
        self.in_flight.drain(..).collect()
    }
}
