//! `pmap`: `map` over worker processes.

use crate::api::pool::Pool;
use crate::api::proc::Proc;
use crate::api::results::Results;
use crate::api::unordered::Unordered;
use crate::error::Error;
use std::marker::PhantomData;

use crate::error::Payload;
use crate::pool::source::{Pack, Packing, Source};
use crate::pool::spec::Spec;
use crate::remote::remote_fn::RemoteFn;
use crate::remote::remote_fn::sealed::EncodeArgs;
use crate::wire::detached::Args as Encoded;

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

/// The calls of `f` over `items`, taken lazily: packed straight into
/// batches when `f` is registered (see `pool::tasks`), else as process
/// specifications (whose first call reports why it cannot run).
pub(crate) fn calls_of<'a, F, Args, I>(f: F, items: I) -> Source<'a>
where
    F: RemoteFn<Args>,
    Args: 'a,
    I: Iterator<Item = F::Item> + Send + 'a,
{
    crate::api::proc::assert_fn_item::<F>();
    // Looked up once, not per item: a tiny call costs little more than this.
    match crate::remote::registry::registry().by_type(std::any::TypeId::of::<F>()) {
        Some(remote) => Source::Packs(Box::new(Packer::<F, Args, I> {
            id: remote.id,
            items,
            f: PhantomData,
        })),
        None => {
            Source::from(items.map(move |item| Proc::new(f, F::args_from_item(item)).into_spec()))
        }
    }
}

/// The calls of a registered `F` over `I`'s items.
struct Packer<F, Args, I> {
    id: &'static str,
    items: I,
    f: PhantomData<fn() -> (F, Args)>,
}

impl<F, Args, I> Pack for Packer<F, Args, I>
where
    F: RemoteFn<Args>,
    I: Iterator<Item = F::Item> + Send,
{
    fn id(&self) -> &'static str {
        self.id
    }

    fn pack_next(&mut self, bytes: &mut Vec<u8>) -> Option<Packing> {
        let args = F::args_from_item(self.items.next()?);
        let packed = Encoded::pack(bytes, |out| <F as EncodeArgs<Args>>::encode_args(args, out));
        Some(match packed {
            Ok(None) => Packing::Packed,
            Ok(Some(args)) => Packing::Alone(Box::new(Ok(Spec::new(self.id, args)))),
            Err(source) => Packing::Alone(Box::new(Err(Error::Encode {
                id: self.id.to_owned(),
                payload: Payload::Arguments,
                source,
            }))),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}
