//! A pool of warm worker processes.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};

use crossbeam_channel::Sender;

use crate::builder::Builder;
use crate::call::Calls;
use crate::error::Error;
use crate::job::{Job, Reply};
use crate::pmap::procs_of;
use crate::proc::Spec;
use crate::remote_fn::RemoteFn;
use crate::results::{RawResults, Results};
use crate::slot::{Slot, SlotConfig};
use crate::unordered::Unordered;
use crate::watch::Watch;

/// A pool of worker processes: warm, reused, replaced when they die.
///
/// The free functions [`call`](crate::call) and [`pmap`](crate::pmap) run on
/// a global pool started on first use and sized to the machine; build an
/// explicit pool with [`Pool::builder`] to choose the worker count, the
/// transport or the limits. A `Pool` is a cheap handle: clones share the same
/// workers. When the last handle and the last result iterator are gone, the
/// pool closes its workers' channels, the workers exit, and the pool reaps
/// them.
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
/// let doubled: Vec<i64> = pool.pmap(double, 1..=3).collect::<Result<_, _>>()?;
/// assert_eq!(doubled, [2, 4, 6]);
/// assert_eq!(pool.call(proc!(double(21)))?, 42);
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
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
    /// Whether the pool gives every call a deadline (then calls travel
    /// alone).
    pub(crate) default_timeout: bool,
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

impl Pool {
    /// Starts configuring an explicit pool.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs_core::Pool::builder().workers(2).build()?;
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The global pool behind [`call`](crate::call) and
    /// [`pmap`](crate::pmap), started on first use with the default
    /// settings.
    ///
    /// If it cannot start (inside a worker process, with no transport
    /// enabled, or with two `#[remote]` functions sharing an ID), every call
    /// on it yields the reason as an error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let workers = procs_core::Pool::global().workers();
    /// ```
    ///
    /// # Panics
    ///
    /// When the operating system refuses to start the pool's threads.
    pub fn global() -> &'static Pool {
        static GLOBAL: OnceLock<Pool> = OnceLock::new();
        GLOBAL.get_or_init(|| match Pool::builder().build() {
            Ok(pool) => pool,
            Err(Error::InsideWorker) => Pool::refused(|| Error::InsideWorker),
            Err(Error::NoTransport) => Pool::refused(|| Error::NoTransport),
            Err(Error::DuplicateId { .. }) => Pool::refused(|| {
                let check = crate::registry::registry().check();
                check.expect_err("the registry does not change")
            }),
            Err(error) => panic!("cannot start the global procs pool: {error}"),
        })
    }

    /// Runs process specifications: a single [`Proc`](crate::Proc), a tuple
    /// of procs of different types, or any iterator of procs of one type.
    /// See [`call`](crate::call).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::{proc, Pool};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn len(s: String) -> usize { s.len() }
    ///
    /// let pool = Pool::builder().build()?;
    /// let (a, b) = pool.call((proc!(len("ab".into())), proc!(len("abc".into()))));
    /// assert_eq!((a?, b?), (2, 3));
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn call<C: Calls<M>, M>(&self, calls: C) -> C::Output {
        calls.call_on(self)
    }

    /// Maps `f` over `items` in worker processes; results come in input
    /// order. See [`pmap`](crate::pmap).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::Pool;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn add(a: u32, b: u32) -> u32 { a + b }
    ///
    /// let pool = Pool::builder().build()?;
    /// let sums: Vec<u32> = pool.pmap(add, [(1, 2), (3, 4)]).collect::<Result<_, _>>()?;
    /// assert_eq!(sums, [3, 7]);
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn pmap<'a, F, Args, I>(&self, f: F, items: I) -> Results<'a, F::Output>
    where
        F: RemoteFn<Args>,
        Args: 'a,
        I: IntoIterator<Item = F::Item>,
        I::IntoIter: 'a,
    {
        Results::new(RawResults::new(self, procs_of(f, items.into_iter())))
    }

    /// Maps `f` over `items` in worker processes; results come as they
    /// complete, each with its input index. See
    /// [`pmap_unordered`](crate::pmap_unordered).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::Pool;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn double(x: u32) -> u32 { 2 * x }
    ///
    /// let pool = Pool::builder().build()?;
    /// let mut total = 0;
    /// for (_, result) in pool.pmap_unordered(double, 1..=3) {
    ///     total += result?;
    /// }
    /// assert_eq!(total, 12);
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn pmap_unordered<'a, F, Args, I>(&self, f: F, items: I) -> Unordered<'a, F::Output>
    where
        F: RemoteFn<Args>,
        Args: 'a,
        I: IntoIterator<Item = F::Item>,
        I::IntoIter: 'a,
    {
        Unordered::new(RawResults::with_order(
            self,
            procs_of(f, items.into_iter()),
            false,
        ))
    }

    /// The number of worker processes.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs_core::Pool::builder().workers(3).build()?;
    /// assert_eq!(pool.workers(), 3);
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    pub(crate) fn window(&self) -> Option<usize> {
        self.inner.settings.window
    }

    pub(crate) fn chunk_size(&self) -> Option<usize> {
        self.inner.settings.chunk_size
    }

    pub(crate) fn has_default_timeout(&self) -> bool {
        self.inner.settings.default_timeout
    }

    pub(crate) fn start(
        workers: usize,
        settings: CallSettings,
        config: SlotConfig,
    ) -> Result<Pool, Error> {
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
        Ok(Pool {
            inner: Arc::new(Inner {
                workers,
                settings,
                state,
            }),
        })
    }

    /// Stops taking new calls, lets every call already submitted finish,
    /// then closes the workers and waits for them to exit. Calls submitted
    /// afterwards yield [`Error::PoolClosed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs_core::Pool::builder().build()?;
    /// // ... use the pool ...
    /// pool.shutdown();
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn shutdown(&self) {
        self.inner.close(false);
    }

    /// Stops at once: calls still queued and calls running yield
    /// [`Error::PoolClosed`], every worker is killed, and all are reaped
    /// before this returns.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs_core::Pool::builder().build()?;
    /// pool.kill();
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn kill(&self) {
        self.inner.close(true);
    }

    /// Tells the watchdog that a call was cancelled, so that its running
    /// tasks are killed now rather than at the next poll.
    pub(crate) fn cancelled(&self) {
        if let State::Running { watch, .. } = &self.inner.state {
            watch.notify();
        }
    }

    fn refused(reason: fn() -> Error) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                workers: 0,
                settings: CallSettings::default(),
                state: State::Refused(reason),
            }),
        }
    }

    /// Runs one call on an idle worker from the calling thread, if the call
    /// and the pool allow it and a worker is idle; else gives it back.
    pub(crate) fn call_direct(&self, spec: Spec) -> Result<Result<Reply, Error>, Spec> {
        let State::Running { config, .. } = &self.inner.state else {
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
        match &self.inner.state {
            State::Running { queue, .. } => {
                let queue = queue
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
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
}

impl Inner {
    /// Closes the queue, kills the workers if asked, and waits for every
    /// slot to reap its worker. Idempotent.
    fn close(&self, kill: bool) {
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
        drop(
            queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        let handles = std::mem::take(&mut *slots.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
        watch.stop();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nobody can submit or listen any more: the queue holds only
        // cancelled jobs, and running ones are being killed by the watchdog.
        self.close(false);
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.inner.workers)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}
