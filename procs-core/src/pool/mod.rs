//! The pool machinery: worker processes, the slot threads that drive them,
//! the calling thread's direct path, the watchdog, and the stream of jobs and
//! answers behind every `call` and `pmap`. `README.md` beside this file says
//! how the pieces fit and why they cannot deadlock.

pub(crate) mod direct;
pub(crate) mod job;
pub(crate) mod launch;
pub(crate) mod slot;
pub(crate) mod spec;
pub(crate) mod stream;
pub(crate) mod watch;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crossbeam_channel::Sender;

use crate::error::Error;
use crate::pool::job::{Job, Reply};
use crate::pool::slot::{Slot, SlotConfig};
use crate::pool::spec::Spec;
use crate::pool::watch::Watch;
use crate::util::sync::lock;

/// What every handle of one pool shares: its slots, its queue and its
/// settings.
pub(crate) struct Shared {
    workers: usize,
    settings: CallSettings,
    state: State,
}

/// What shapes each call's stream of jobs, as the builder set it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallSettings {
    /// Calls in flight or unconsumed per `call`; adaptive when `None`.
    pub(crate) window: Option<usize>,
    /// Calls per message; adaptive when `None`.
    pub(crate) chunk_size: Option<usize>,
}

enum State {
    Running {
        /// `None` once the pool is shut down or killed.
        queue: Mutex<Option<Sender<Job>>>,
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
        let watch = config.watch.clone();
        let config = Arc::new(config);
        let mut slots = Vec::with_capacity(workers);
        for index in 0..workers {
            let slot = Slot::new(index, config.clone(), jobs.clone());
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
            queue: Mutex::new(Some(queue)),
            slots: Mutex::new(slots),
            watch,
            config,
        };
        Ok(Arc::new(Shared {
            workers,
            settings,
            state,
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
        })
    }

    /// Runs one call on an idle worker from the calling thread, if the call
    /// and the pool allow it and a worker is idle; else gives it back.
    pub(crate) fn call_direct(&self, spec: Spec) -> Result<Result<Reply, Error>, Spec> {
        let State::Running { config, .. } = &self.state else {
            return Err(spec);
        };
        if !config.lends(spec.timeout) {
            return Err(spec);
        }
        let max_tasks = config.max_tasks_per_worker.map(NonZeroUsize::get);
        config
            .lent
            .call(spec, &config.watch, config.max_message_size, max_tasks)
    }

    pub(crate) fn submit(&self, job: Job) {
        match &self.state {
            State::Running { queue, .. } => {
                let queue = lock(queue);
                match &*queue {
                    Some(queue) => {
                        if let Err(unsent) = queue.send(job) {
                            unsent.into_inner().fail(|| Error::PoolClosed);
                        }
                    }
                    None => job.fail(|| Error::PoolClosed),
                }
            }
            State::Refused(reason) => job.fail(reason),
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
        drop(lock(queue).take());
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
