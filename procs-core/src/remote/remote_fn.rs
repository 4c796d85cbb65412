//! Types of `#[remote]` functions, by arity, without overlapping impls.

use serde::Serialize;

use crate::contract::BoxError;
use crate::wire::detached::Output;
use crate::wire::value::argument_error;

/// A function that can run in a worker: implemented for every `Fn` of up to
/// twelve arguments, so that `proc!` and `pmap` learn a function's argument
/// and return types from its name alone.
///
/// `Args` is the tuple of the function's parameter types. A function item is a
/// zero-sized type implementing exactly one `Fn` signature, so inference picks
/// the one impl that applies. Whether the function carries `#[remote]` is
/// checked when a [`Proc`](crate::Proc) is made.
///
/// # Examples
///
/// ```
/// use procs_core::RemoteFn;
///
/// fn add(a: u64, b: u64) -> u64 { a + b }
///
/// fn arity<F: RemoteFn<Args>, Args>(_: F) -> usize { F::ARITY }
/// assert_eq!(arity(add), 2);
/// assert_eq!(add.call_with((2, 3)), 5);
/// ```
///
/// The trait is sealed: its impls are procs' own, one per arity.
pub trait RemoteFn<Args>: sealed::EncodeArgs<Args> + Copy + Send + Sync + 'static {
    /// The return type.
    type Output;
    /// What [`pmap`](crate::Pool::pmap) takes per call: the argument itself
    /// for a one-argument function, the tuple of arguments otherwise.
    type Item;
    /// The number of arguments.
    const ARITY: usize;

    /// Turns one `pmap` item into the argument tuple.
    fn args_from_item(item: Self::Item) -> Args;

    /// Calls the function in this process.
    fn call_with(self, args: Args) -> Self::Output;
}

pub(crate) mod sealed {
    use super::{BoxError, Output};

    /// How a function's arguments are encoded; outside the public trait, so
    /// that no public method names procs' internal buffer types, and
    /// unnameable outside procs, so that nobody else can implement
    /// [`RemoteFn`](super::RemoteFn).
    pub trait EncodeArgs<Args> {
        /// Appends the encoded arguments to `out`, as the worker decodes
        /// them. Takes them by value, so that a large byte buffer is sent as
        /// it is.
        fn encode_args(args: Args, out: &mut Output<'_>) -> Result<(), BoxError>;
    }
}

impl<F, R> RemoteFn<()> for F
where
    F: Fn() -> R + Copy + Send + Sync + 'static,
{
    type Output = R;
    type Item = ();
    const ARITY: usize = 0;

    fn args_from_item(_: ()) {}

    fn call_with(self, (): ()) -> R {
        self()
    }
}

impl<F: Fn() -> R, R> sealed::EncodeArgs<()> for F {
    fn encode_args((): (), _: &mut Output<'_>) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<F, A, R> RemoteFn<(A,)> for F
where
    F: Fn(A) -> R + Copy + Send + Sync + 'static,
    A: Serialize + 'static,
{
    type Output = R;
    type Item = A;
    const ARITY: usize = 1;

    fn args_from_item(item: A) -> (A,) {
        (item,)
    }

    fn call_with(self, (a,): (A,)) -> R {
        self(a)
    }
}

impl<F: Fn(A) -> R, A: Serialize + 'static, R> sealed::EncodeArgs<(A,)> for F {
    fn encode_args((a,): (A,), out: &mut Output<'_>) -> Result<(), BoxError> {
        out.put(a).map_err(|error| argument_error::<A>(1, error))
    }
}

macro_rules! remote_fn_tuple {
    ($n:literal: $($arg:ident)+) => {
        impl<F, R, $($arg),+> RemoteFn<($($arg,)+)> for F
        where
            F: Fn($($arg),+) -> R + Copy + Send + Sync + 'static,
            $($arg: Serialize + 'static,)+
        {
            type Output = R;
            type Item = ($($arg,)+);
            const ARITY: usize = $n;

            fn args_from_item(item: Self::Item) -> ($($arg,)+) {
                item
            }

            #[allow(non_snake_case, reason = "the type names double as bindings")]
            fn call_with(self, ($($arg,)+): ($($arg,)+)) -> R {
                self($($arg),+)
            }
        }

        impl<F, R, $($arg),+> sealed::EncodeArgs<($($arg,)+)> for F
        where
            F: Fn($($arg),+) -> R,
            $($arg: Serialize + 'static,)+
        {
            #[allow(non_snake_case, reason = "the type names double as bindings")]
            fn encode_args(($($arg,)+): ($($arg,)+), out: &mut Output<'_>) -> Result<(), BoxError> {
                let mut position = 0;
                $(
                    position += 1;
                    out.put($arg).map_err(|error| argument_error::<$arg>(position, error))?;
                )+
                Ok(())
            }
        }
    };
}

remote_fn_tuple!(2: A B);
remote_fn_tuple!(3: A B C);
remote_fn_tuple!(4: A B C D);
remote_fn_tuple!(5: A B C D E);
remote_fn_tuple!(6: A B C D E G);
remote_fn_tuple!(7: A B C D E G H);
remote_fn_tuple!(8: A B C D E G H I);
remote_fn_tuple!(9: A B C D E G H I J);
remote_fn_tuple!(10: A B C D E G H I J K);
remote_fn_tuple!(11: A B C D E G H I J K L);
remote_fn_tuple!(12: A B C D E G H I J K L M);
