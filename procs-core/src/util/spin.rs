//! Waiting on a channel that is likely to be answered within microseconds.
//!
//! A parked thread costs a wake-up to resume, and on a small VM a wake-up
//! across CPUs costs tens of microseconds: more than a whole round trip to a
//! warm worker. So the two threads that hand work back and forth (the caller
//! waiting for a result, a slot waiting for the next job) first poll briefly,
//! yielding the CPU between polls so that a worker that needs it gets it,
//! and park only if nothing came.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvError, RecvTimeoutError, TryRecvError};

use crate::util::backoff::Backoff;

/// How long to poll before parking: a few warm round trips.
const POLL: Duration = Duration::from_micros(60);

/// Like [`Receiver::recv`], polling for [`POLL`] first.
pub(crate) fn recv<T>(rx: &Receiver<T>) -> Result<T, RecvError> {
    let mut backoff = Backoff::new(POLL, Duration::ZERO, Duration::ZERO);
    loop {
        match rx.try_recv() {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) => {}
        }
        if backoff.spun() {
            return rx.recv();
        }
        backoff.wait();
    }
}

/// What [`recv_or_woken`] got.
pub(crate) enum Next<T> {
    /// A value, or the channel's end.
    Recv(Result<T, RecvError>),
    /// `woken` said so, with nothing received.
    Woken,
}

/// The first and the longest park of [`recv_or_woken`] between two looks
/// at `woken`.
const LOOK_FIRST: Duration = Duration::from_millis(5);
const LOOK_MAX: Duration = Duration::from_millis(200);

/// Like [`recv`], but also returns when `woken()` says so; a value ready
/// on `rx`, or its end, comes first.
///
/// A parked receiver looks at `woken` only every so often (from 5 ms,
/// doubling up to 200 ms; Python's `multiprocessing.Pool` looks at its
/// workers every 100 ms): parking on a second channel with `select!`
/// instead cost the batched case 5% of its rate, for an event as rare as a
/// worker's death.
pub(crate) fn recv_or_woken<T>(rx: &Receiver<T>, woken: impl Fn() -> bool) -> Next<T> {
    let mut backoff = Backoff::new(POLL, Duration::ZERO, Duration::ZERO);
    loop {
        match rx.try_recv() {
            Ok(value) => return Next::Recv(Ok(value)),
            Err(TryRecvError::Disconnected) => return Next::Recv(Err(RecvError)),
            Err(TryRecvError::Empty) => {}
        }
        if woken() {
            return Next::Woken;
        }
        if backoff.spun() {
            break;
        }
        backoff.wait();
    }
    let mut park = LOOK_FIRST;
    loop {
        match rx.recv_timeout(park) {
            Ok(value) => return Next::Recv(Ok(value)),
            Err(RecvTimeoutError::Disconnected) => return Next::Recv(Err(RecvError)),
            Err(RecvTimeoutError::Timeout) if woken() => return Next::Woken,
            Err(RecvTimeoutError::Timeout) => park = (park * 2).min(LOOK_MAX),
        }
    }
}
