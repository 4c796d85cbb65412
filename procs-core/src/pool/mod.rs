//! The pool machinery: worker processes, the slot threads that drive them,
//! the calling thread's direct path, the watchdog, and the stream of jobs and
//! answers behind every `call` and `pmap`. `README.md` beside this file says
//! how the pieces fit and why they cannot deadlock.

pub(crate) mod burst;
pub(crate) mod caller;
pub(crate) mod cgroup;
pub(crate) mod direct;
pub(crate) mod job;
pub(crate) mod launch;
pub(crate) mod limits;
pub(crate) mod output;
pub(crate) mod retry;
pub(crate) mod slot;
pub(crate) mod source;
pub(crate) mod spec;
pub(crate) mod stats;
pub(crate) mod stream;
pub(crate) mod tasks;
pub(crate) mod trace;
pub(crate) mod watch;
pub(crate) mod window;

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::error::Error;
use crate::pool::job::{Job, Reply};
use crate::pool::retry::{Policy, Requeue, Retry};
use crate::pool::slot::{Slot, SlotConfig};
use crate::pool::spec::Spec;
use crate::pool::stats::Counters;
use crate::pool::watch::Watch;
use crate::util::sync::lock;

/// What every handle of one pool shares: its slots, its queue and its
/// settings.
pub(crate) struct Shared {
    workers: usize,
    settings: CallSettings,
    state: State,
    counters: Arc<Counters>,
}

/// What shapes each call's stream of jobs, as the builder set it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallSettings {
    /// Calls in flight or unconsumed per `call`; adaptive when `None`.
    pub(crate) window: Option<usize>,
    /// Calls per message; adaptive when `None`.
    pub(crate) chunk_size: Option<usize>,
    /// How failed calls are retried when their procs do not say.
    pub(crate) retry: Policy,
}

enum State {
    Running {
        /// Closed once the pool is shut down or killed.
        queue: Requeue,
        slots: Mutex<Vec<JoinHandle<()>>>,
        watch: Arc<Watch>,
        config: Arc<SlotConfig>,
    },
    /// The global pool could not start here (in a worker, or with no
    /// transport): every call yields this error.
    Refused(fn() -> Error),
}

impl Shared {
    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    pub(crate) fn settings(&self) -> &CallSettings {
        &self.settings
    }

    pub(crate) fn window(&self) -> Option<usize> {
        self.settings.window
    }

    pub(crate) fn chunk_size(&self) -> Option<usize> {
        self.settings.chunk_size
    }

    pub(crate) fn start(
        workers: usize,
        settings: CallSettings,
        config: SlotConfig,
    ) -> Result<Arc<Shared>, Error> {
        let (queue, jobs) = crossbeam_channel::unbounded();
        let queue = Requeue::new(queue);
        let watch = config.watch.clone();
        let counters = config.counters.clone();
        let config = Arc::new(config);
        let mut slots = Vec::with_capacity(workers);
        for index in 0..workers {
            let slot = Slot::new(index, config.clone(), jobs.clone(), queue.clone());
            let spawned = thread::Builder::new()
                .name(format!("procs-worker-{index}"))
                .spawn(move || slot.run());
            match spawned {
                Ok(handle) => slots.push(handle),
                Err(error) => {
                    // Dropping the queue stops the threads already started.
                    watch.stop();
                    return Err(Error::Spawn(error.into()));
                }
            }
        }
        let state = State::Running {
            queue,
            slots: Mutex::new(slots),
            watch,
            config,
        };
        Ok(Arc::new(Shared {
            workers,
            settings,
            state,
            counters,
        }))
    }

    /// Tells the watchdog that a call was cancelled, so that its running
    /// tasks are killed now rather than at the next poll.
    pub(crate) fn cancelled(&self) {
        if let State::Running { watch, .. } = &self.state {
            watch.notify();
        }
    }

    /// A pool that could not start here: every call yields `reason`.
    pub(crate) fn refused(reason: fn() -> Error) -> Arc<Shared> {
        Arc::new(Shared {
            workers: 0,
            settings: CallSettings::default(),
            state: State::Refused(reason),
            counters: Arc::new(Counters::new(0)),
        })
    }

    /// Runs one call on an idle worker from the calling thread, if the call
    /// and the pool allow it and a worker is idle; else gives it back.
    #[allow(
        clippy::result_large_err,
        reason = "a spec given back is moved, not copied; boxing it would cost an allocation per call"
    )]
    pub(crate) fn call_direct(&self, spec: Spec) -> Result<Result<Reply, Error>, Spec> {
        let State::Running { config, .. } = &self.state else {
            return Err(spec);
        };
        // A call that may be retried goes through a job, where retries are
        // decided.
        if !config.lends(spec.timeout) || self.retry_policy(spec.retry).retries > 0 {
            return Err(spec);
        }
        let max_tasks = config.max_tasks_per_worker.map(NonZeroUsize::get);
        let result = config
            .lent
            .call(spec, &config.watch, config.max_message_size, max_tasks)?;
        self.counters.answered(&result);
        Ok(result)
    }

    /// The pool's counters.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The pids of the live workers the pool spawned.
    pub(crate) fn worker_pids(&self) -> Vec<u32> {
        match &self.state {
            State::Running { watch, .. } => watch.pids(),
            State::Refused(_) => Vec::new(),
        }
    }

    /// The retry policy of a call, from its proc's settings and the pool's.
    pub(crate) fn retry_policy(&self, proc: spec::RetrySpec) -> Policy {
        Policy {
            retries: proc.retries.unwrap_or(self.settings.retry.retries),
            panics: proc.panics.unwrap_or(self.settings.retry.panics),
        }
    }

    /// The retry state of a new job of calls with these settings.
    pub(crate) fn retry(&self, proc: spec::RetrySpec) -> Option<Retry> {
        match &self.state {
            State::Running { queue, .. } => Retry::new(self.retry_policy(proc), queue),
            State::Refused(_) => None,
        }
    }

    /// Whether a stream's short one-call jobs may run in bursts on idle
    /// workers (`burst`): as a lone call may run on one (`direct`).
    pub(crate) fn bursts(&self) -> bool {
        matches!(&self.state, State::Running { config, .. } if config.lends(None))
    }

    /// Runs `jobs` in a burst on the idle workers (see [`burst`]); what it
    /// could not run goes through the queue.
    pub(crate) fn burst(&self, jobs: VecDeque<Job>) {
        let State::Running { config, queue, .. } = &self.state else {
            return jobs.into_iter().for_each(|job| self.submit(job));
        };
        let max_tasks = config.max_tasks_per_worker.map(NonZeroUsize::get);
        let left = burst::run(&config.lent, jobs, &config.watch, max_tasks);
        // Counted when they were sent, and older than the unsent ones.
        for job in left.returned {
            if let Err(unsent) = queue.send(job) {
                self.counters.taken(unsent.tasks.len());
                unsent.fail(|| Error::PoolClosed);
            }
        }
        left.unsent.into_iter().for_each(|job| self.submit(job));
    }

    pub(crate) fn submit(&self, job: Job) {
        self.counters.submitted(job.tasks.len());
        match &self.state {
            State::Running { queue, .. } => {
                if let Err(unsent) = queue.send(job) {
                    self.counters.taken(unsent.tasks.len());
                    unsent.fail(|| Error::PoolClosed);
                }
            }
            State::Refused(reason) => {
                self.counters.taken(job.tasks.len());
                job.fail(reason);
            }
        }
    }

    /// Closes the queue, kills the workers if asked, and waits for every
    /// slot to reap its worker. Idempotent.
    pub(crate) fn close(&self, kill: bool) {
        let State::Running {
            queue,
            slots,
            watch,
            ..
        } = &self.state
        else {
            return;
        };
        if kill {
            watch.kill_all();
        }
        // Closing the queue lets each slot drain it, retire its worker and
        // return.
        queue.close();
        let handles = std::mem::take(&mut *lock(slots));
        for handle in handles {
            let _ = handle.join();
        }
        watch.stop();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Nobody can submit or listen any more: the queue holds only
        // cancelled jobs, and running ones are being killed by the watchdog.
        self.close(false);
    }
}
