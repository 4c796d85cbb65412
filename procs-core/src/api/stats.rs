//! `Pool::stats`: a snapshot of what a pool is doing and has done.

use crate::api::pool::Pool;
use crate::pool::stats::{Counts, resident_bytes};

/// A snapshot of a pool's calls and workers, taken by [`Pool::stats`].
///
/// Call counts cover every call made on the pool since it started, through
/// any handle: a call is *queued* until a worker's thread takes it, then
/// *running* until it is answered, then counted once under its outcome.
/// A call that is retried or re-run after its worker died is counted once,
/// by its final outcome. Counts are read without stopping the pool, so two
/// snapshots taken while calls run may differ by calls in progress.
///
/// # Examples
///
/// A progress bar over a `pmap`, with the [indicatif] crate (the
/// `progress` example runs it):
///
/// ```no_run
/// use procs_core::Pool;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = Pool::builder().workers(2).build()?;
/// let inputs = 0..1000u64;
/// let bar = indicatif::ProgressBar::new(inputs.end);
/// let mut sum = 0;
/// for square in pool.pmap(square, inputs) {
///     sum += square?;
///     let stats = pool.stats();
///     bar.set_position(stats.done());
///     bar.set_message(format!("{} running, {} workers", stats.running, stats.workers_alive));
/// }
/// bar.finish();
/// # Ok::<(), procs_core::Error>(())
/// ```
///
/// [indicatif]: https://docs.rs/indicatif
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Calls waiting for a worker.
    pub queued: u64,
    /// Calls given to a worker and not answered yet.
    pub running: u64,
    /// Calls that returned a value.
    pub succeeded: u64,
    /// Calls that failed, by kind.
    pub failed: Failures,
    /// Calls answered with [`Error::PoolClosed`](crate::Error::PoolClosed):
    /// dropped by their caller before they ran, or cut short by
    /// [`Pool::kill`] or [`Pool::shutdown`].
    pub cancelled: u64,
    /// Worker processes alive now (spawned ones; workers a pool attaches
    /// to have no process of its own to count).
    pub workers_alive: u64,
    /// Workers started since the pool started, replacements included.
    pub workers_started: u64,
    /// Workers started to replace one that died, was killed on a deadline
    /// or was recycled.
    pub workers_replaced: u64,
    /// Each live spawned worker, with its memory, in no particular order.
    pub workers: Vec<WorkerStats>,
}

/// Failed calls of a [`PoolStats`], by kind.
///
/// # Examples
///
/// ```
/// let failed = procs_core::Failures::default();
/// assert_eq!(failed.total(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failures {
    /// Calls that panicked ([`Error::Panicked`](crate::Error::Panicked)).
    pub panicked: u64,
    /// Calls whose worker died or was lost under them
    /// ([`Error::WorkerDied`](crate::Error::WorkerDied),
    /// [`Error::WorkerLost`](crate::Error::WorkerLost)).
    pub died: u64,
    /// Calls that ran past their deadline
    /// ([`Error::Timeout`](crate::Error::Timeout)).
    pub timed_out: u64,
    /// Calls that failed otherwise: encoding, decoding, size limits, unknown
    /// functions, spawn or transport failures.
    pub other: u64,
}

impl Failures {
    /// Every failed call.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(procs_core::Failures::default().total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.panicked + self.died + self.timed_out + self.other
    }
}

/// One live worker process of a [`PoolStats`].
///
/// # Examples
///
/// ```no_run
/// for worker in procs_core::Pool::global().stats().workers {
///     println!("{}: {:?} bytes", worker.pid, worker.resident_bytes);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's process ID.
    pub pid: u32,
    /// Its resident memory (`/proc/PID/statm`) when the snapshot was taken;
    /// `None` where it cannot be read (not Linux, or the worker just ended).
    pub resident_bytes: Option<u64>,
}

impl PoolStats {
    /// Calls answered, whatever the outcome: succeeded, failed or
    /// cancelled. With the number of calls made, what a progress bar shows.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(procs_core::PoolStats::default().done(), 0);
    /// ```
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed.total() + self.cancelled
    }
}

impl Pool {
    /// A snapshot of the pool's calls and workers: how many calls are
    /// queued, running and answered (by outcome), how many workers are
    /// alive, were started and replaced, and each live worker's resident
    /// memory.
    ///
    /// Cheap enough to call after every result: the counters are atomics
    /// the call path bumps without a lock; only the memory figures read a
    /// file per worker.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::{proc, Pool};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let pool = Pool::builder().workers(2).build()?;
    /// pool.call(proc!(double(21)))?;
    /// let stats = pool.stats();
    /// assert_eq!((stats.succeeded, stats.running), (1, 0));
    /// println!("{stats:#?}");
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        let shared = self.shared();
        let Counts {
            queued,
            running,
            succeeded,
            panicked,
            died,
            timed_out,
            cancelled,
            other,
            workers_started,
            workers_replaced,
        } = shared.counters().read();
        let workers: Vec<_> = shared
            .worker_pids()
            .into_iter()
            .map(|pid| WorkerStats {
                pid,
                resident_bytes: resident_bytes(pid),
            })
            .collect();
        PoolStats {
            queued,
            running,
            succeeded,
            failed: Failures {
                panicked,
                died,
                timed_out,
                other,
            },
            cancelled,
            workers_alive: workers.len() as u64,
            workers_started,
            workers_replaced,
            workers,
        }
    }
}
