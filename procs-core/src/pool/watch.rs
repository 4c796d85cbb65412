//! The watchdog: kills a worker (with its process group) whose task outlived
//! its deadline, whose caller stopped listening, or whose pool was killed.
//! Calls' own deadlines are enforced inside the worker
//! (`worker/watchdog.rs`); for them this is the backstop, for a worker that
//! cannot report (see `slot::backstop`).
//!
//! A slot thread blocks in `recv` while its worker runs; the only portable
//! way to interrupt it is to kill the worker, which makes `recv` return. The
//! watchdog is one thread per pool that sleeps until the earliest deadline
//! (or a wake-up) and does that killing, recording why so the slot can report
//! a timeout instead of a crash.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::pool::job::CancelFlag;

/// Why the watchdog killed a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Killed {
    /// The task ran past its deadline; the duration is its timeout.
    Deadline(Duration),
    /// The worker did not finish its handshake in time.
    Handshake(Duration),
    /// The caller dropped its results.
    Cancelled,
    /// The pool was killed.
    Pool,
}

#[derive(Default)]
struct Entry {
    /// The live worker's pid; cleared by the slot *before* it reaps, so the
    /// watchdog never signals a pid that may have been reused.
    pid: Option<u32>,
    deadline: Option<(Instant, Killed)>,
    cancel: Option<CancelFlag>,
    killed: Option<Killed>,
}

struct State {
    entries: Vec<Entry>,
    /// When the watchdog looks again by itself; `None` while it waits for a
    /// wake-up. A deadline no earlier needs no wake-up: batches of timed
    /// calls begin a watch per request, and waking the thread for each
    /// would cost a context switch per request for nothing.
    looks_at: Option<Instant>,
    pool_killed: bool,
    stopped: bool,
}

pub(crate) struct Watch {
    state: Mutex<State>,
    wake: Condvar,
}

impl Watch {
    /// Starts the watchdog thread for `slots` slots.
    pub(crate) fn start(slots: usize) -> std::io::Result<Arc<Watch>> {
        let watch = Arc::new(Watch {
            state: Mutex::new(State {
                entries: (0..slots).map(|_| Entry::default()).collect(),
                looks_at: None,
                pool_killed: false,
                stopped: false,
            }),
            wake: Condvar::new(),
        });
        let watchdog = watch.clone();
        thread::Builder::new()
            .name("procs-watchdog".into())
            .spawn(move || watchdog.run())?;
        Ok(watch)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update
        // is a single assignment.
        crate::util::sync::lock(&self.state)
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return;
            }
            let now = Instant::now();
            let pool_killed = state.pool_killed;
            let mut next: Option<Instant> = None;
            let mut watching_cancel = false;
            for entry in &mut state.entries {
                let Some(pid) = entry.pid else { continue };
                if entry.killed.is_some() {
                    continue;
                }
                let reason = if pool_killed {
                    Some(Killed::Pool)
                } else if entry
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::Relaxed))
                {
                    Some(Killed::Cancelled)
                } else {
                    match entry.deadline {
                        Some((at, why)) if at <= now => Some(why),
                        Some((at, _)) => {
                            next = Some(next.map_or(at, |n| n.min(at)));
                            None
                        }
                        None => None,
                    }
                };
                watching_cancel |= entry.cancel.is_some();
                if let Some(reason) = reason {
                    // The worker and its group: `pid` is our unreaped
                    // child (see `Entry::pid`), so neither id was reused.
                    crate::pool::launch::kill_group(pid);
                    entry.killed = Some(reason);
                }
            }
            // Cancellation is normally announced by `notify`; the poll is a
            // backstop, bounded so a forgotten wake-up costs little.
            let poll = watching_cancel.then(|| now + Duration::from_millis(100));
            let until = match (next, poll) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            state.looks_at = until;
            state = match until {
                Some(at) => {
                    let timeout = at.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(state, timeout)
                        .map_or_else(|p| p.into_inner().0, |r| r.0)
                }
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }

    /// Wakes the watchdog to look again (a call was cancelled).
    pub(crate) fn notify(&self) {
        self.wake.notify_one();
    }

    /// Records the live worker of `slot`, with a handshake deadline.
    pub(crate) fn spawned(&self, slot: usize, pid: u32, handshake: Duration) {
        let mut state = self.lock();
        let entry = &mut state.entries[slot];
        *entry = Entry {
            pid: Some(pid),
            deadline: Some((Instant::now() + handshake, Killed::Handshake(handshake))),
            ..Entry::default()
        };
        drop(state);
        self.wake.notify_one();
    }

    /// Watches a task of `slot` from now on; `deadline` is how long it may
    /// run, and the timeout a kill reports.
    pub(crate) fn begin(
        &self,
        slot: usize,
        deadline: Option<(Duration, Duration)>,
        cancel: Option<&CancelFlag>,
    ) {
        let mut state = self.lock();
        let at = deadline.map(|(after, _)| Instant::now() + after);
        let entry = &mut state.entries[slot];
        entry.deadline = deadline
            .zip(at)
            .map(|((_, timeout), at)| (at, Killed::Deadline(timeout)));
        entry.cancel = cancel.cloned();
        // A call dropped before its task got here announced it while no
        // slot watched its flag: the watchdog may sleep with no deadline.
        let cancelled = cancel.is_some_and(|c| c.load(Ordering::SeqCst));
        let sooner = at.is_some_and(|at| state.looks_at.is_none_or(|looks| at < looks));
        drop(state);
        if sooner || cancelled {
            self.wake.notify_one();
        }
    }

    /// Stops watching the task of `slot`; says whether, and why, its worker
    /// was killed meanwhile.
    pub(crate) fn end(&self, slot: usize) -> Option<Killed> {
        let mut state = self.lock();
        let entry = &mut state.entries[slot];
        entry.deadline = None;
        entry.cancel = None;
        entry.killed
    }

    /// The worker of `slot` is about to be reaped: never signal it again.
    pub(crate) fn forget(&self, slot: usize) -> Option<Killed> {
        let mut state = self.lock();
        std::mem::take(&mut state.entries[slot]).killed
    }

    /// The pids of the live workers, for statistics.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.lock().entries.iter().filter_map(|e| e.pid).collect()
    }

    /// Kills every worker now and from now on.
    pub(crate) fn kill_all(&self) {
        self.lock().pool_killed = true;
        self.wake.notify_one();
    }

    pub(crate) fn is_pool_killed(&self) -> bool {
        self.lock().pool_killed
    }

    /// Ends the watchdog thread.
    pub(crate) fn stop(&self) {
        self.lock().stopped = true;
        self.wake.notify_one();
    }
}
