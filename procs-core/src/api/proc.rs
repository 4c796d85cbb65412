//! Process specifications: a call that has not run yet.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;

use crate::contract::BoxError;
use crate::error::{Error, Payload};
use crate::pool::spec::Spec;
use crate::remote::registry::registry;
use crate::remote::remote_fn::RemoteFn;
use crate::remote::remote_fn::sealed::EncodeArgs;
use crate::wire::detached::Args as Encoded;

/// A process specification: one call of a `#[remote]` function, with its
/// arguments already encoded, that has not run yet.
///
/// Make one with [`proc!`](crate::proc), which reads like the call it stands
/// for, and run it with [`call`](crate::call). `R` is the function's return
/// type. A `Proc` that could not be made (the function carries no
/// `#[remote]`, an argument failed to encode) still exists and yields its
/// error when called, so one bad spec never hides the results of the others.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call, proc, Proc};
/// # use procs_core as procs;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn add(a: u64, b: u64) -> u64 { a + b }
///
/// let p: Proc<u64> = proc!(add(2, 3));
/// assert_eq!(call(p)?, 5);
/// # Ok::<(), procs_core::Error>(())
/// ```
#[must_use = "a Proc does nothing until it is given to `call`"]
pub struct Proc<R> {
    spec: Result<Spec, Error>,
    out: PhantomData<fn() -> R>,
}

impl<R> Proc<R> {
    /// Makes a process specification for `f(args...)`; what
    /// [`proc!`](crate::proc) expands to.
    ///
    /// `args` is the tuple of arguments (`(x,)` for one argument).
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::Proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn greet(name: String) -> String { format!("hello {name}") }
    ///
    /// let p = Proc::new(greet, ("Ada".to_string(),));
    /// assert!(p.id().unwrap().ends_with("::greet"));
    /// ```
    pub fn new<F, Args>(f: F, args: Args) -> Proc<R>
    where
        F: RemoteFn<Args, Output = R>,
    {
        assert_fn_item::<F>();
        let Some(remote) = registry().by_type(std::any::TypeId::of::<F>()) else {
            let name = std::any::type_name::<F>();
            return Proc::failed(Error::NotRemote { name });
        };
        Proc::encode(remote.id, f, args)
    }

    /// A spec for `f`, registered under `id`, called with `args`.
    pub(crate) fn encode<F, Args>(id: &'static str, _: F, args: Args) -> Proc<R>
    where
        F: RemoteFn<Args, Output = R>,
    {
        Proc::encoded(
            id,
            Encoded::encode(|out| <F as EncodeArgs<Args>>::encode_args(args, out)),
        )
    }

    /// A spec for `id` from its encoded arguments, or the encoding error.
    fn encoded(id: &'static str, args: Result<Encoded, BoxError>) -> Proc<R> {
        let spec = match args {
            Ok(args) => Ok(Spec {
                id,
                args,
                timeout: None,
                retry: Default::default(),
            }),
            Err(source) => Err(Error::Encode {
                id: id.to_owned(),
                payload: Payload::Arguments,
                source,
            }),
        };
        Proc {
            spec,
            out: PhantomData,
        }
    }

    /// Makes a process specification for the function registered under
    /// `id`, for callers that know a function by its stable ID only (from a
    /// configuration file, or another build of the program).
    ///
    /// Nothing checks `args` and `R` against the function's signature at
    /// compile time: a mismatch is a decode error of that call, and an ID no
    /// worker knows is [`Error::UnknownFunction`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::Proc;
    ///
    /// let p: Proc<u64> = Proc::by_id("app::jobs::resize", (640u32, 480u32));
    /// assert_eq!(p.id(), Some("app::jobs::resize"));
    /// ```
    pub fn by_id<Args: Serialize>(id: &'static str, args: Args) -> Proc<R> {
        let bytes = crate::wire::value::encode_value(&args);
        Proc::encoded(id, bytes.map(Encoded::from_bytes))
    }

    /// Gives the call a deadline, counted from when a worker starts it.
    ///
    /// Past it, the worker is killed (and replaced) and the call yields
    /// [`Error::Timeout`]; the other calls are unaffected, including those
    /// that travelled in the same batch (consecutive calls of one function
    /// with the same deadline batch together). Overrides the pool's
    /// [`timeout`](crate::Builder::timeout), which describes what a deadline
    /// costs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procs_core::proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn crunch(n: u64) -> u64 { (0..n).sum() }
    ///
    /// let p = proc!(crunch(1_000_000)).timeout(Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Proc<R> {
        if let Ok(spec) = &mut self.spec {
            spec.timeout = Some(timeout);
        }
        self
    }

    /// Runs the call again, up to `retries` more times, if its worker dies
    /// or it times out; overrides the pool's
    /// [`retries`](crate::Builder::retries), whose documentation says what
    /// is retried and how. With retries, the call may run more than once
    /// (at-least-once): give it retries only if running it twice is
    /// harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn fetch(url: String) -> usize { url.len() }
    ///
    /// let p = proc!(fetch("https://example.com".into())).retries(3);
    /// ```
    pub fn retries(mut self, retries: u32) -> Proc<R> {
        if let Ok(spec) = &mut self.spec {
            spec.retry.retries = Some(retries);
        }
        self
    }

    /// Whether a panic of this call is retried too (within its retries);
    /// overrides the pool's [`retry_panics`](crate::Builder::retry_panics).
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn flaky(n: u64) -> u64 { n }
    ///
    /// let p = proc!(flaky(7)).retries(2).retry_panics(true);
    /// ```
    pub fn retry_panics(mut self, retry: bool) -> Proc<R> {
        if let Ok(spec) = &mut self.spec {
            spec.retry.panics = Some(retry);
        }
        self
    }

    /// The ID of the function this spec calls, or `None` if the spec could
    /// not be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core, id = "docs::one")]
    /// fn one() -> u8 { 1 }
    ///
    /// assert_eq!(proc!(one()).id(), Some("docs::one"));
    /// ```
    pub fn id(&self) -> Option<&'static str> {
        self.spec.as_ref().ok().map(|spec| spec.id)
    }

    pub(crate) fn failed(error: Error) -> Proc<R> {
        Proc {
            spec: Err(error),
            out: PhantomData,
        }
    }

    pub(crate) fn into_spec(self) -> Result<Spec, Error> {
        self.spec
    }
}

impl<R> fmt::Debug for Proc<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proc");
        match &self.spec {
            Ok(spec) => d.field("id", &spec.id).field("args_len", &spec.args.len()),
            Err(error) => d.field("error", error),
        };
        d.finish()
    }
}

/// Makes a [`Proc`]: a process specification that reads like the call.
///
/// `proc!(f(a, b))` checks the arguments against `f`'s signature at compile
/// time and encodes them; `f` must carry `#[remote]`.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call, proc};
///
/// mod math {
///     #[procs_derive::remote(crate = ::procs_core)]
///     pub fn pow(x: u64, y: u32) -> u64 { x.pow(y) }
/// }
///
/// let (a, b) = call((proc!(math::pow(2, 10)), proc!(math::pow(3, 3))));
/// assert_eq!((a?, b?), (1024, 27));
/// # Ok::<(), procs_core::Error>(())
/// ```
#[macro_export]
macro_rules! proc {
    (:: $($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::Proc::new(:: $($f)::+, ($($arg,)*))
    };
    ($($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::Proc::new($($f)::+, ($($arg,)*))
    };
}

/// Refuses, at compile time, a function pointer or a capturing closure as a
/// remote function: a worker finds the function by its type, and such a value
/// carries what it calls (or captures) in data no worker can see. `#[remote]`
/// function items are zero-sized; a non-capturing closure is too, and is
/// caught at run time with [`Error::NotRemote`] instead.
pub(crate) fn assert_fn_item<F>() {
    // Inline const: evaluated when `F` is known, so `cargo build` rejects it.
    const {
        assert!(
            size_of::<F>() == 0,
            "procs: closures and function pointers are not supported as remote functions; \
             define a named function with #[remote] and pass it by name"
        )
    }
}
