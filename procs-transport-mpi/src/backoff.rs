//! Waiting between polls: a short spin, then sleeps, so that a quick answer
//! is seen at once and a slow one costs no CPU to speak of.

use std::thread;
use std::time::{Duration, Instant};

/// How long a wait polls without sleeping (yielding the core between
/// polls): answers that take less than this arrive within microseconds.
const SPIN: Duration = Duration::from_micros(50);
/// The first sleep after the spin.
const FIRST: Duration = Duration::from_micros(20);
/// The longest sleep: the latency an idle link adds, against a thousand
/// wake-ups a second (a fraction of a percent of one core).
const LONGEST: Duration = Duration::from_millis(1);

/// Polls for 50 µs, then sleeps 20 µs, doubling up to 1 ms.
pub(crate) struct Backoff {
    started: Instant,
    pause: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff {
            started: Instant::now(),
            pause: FIRST,
        }
    }

    /// Waits before the next poll: yields the core while spinning, then
    /// sleeps, each sleep twice the last.
    pub(crate) fn wait(&mut self) {
        if self.started.elapsed() < SPIN {
            thread::yield_now();
            return;
        }
        thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(LONGEST);
    }
}
