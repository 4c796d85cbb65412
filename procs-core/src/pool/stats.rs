//! The pool's counters behind `Pool::stats`: monotonic atomics bumped where
//! a call enters the queue, leaves it for a worker and is answered, so that
//! the call path takes no lock for them. The gauges (queued, running) are
//! differences of counters, read in the reverse order of a call's progress
//! so that a snapshot never shows a call in two places.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::Error;
use crate::pool::job::Reply;

/// Every counter of one pool.
#[derive(Debug)]
pub(crate) struct Counters {
    /// Calls handed to the pool.
    submitted: AtomicU64,
    /// Calls that left the queue for a worker (or were answered without
    /// ever waiting in it).
    taken: AtomicU64,
    succeeded: AtomicU64,
    panicked: AtomicU64,
    died: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
    other: AtomicU64,
    workers_started: AtomicU64,
    workers_replaced: AtomicU64,
    /// Whether each slot has started a worker before: its next start is a
    /// replacement.
    slot_started: Box<[AtomicBool]>,
}

/// The counters, read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) queued: u64,
    pub(crate) running: u64,
    pub(crate) succeeded: u64,
    pub(crate) panicked: u64,
    pub(crate) died: u64,
    pub(crate) timed_out: u64,
    pub(crate) cancelled: u64,
    pub(crate) other: u64,
    pub(crate) workers_started: u64,
    pub(crate) workers_replaced: u64,
}

impl Counters {
    pub(crate) fn new(slots: usize) -> Counters {
        Counters {
            submitted: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            died: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            other: AtomicU64::new(0),
            workers_started: AtomicU64::new(0),
            workers_replaced: AtomicU64::new(0),
            slot_started: (0..slots).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// `n` calls were handed to the pool.
    pub(crate) fn submitted(&self, n: usize) {
        self.submitted.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` calls left the queue: a slot took them, or they were answered
    /// before they could wait in it.
    pub(crate) fn taken(&self, n: usize) {
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` calls that had left the queue went back to it (their worker
    /// died before they started).
    pub(crate) fn returned(&self, n: usize) {
        self.taken.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// A call was answered for good.
    pub(crate) fn answered(&self, result: &Result<Reply, Error>) {
        let counter = match result {
            Ok(_) => &self.succeeded,
            Err(Error::Panicked { .. }) => &self.panicked,
            Err(Error::WorkerDied { .. } | Error::WorkerLost { .. }) => &self.died,
            Err(Error::Timeout { .. }) => &self.timed_out,
            Err(Error::PoolClosed) => &self.cancelled,
            Err(_) => &self.other,
        };
        // Release: a snapshot that sees the answer also sees the call taken.
        counter.fetch_add(1, Ordering::Release);
    }

    /// `n` calls were answered for good with a value: one count for a
    /// batch's run of answers, not one per call (two slots bumping one
    /// counter per call would trade its cache line between CPUs).
    pub(crate) fn answered_values(&self, n: usize) {
        self.succeeded.fetch_add(n as u64, Ordering::Release);
    }

    /// Slot `slot` started a worker.
    pub(crate) fn worker_started(&self, slot: usize) {
        self.workers_started.fetch_add(1, Ordering::Relaxed);
        let before = self
            .slot_started
            .get(slot)
            .is_some_and(|s| s.swap(true, Ordering::Relaxed));
        if before {
            self.workers_replaced.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn read(&self) -> Counts {
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        // Answers first, submissions last: a call counted as answered was
        // taken and submitted before, so the differences stay non-negative.
        let succeeded = load(&self.succeeded);
        let panicked = load(&self.panicked);
        let died = load(&self.died);
        let timed_out = load(&self.timed_out);
        let cancelled = load(&self.cancelled);
        let other = load(&self.other);
        let answered = succeeded + panicked + died + timed_out + cancelled + other;
        let taken = load(&self.taken);
        let submitted = load(&self.submitted);
        Counts {
            queued: submitted.saturating_sub(taken),
            running: taken.saturating_sub(answered),
            succeeded,
            panicked,
            died,
            timed_out,
            cancelled,
            other,
            workers_started: load(&self.workers_started),
            workers_replaced: load(&self.workers_replaced),
        }
    }
}

/// The resident memory of process `pid` in bytes (`/proc/PID/statm`), if
/// it can be read.
pub(crate) fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|&p| p > 0)?)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn gauges_follow_a_call_through_the_pool() {
        let counters = Counters::new(1);
        counters.submitted(3);
        assert_eq!((counters.read().queued, counters.read().running), (3, 0));
        counters.taken(2);
        assert_eq!((counters.read().queued, counters.read().running), (1, 2));
        counters.answered(&Err(Error::PoolClosed));
        let counts = counters.read();
        assert_eq!((counts.queued, counts.running, counts.cancelled), (1, 1, 1));
    }

    #[test]
    fn a_slot_s_second_worker_is_a_replacement() {
        let counters = Counters::new(2);
        counters.worker_started(0);
        counters.worker_started(1);
        counters.worker_started(0);
        let counts = counters.read();
        assert_eq!((counts.workers_started, counts.workers_replaced), (3, 1));
    }

    #[test]
    fn this_process_has_resident_memory() {
        assert!(resident_bytes(std::process::id()).is_some_and(|b| b > 0));
    }
}
