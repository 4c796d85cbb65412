//! A single call on an idle worker, made by the calling thread itself.
//!
//! A call through the queue crosses three threads (caller, slot, worker):
//! two hand-offs more than a plain round trip, and on a small VM each
//! wake-up across CPUs costs tens of microseconds, more than the round trip
//! itself. So a slot with nothing to do lends its worker here before it
//! waits for work; a caller with one plain call (no deadline) borrows an idle
//! worker, writes the request and reads the answer itself, and gives the
//! worker back. A slot takes its worker back before it runs anything else;
//! a job that comes while a caller has it goes back to the queue (see
//! `slot/idle.rs`).
//!
//! What the slot would do on a failure, the caller does here: it retires the
//! worker, flags it for the slot (which starts a replacement within 200 ms,
//! so the pool keeps its size while callers keep it busy) and reports the
//! death or the broken channel exactly as the slot would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use crate::util::sync::lock;

use crate::error::{CallContext, Error};
use crate::pool::job::Reply;
use crate::pool::launch::{Worker, lost_reason, retire};
use crate::pool::output::record_tail;
use crate::pool::spec::Spec;
use crate::pool::stats::Counters;
use crate::pool::trace::recv_answer;
use crate::pool::watch::Watch;
use crate::wire::Broke;
use crate::wire::codec::{self, Message};
use crate::wire::spare::Spare;

/// The workers lent by idle slots, one place per slot.
pub(crate) struct Lent {
    places: Box<[Mutex<Option<Worker>>]>,
    /// Per place, whether a caller may have retired the worker lent there.
    retired: Box<[AtomicBool]>,
    counters: Arc<Counters>,
}

impl Lent {
    pub(crate) fn new(slots: usize, counters: Arc<Counters>) -> Lent {
        Lent {
            places: (0..slots).map(|_| Mutex::new(None)).collect(),
            retired: (0..slots).map(|_| AtomicBool::new(false)).collect(),
            counters,
        }
    }

    /// Lends the idle worker of slot `index`.
    pub(crate) fn lend(&self, index: usize, worker: Worker) {
        *lock(&self.places[index]) = Some(worker);
    }

    /// Takes the worker of slot `index` back, waiting for a caller using it;
    /// `None` if a caller retired it.
    pub(crate) fn reclaim(&self, index: usize) -> Option<Worker> {
        lock(&self.places[index]).take()
    }

    /// Takes the worker of slot `index` back unless a caller is using it
    /// now: `Err(())` then. `Ok(None)` if a caller retired it.
    pub(crate) fn try_reclaim(&self, index: usize) -> Result<Option<Worker>, ()> {
        match self.places[index].try_lock() {
            Ok(mut place) => Ok(place.take()),
            Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner().take()),
            Err(TryLockError::WouldBlock) => Err(()),
        }
    }

    /// Whether a caller may have retired the worker slot `index` lent,
    /// since the slot last asked.
    pub(crate) fn take_retired(&self, index: usize) -> bool {
        // Polled while the slot spins: a load keeps the flag's cache line
        // shared until there is something to take.
        let flag = &self.retired[index];
        flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::Acquire)
    }

    /// Tells slot `index` that its lent worker may be gone; a slot that
    /// finds it alive only lends it again.
    pub(crate) fn tell_retired(&self, index: usize) {
        self.retired[index].store(true, Ordering::Release);
    }

    /// Every idle worker with room for a task under `max_tasks`, each in
    /// its place, held until the guard is dropped.
    pub(crate) fn borrow_idle(&self, max_tasks: Option<usize>) -> Vec<Borrowed<'_>> {
        let mut borrowed = Vec::new();
        for (index, place) in self.places.iter().enumerate() {
            let Ok(guard) = place.try_lock() else {
                continue;
            };
            if guard
                .as_ref()
                .is_some_and(|worker| max_tasks.is_none_or(|max| worker.tasks < max))
            {
                borrowed.push(Borrowed {
                    index,
                    place: guard,
                });
            }
        }
        borrowed
    }

    /// The pool's counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Runs `spec` on an idle worker, or gives it back if none is idle.
    #[allow(
        clippy::result_large_err,
        reason = "a spec given back is moved, not copied; boxing it would cost an allocation per call"
    )]
    pub(crate) fn call(
        &self,
        spec: Spec,
        watch: &Watch,
        max_message_size: usize,
        max_tasks: Option<usize>,
    ) -> Result<Result<Reply, Error>, Spec> {
        for (index, place) in self.places.iter().enumerate() {
            let Ok(mut guard) = place.try_lock() else {
                continue;
            };
            let Some(worker) = guard.as_mut() else {
                continue;
            };
            if max_tasks.is_some_and(|max| worker.tasks >= max) {
                continue;
            }
            // Running from here on; the caller counts the answer.
            self.counters.submitted(1);
            self.counters.taken(1);
            let result = call_on(guard, index, spec, watch, max_message_size);
            if result.is_err() && lock(place).is_none() {
                self.tell_retired(index);
            }
            return Ok(result);
        }
        Err(spec)
    }
}

/// A lent worker in its place, which a caller holds.
pub(crate) struct Borrowed<'a> {
    /// The slot that lent it.
    pub(crate) index: usize,
    /// `Some` until the caller retires the worker.
    pub(crate) place: MutexGuard<'a, Option<Worker>>,
}

fn call_on(
    guard: MutexGuard<'_, Option<Worker>>,
    index: usize,
    mut spec: Spec,
    watch: &Watch,
    max_message_size: usize,
) -> Result<Reply, Error> {
    exchange(guard, index, &mut spec, watch, max_message_size).map_err(|mut error| {
        // As a job records it: the call, for `Error::replay`.
        error.record_replay(spec.id, spec.args);
        error
    })
}

fn exchange(
    mut guard: MutexGuard<'_, Option<Worker>>,
    index: usize,
    spec: &mut Spec,
    watch: &Watch,
    max_message_size: usize,
) -> Result<Reply, Error> {
    let id = spec.id;
    let mut request = Vec::new();
    let call = std::iter::once((0, &spec.args));
    let detached = codec::encode_calls(&mut request, id, None, call, true);
    let size = codec::largest_message(&request, &detached);
    if size > max_message_size {
        return Err(Error::TooLarge {
            id: id.to_owned(),
            size: size as u64,
            limit: max_message_size as u64,
        });
    }
    let worker = guard.as_mut().expect("checked by the caller");
    let output = worker.output.clone();
    if let Some(output) = &output {
        output.mark();
    }
    match round_trip(worker, &request, spec) {
        Ok(Answer::Ran(mut result)) => {
            worker.tasks += 1;
            // What the call printed goes out before its result.
            if let Some(output) = &output {
                output.catch_up();
            }
            if let Err(error) = &mut result {
                record_tail(error, output.as_ref());
            }
            result
        }
        Ok(Answer::Dying(error)) => Err(dying(&mut guard, index, watch, error)),
        Err(broke) => Err(broken(&mut guard, index, watch, id, broke)),
    }
}

/// Retires the lent worker in `place`, aborting after the call it ran
/// panicked (`error`): its death is the panic's, already reported.
pub(crate) fn dying(
    place: &mut MutexGuard<'_, Option<Worker>>,
    index: usize,
    watch: &Watch,
    mut error: Error,
) -> Error {
    // Reaped before the place is free again, as below.
    let worker = place.take().expect("still lent");
    let output = worker.output.clone();
    let _ = retire(worker, watch, index, false);
    record_tail(&mut error, output.as_ref());
    error
}

/// Retires the lent worker in `place`, whose link broke while it ran a
/// call of `id`, and makes that call's error: its death if it exited on its
/// own, a transport failure if it had to be killed.
pub(crate) fn broken(
    place: &mut MutexGuard<'_, Option<Worker>>,
    index: usize,
    watch: &Watch,
    id: &str,
    broke: Broke,
) -> Error {
    // Reaped before the place is free again: a pool shut down or killed
    // meanwhile waits for this, so it never returns with a child left.
    let worker = place.take().expect("still lent");
    let output = worker.output.clone();
    let (error, garbage) = match broke {
        Broke::Link(error) => (error, false),
        Broke::Garbage => (None, true),
    };
    let garbage = garbage
        || error
            .as_deref()
            .is_some_and(crate::pool::launch::is_protocol_error);
    let (retired, killed) = retire(worker, watch, index, garbage);
    if killed.is_some() || watch.is_pool_killed() {
        return Error::PoolClosed;
    }
    if garbage && error.is_none() {
        return Error::Malformed("response");
    }
    let mut error = lost_reason(id, error, retired, false, garbage);
    record_tail(&mut error, output.as_ref());
    error
}

/// What came back for a call.
enum Answer {
    /// The call ran: its result or its failure; the worker lives on.
    Ran(Result<Reply, Error>),
    /// The call panicked under `panic = "abort"`: the worker is aborting.
    Dying(Error),
}

/// Sends the request and its detached buffers, and reads the answer: the
/// call's outcome, or how the link broke.
fn round_trip(worker: &mut Worker, request: &[u8], spec: &mut Spec) -> Result<Answer, Broke> {
    let channel = &mut *worker.channel;
    channel.send(request).map_err(|e| Broke::Link(Some(e)))?;
    for buf in &spec.args.detached {
        channel.send(buf).map_err(|e| Broke::Link(Some(e)))?;
    }
    // The calling thread's own subscriber and span are the caller's.
    let msg = match recv_answer(channel, None, spec.id) {
        Ok(Some(msg)) => Arc::new(msg),
        Ok(None) => return Err(Broke::Link(None)),
        Err(error) => return Err(Broke::Link(Some(error))),
    };
    let outcome = match codec::decode(&msg) {
        Ok(Message::Dying { seq: 0, panic }) => {
            return Ok(Answer::Dying(Error::Panicked {
                id: spec.id.to_owned(),
                panic: Box::new(panic),
                context: CallContext::default(),
            }));
        }
        Ok(Message::Response(outcomes)) if outcomes.len() == 1 => {
            outcomes.into_iter().next().expect("one")
        }
        _ => return Err(Broke::Garbage),
    };
    if outcome.seq != 0 {
        return Err(Broke::Garbage);
    }
    let (bytes, lens) = match outcome.result {
        Ok(value) => value,
        Err(failure) => return Ok(Answer::Ran(Err(failure.into_error(spec.id)))),
    };
    let start = bytes.as_ptr() as usize - msg.as_ptr() as usize;
    let range = start..start + bytes.len();
    let lens: Vec<u64> = lens.iter().collect();
    let mut reply = Reply::new(msg.clone(), range);
    // The call ran and will not run again: its large arguments can take its
    // large results.
    let mut spare = Spare::default();
    for buf in std::mem::take(&mut spec.args.detached) {
        spare.give(buf);
    }
    for len in lens {
        reply
            .detached
            .push(spare.receive(len, |b| channel.recv_into(b))?);
    }
    Ok(Answer::Ran(Ok(reply)))
}
