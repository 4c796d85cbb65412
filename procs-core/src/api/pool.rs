//! A pool of warm worker processes.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::api::builder::Builder;
use crate::api::call::Calls;
use crate::api::default;
use crate::api::pmap::calls_of;
use crate::api::results::Results;
use crate::api::unordered::Unordered;
use crate::error::Error;
use crate::pool::Shared;
use crate::pool::stream::RawResults;
use crate::remote::remote_fn::RemoteFn;

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
    inner: Arc<Shared>,
}

impl Pool {
    pub(crate) fn from_shared(inner: Arc<Shared>) -> Pool {
        Pool { inner }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner
    }

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
            Err(Error::InvalidSetting { setting, .. }) if setting == default::AMBIGUOUS_SETTING => {
                Pool::from_shared(Shared::refused(|| Error::InvalidSetting {
                    setting: default::AMBIGUOUS_SETTING,
                    problem: default::AMBIGUOUS_PROBLEM,
                }))
            }
            Err(Error::InsideWorker) => Pool::from_shared(Shared::refused(|| Error::InsideWorker)),
            Err(Error::NoTransport) => Pool::from_shared(Shared::refused(|| Error::NoTransport)),
            Err(Error::DuplicateId { .. }) => Pool::from_shared(Shared::refused(|| {
                let check = crate::remote::registry::registry().check();
                check.expect_err("the registry does not change").into()
            })),
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

    /// [`call`](Pool::call) for async code: a future for one proc or a
    /// tuple, a [`Stream`](futures_core::Stream) for an iterator of procs;
    /// never blocks the executor's thread. See
    /// [`call_async`](crate::call_async).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::{proc, Pool};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn len(s: String) -> usize { s.len() }
    ///
    /// # async fn run() -> Result<(), procs_core::Error> {
    /// let pool = Pool::builder().build()?;
    /// assert_eq!(pool.call_async(proc!(len("abc".into()))).await?, 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn call_async<C: Calls<M>, M>(&self, calls: C) -> C::Async {
        calls.call_async_on(self)
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
        I::IntoIter: Send + 'a,
    {
        Results::new(RawResults::new(&self.inner, calls_of(f, items.into_iter())))
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
        I::IntoIter: Send + 'a,
    {
        Unordered::new(RawResults::with_order(
            &self.inner,
            calls_of(f, items.into_iter()),
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
        self.inner.workers()
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
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.inner.workers())
            .field("settings", self.inner.settings())
            .finish_non_exhaustive()
    }
}
