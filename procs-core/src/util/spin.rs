//! Waiting on a channel that is likely to be answered within microseconds.
//!
//! A parked thread costs a wake-up to resume, and on a small VM a wake-up
//! across CPUs costs tens of microseconds: more than a whole round trip to a
//! warm worker. So the two threads that hand work back and forth (the caller
//! waiting for a result, a slot waiting for the next job) first poll briefly,
//! yielding the CPU between polls so that a worker that needs it gets it,
//! and park only if nothing came.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvError, TryRecvError};

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
    /// A signal on the other channel, with nothing received.
    Woken,
}

/// Like [`recv`], but also returns when `wake` has a signal (taking it);
/// a value ready on `rx`, or its end, comes first.
pub(crate) fn recv_or_woken<T>(rx: &Receiver<T>, wake: &Receiver<()>) -> Next<T> {
    let mut backoff = Backoff::new(POLL, Duration::ZERO, Duration::ZERO);
    loop {
        match rx.try_recv() {
            Ok(value) => return Next::Recv(Ok(value)),
            Err(TryRecvError::Disconnected) => return Next::Recv(Err(RecvError)),
            Err(TryRecvError::Empty) => {}
        }
        if wake.try_recv().is_ok() {
            return Next::Woken;
        }
        if backoff.spun() {
            return crossbeam_channel::select! {
                recv(rx) -> value => Next::Recv(value),
                // Both may be ready, and `select!` picks at random.
                recv(wake) -> _ => match rx.try_recv() {
                    Ok(value) => Next::Recv(Ok(value)),
                    Err(TryRecvError::Disconnected) => Next::Recv(Err(RecvError)),
                    Err(TryRecvError::Empty) => Next::Woken,
                },
            };
        }
        backoff.wait();
    }
}
