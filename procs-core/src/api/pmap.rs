//! `pmap`: `map` over worker processes.

use crate::api::pool::Pool;
use crate::api::proc::Proc;
use crate::api::results::Results;
use crate::api::unordered::Unordered;
use crate::error::Error;
use crate::pool::spec::Spec;
use crate::remote::remote_fn::RemoteFn;

/// Maps a `#[remote]` function over `items` in worker processes, on the
/// global pool; results come in input order, each as soon as it and all
/// before it are ready.
///
/// A one-argument function takes each item as its argument; a function of
/// several arguments takes tuples. The input is consumed lazily with bounded
/// look-ahead, so an endless iterator runs in constant memory.
///
/// # Examples
///
/// ```no_run
/// use procs_core::pmap;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn pow(x: u64, y: u32) -> u64 { x.pow(y) }
///
/// let squares: Vec<u64> = pmap(square, 0..1000).collect::<Result<_, _>>()?;
/// let cubes: Vec<u64> = pmap(pow, (0..10).map(|x| (x, 3))).collect::<Result<_, _>>()?;
/// assert_eq!((squares[999], cubes[9]), (998_001, 729));
/// # Ok::<(), procs_core::Error>(())
/// ```
pub fn pmap<'a, F, Args, I>(f: F, items: I) -> Results<'a, F::Output>
where
    F: RemoteFn<Args>,
    Args: 'a,
    I: IntoIterator<Item = F::Item>,
    I::IntoIter: Send + 'a,
{
    Pool::global().pmap(f, items)
}

/// Maps a `#[remote]` function over `items` in worker processes, on the
/// global pool; results come as they complete, each with the index of its
/// input.
///
/// Use it when order does not matter: a slow call never holds back the
/// results of faster ones behind it.
///
/// # Examples
///
/// ```no_run
/// use procs_core::pmap_unordered;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// let mut sum = 0;
/// for (_index, result) in pmap_unordered(square, 0..100) {
///     sum += result?;
/// }
/// assert_eq!(sum, 328_350);
/// # Ok::<(), procs_core::Error>(())
/// ```
pub fn pmap_unordered<'a, F, Args, I>(f: F, items: I) -> Unordered<'a, F::Output>
where
    F: RemoteFn<Args>,
    Args: 'a,
    I: IntoIterator<Item = F::Item>,
    I::IntoIter: Send + 'a,
{
    Pool::global().pmap_unordered(f, items)
}

/// The process specifications of `f` over `items`, made lazily.
pub(crate) fn procs_of<F, Args, I>(f: F, items: I) -> impl Iterator<Item = Result<Spec, Error>>
where
    F: RemoteFn<Args>,
    I: Iterator<Item = F::Item>,
{
    crate::api::proc::assert_fn_item::<F>();
    // Looked up once, not per item: a tiny call costs little more than this.
    let remote = crate::remote::registry::registry().by_type(std::any::TypeId::of::<F>());
    let mut scratch = Vec::new();
    items.map(move |item| match remote {
        Some(remote) => {
            let args = F::args_from_item(item);
            Proc::<F::Output>::encode_in::<F, Args>(&mut scratch, remote.id, args).into_spec()
        }
        None => Proc::new(f, F::args_from_item(item)).into_spec(),
    })
}
