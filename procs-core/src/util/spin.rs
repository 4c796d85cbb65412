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
