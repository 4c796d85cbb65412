//! `call`: one entry point for a single proc, a tuple of procs of different
//! types, and an iterator of procs of one type.

use serde::de::DeserializeOwned;

use crate::api::call_async::{CallFuture, finish_one};
use crate::api::pool::Pool;
use crate::api::proc::Proc;
use crate::api::results::{Results, decode_reply};
use crate::error::Error;
use crate::pool::job::Reply;
use crate::pool::stream::RawResults;

/// What [`call`] accepts: a [`Proc`], a tuple of up to twelve procs of
/// different types, or any [`IntoIterator`] of procs of one type.
///
/// The `Marker` parameter (one of the types in [`marker`]) keeps the tuple
/// impls and the blanket iterator impl from overlapping; inference picks the
/// one that applies, so callers never name it.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call, proc};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn id(x: u8) -> u8 { x }
///
/// let one: Result<u8, _> = call(proc!(id(1)));
/// let (a, b) = call((proc!(id(2)), proc!(id(3))));
/// let many: Vec<u8> = call((0..3).map(|i| proc!(id(i)))).collect::<Result<_, _>>()?;
/// # Ok::<(), procs_core::Error>(())
/// ```
///
/// The trait is sealed: procs implements it for the three forms above.
pub trait Calls<Marker>: sealed::Sealed<Marker> {
    /// What the call yields: a `Result`, a tuple of `Result`s, or
    /// [`Results`].
    type Output;

    /// Runs the calls on `pool`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::{proc, Calls, Pool};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn id(x: u8) -> u8 { x }
    ///
    /// let pool = Pool::builder().build()?;
    /// assert_eq!(proc!(id(7)).call_on(&pool)?, 7);
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    fn call_on(self, pool: &Pool) -> Self::Output;

    /// What the call yields when awaited: a [`CallFuture`] of
    /// [`Output`](Calls::Output) for one proc or a tuple, the stream
    /// [`Results`] for an iterator of procs.
    type Async;

    /// Runs the calls on `pool` without blocking: see
    /// [`call_async`](crate::call_async).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use procs_core::{proc, Calls, Pool};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn id(x: u8) -> u8 { x }
    ///
    /// # async fn run() -> Result<(), procs_core::Error> {
    /// let pool = Pool::builder().build()?;
    /// assert_eq!(proc!(id(7)).call_async_on(&pool).await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    fn call_async_on(self, pool: &Pool) -> Self::Async;
}

pub(crate) mod sealed {
    use super::{Proc, marker};

    /// Unnameable outside procs, so that nobody else implements
    /// [`Calls`](super::Calls).
    pub trait Sealed<Marker> {}

    impl<R> Sealed<marker::One> for Proc<R> {}
    impl<'a, I, R> Sealed<marker::Each<'a>> for I
    where
        I: IntoIterator<Item = Proc<R>>,
        I::IntoIter: Send + 'a,
    {
    }
    macro_rules! sealed_tuple {
        ($($t:ident)+) => {
            impl<$($t),+> Sealed<marker::Tuple> for ($(Proc<$t>,)+) {}
        };
    }
    sealed_tuple!(A);
    sealed_tuple!(A B);
    sealed_tuple!(A B C);
    sealed_tuple!(A B C D);
    sealed_tuple!(A B C D E);
    sealed_tuple!(A B C D E F);
    sealed_tuple!(A B C D E F G);
    sealed_tuple!(A B C D E F G H);
    sealed_tuple!(A B C D E F G H I);
    sealed_tuple!(A B C D E F G H I J);
    sealed_tuple!(A B C D E F G H I J K);
    sealed_tuple!(A B C D E F G H I J K L);
}

/// The marker types that tell the impls of [`Calls`] apart; callers never
/// name them, inference picks the one that applies.
///
/// # Examples
///
/// ```
/// use procs_core::{marker, Calls, Proc};
///
/// fn takes_one<C: Calls<marker::One>>(_: C) {}
/// takes_one(Proc::<u8>::by_id("app::f", ()));
/// ```
pub mod marker {
    use std::marker::PhantomData;

    /// Marks the impl of [`Calls`](super::Calls) for one [`Proc`](crate::Proc).
    ///
    /// # Examples
    ///
    /// ```
    /// let _ = procs_core::marker::One;
    /// ```
    #[derive(Debug)]
    pub struct One;

    /// Marks the impls of [`Calls`](super::Calls) for tuples of procs.
    ///
    /// # Examples
    ///
    /// ```
    /// let _ = procs_core::marker::Tuple;
    /// ```
    #[derive(Debug)]
    pub struct Tuple;

    /// Marks the impl of [`Calls`](super::Calls) for iterators of procs; `'a`
    /// is how long the input iterator lives.
    ///
    /// # Examples
    ///
    /// ```
    /// let _: procs_core::marker::Each<'static> = procs_core::marker::Each(std::marker::PhantomData);
    /// ```
    #[derive(Debug)]
    pub struct Each<'a>(pub PhantomData<&'a ()>);
}

/// Runs process specifications in parallel worker processes on the global
/// pool.
///
/// - `call(p)` runs one [`Proc<R>`] and returns `Result<R, Error>`.
/// - `call((p1, p2, ...))` runs up to twelve procs of different types in
///   parallel and returns a tuple of results.
/// - `call(iter)` runs an iterator of procs of one type and returns
///   [`Results`], which yields in input order, each result as soon as it and
///   all before it are ready.
///
/// A task that fails (panics, crashes its worker, names an unknown function)
/// yields an `Err` in its own position; its siblings run on.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call, proc};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn slow_function(n: u32, greeting: String, foo: f64) -> String {
///     format!("{greeting} {n} {foo}")
/// }
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn slower_function(x: u64, y: u64) -> u64 { x.pow(y as u32) }
///
/// let p1 = proc!(slow_function(5, "hello".into(), 3.14));
/// let p2 = proc!(slower_function(10, 3));
/// let (r1, r2) = call((p1, p2));
/// assert_eq!(r1?, "hello 5 3.14");
/// assert_eq!(r2?, 1000);
///
/// for r in call((0..8).map(|i| proc!(slower_function(i, 2)))) {
///     println!("{}", r?);
/// }
/// # Ok::<(), procs_core::Error>(())
/// ```
pub fn call<C: Calls<M>, M>(calls: C) -> C::Output {
    calls.call_on(Pool::global())
}

/// [`call`] for async code: accepts the same procs on the global pool and
/// never blocks the executor's thread.
///
/// - `call_async(p).await` gives `Result<R, Error>`.
/// - `call_async((p1, p2, ...)).await` gives a tuple of results.
/// - `call_async(procs)` for an iterator of procs gives [`Results`], which is
///   a [`Stream`](futures_core::Stream) as well as an iterator.
///
/// The pool's own threads wake the awaiting task when an answer arrives: no
/// thread waits per pending call, and any executor works (tokio, smol,
/// `futures::executor`). Dropping the future or the stream cancels its calls
/// as dropping [`Results`] does: queued calls never run, running ones are
/// killed with their workers.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call_async, proc};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn slower_function(x: u64, y: u64) -> u64 { x.pow(y as u32) }
///
/// # async fn run() -> Result<(), procs_core::Error> {
/// let r = call_async(proc!(slower_function(10, 3))).await?;
/// let (a, b) = call_async((proc!(slower_function(2, 2)), proc!(slower_function(3, 2)))).await;
/// assert_eq!((r, a?, b?), (1000, 4, 9));
/// # Ok(())
/// # }
/// ```
pub fn call_async<C: Calls<M>, M>(calls: C) -> C::Async {
    calls.call_async_on(Pool::global())
}

impl<R: DeserializeOwned + 'static> Calls<marker::One> for Proc<R> {
    type Output = Result<R, Error>;
    type Async = CallFuture<Result<R, Error>>;

    fn call_async_on(self, pool: &Pool) -> Self::Async {
        // Never the direct path: it does the round trip on this thread.
        let raw = RawResults::new(pool.shared(), std::iter::once(self.into_spec()));
        CallFuture::new(raw, 1, finish_one::<R>)
    }

    fn call_on(self, pool: &Pool) -> Self::Output {
        let spec = self.into_spec()?;
        let id = spec.id;
        // On an idle worker, straight from this thread; else through a slot.
        let spec = match pool.shared().call_direct(spec) {
            Ok(result) => return result.and_then(|reply| decode_reply(id, reply)),
            Err(spec) => spec,
        };
        let mut results: Results<'_, R> =
            Results::new(RawResults::new(pool.shared(), std::iter::once(Ok(spec))));
        results.next().expect("one proc yields one result")
    }
}

impl<'a, I, R> Calls<marker::Each<'a>> for I
where
    I: IntoIterator<Item = Proc<R>>,
    I::IntoIter: Send + 'a,
    R: DeserializeOwned + 'static,
{
    type Output = Results<'a, R>;
    type Async = Results<'a, R>;

    fn call_async_on(self, pool: &Pool) -> Self::Async {
        self.call_on(pool)
    }

    fn call_on(self, pool: &Pool) -> Self::Output {
        Results::new(RawResults::new(
            pool.shared(),
            self.into_iter().map(Proc::into_spec),
        ))
    }
}

macro_rules! calls_tuple {
    ($($name:ident: $t:ident),+) => {
        impl<$($t: DeserializeOwned + 'static),+> Calls<marker::Tuple> for ($(Proc<$t>,)+) {
            type Output = ($(Result<$t, Error>,)+);
            type Async = CallFuture<Self::Output>;

            fn call_async_on(self, pool: &Pool) -> Self::Async {
                fn finish<$($t: DeserializeOwned + 'static),+>(
                    answers: Vec<(&'static str, Result<Reply, Error>)>,
                ) -> ($(Result<$t, Error>,)+) {
                    let mut answers = answers.into_iter();
                    ($({
                        let (id, result) = answers.next().expect("each proc yields one result");
                        result.and_then(|reply| decode_reply::<$t>(id, reply))
                    },)+)
                }
                let ($($name,)+) = self;
                let specs = [$($name.into_spec()),+];
                let count = specs.len();
                CallFuture::new(RawResults::new(pool.shared(), specs.into_iter()), count, finish::<$($t),+>)
            }

            fn call_on(self, pool: &Pool) -> Self::Output {
                let ($($name,)+) = self;
                let mut raw = RawResults::new(pool.shared(), [$($name.into_spec()),+].into_iter());
                ($({
                    let (id, result) = raw.next().expect("each proc yields one result");
                    result.and_then(|reply| decode_reply::<$t>(id, reply))
                },)+)
            }
        }
    };
}

calls_tuple!(a: A);
calls_tuple!(a: A, b: B);
calls_tuple!(a: A, b: B, c: C);
calls_tuple!(a: A, b: B, c: C, d: D);
calls_tuple!(a: A, b: B, c: C, d: D, e: E);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J, k: K);
calls_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J, k: K, l: L);
