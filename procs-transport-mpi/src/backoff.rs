//! The pacing of MPI polls: a short spin, then sleeps, so that a quick
//! answer is seen at once and a slow one costs no CPU to speak of.

use std::time::Duration;

use procs_core::transport::Backoff;

/// How long a wait polls without sleeping (yielding the core between
/// polls): answers that take less than this arrive within microseconds.
const SPIN: Duration = Duration::from_micros(50);
/// The first sleep after the spin.
const FIRST: Duration = Duration::from_micros(20);
/// The longest sleep: the latency an idle link adds, against a thousand
/// wake-ups a second (a fraction of a percent of one core).
const LONGEST: Duration = Duration::from_millis(1);

/// Polls for 50 µs, then sleeps 20 µs, doubling up to 1 ms.
pub(crate) fn backoff() -> Backoff {
    Backoff::new(SPIN, FIRST, LONGEST)
}
