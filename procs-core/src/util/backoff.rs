//! Waiting for something that is likely to happen within microseconds: poll
//! without sleeping for a short while, then sleep between polls, each sleep
//! longer than the last.
//!
//! A parked or sleeping thread costs a wake-up to resume, and on a small VM
//! a wake-up across CPUs costs tens of microseconds: more than a whole round
//! trip to a warm worker. So a quick answer should find the waiter awake,
//! and a slow one should cost no CPU to speak of.

use std::thread;
use std::time::{Duration, Instant};

/// Paces a polling loop: spins (yielding the CPU after the first few polls,
/// so that a peer on the same CPU gets to run) until `spin` has passed, then
/// sleeps, starting at `first_sleep` and doubling up to `longest_sleep`.
///
/// Every waiting loop in procs and its transports goes through this, so
/// that they share one tuning and one place to change it.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use procs_core::transport::Backoff;
///
/// let ready = AtomicBool::new(false);
/// std::thread::scope(|s| {
///     s.spawn(|| ready.store(true, Ordering::Release));
///     let mut backoff = Backoff::new(
///         Duration::from_micros(50),
///         Duration::from_micros(20),
///         Duration::from_millis(1),
///     );
///     while !ready.load(Ordering::Acquire) {
///         backoff.wait();
///     }
/// });
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    started: Instant,
    spin: Duration,
    pause: Duration,
    longest: Duration,
    polls: u32,
}

/// Polls that only spin the CPU before yielding it: a handful of
/// nanoseconds each, for answers that are already on their way.
const BUSY_POLLS: u32 = 32;

impl Backoff {
    /// A backoff that spins for `spin`, then sleeps `first_sleep`, doubling
    /// each time up to `longest_sleep`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procs_core::transport::Backoff;
    ///
    /// // Never spins: sleeps 50 µs, 100 µs, ... up to 20 ms.
    /// let reaping = Backoff::new(Duration::ZERO, Duration::from_micros(50), Duration::from_millis(20));
    /// assert!(reaping.spun());
    /// ```
    pub fn new(spin: Duration, first_sleep: Duration, longest_sleep: Duration) -> Backoff {
        Backoff {
            started: Instant::now(),
            spin,
            pause: first_sleep,
            longest: longest_sleep.max(first_sleep),
            polls: 0,
        }
    }

    /// Whether the spinning phase is over: a caller that can block instead
    /// of sleeping (a channel's `recv`) blocks from here on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procs_core::transport::Backoff;
    ///
    /// let backoff = Backoff::new(Duration::from_secs(60), Duration::ZERO, Duration::ZERO);
    /// assert!(!backoff.spun());
    /// ```
    pub fn spun(&self) -> bool {
        self.started.elapsed() >= self.spin
    }

    /// Waits before the next poll: spins or yields while spinning, then
    /// sleeps, each sleep twice the last (up to the longest).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use procs_core::transport::Backoff;
    ///
    /// let mut backoff = Backoff::new(Duration::ZERO, Duration::from_millis(1), Duration::from_millis(2));
    /// let start = Instant::now();
    /// backoff.wait();
    /// assert!(start.elapsed() >= Duration::from_millis(1));
    /// ```
    pub fn wait(&mut self) {
        self.polls = self.polls.saturating_add(1);
        if !self.spun() {
            if self.polls < BUSY_POLLS {
                std::hint::spin_loop();
            } else {
                thread::yield_now();
            }
            return;
        }
        thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(self.longest);
    }
}
