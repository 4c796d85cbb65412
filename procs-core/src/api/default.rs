//! The default transport: what [`Builder::build`](crate::Builder::build)
//! uses when it was given none, so also the free `call` and `pmap`.

use crate::api::builder::{Builder, DEFAULT_TRANSPORT};

/// A default transport registered by an application or a transport crate
/// with [`register_default_transport!`](crate::transport::register_default_transport).
/// Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct DefaultEntry {
    /// The module that registered it, for error messages.
    pub origin: &'static str,
    /// Gives the builder the transport.
    pub apply: fn(Builder) -> Builder,
}

/// Every registered default transport. Not a public API.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static DEFAULT_TRANSPORTS: [DefaultEntry];

/// The `setting` of the error [`Builder::build`] returns when two default
/// transports are registered.
pub(crate) const AMBIGUOUS_SETTING: &str = "register_default_transport!";
pub(crate) const AMBIGUOUS_PROBLEM: &str = "more than one crate registered a default transport; give the pool one with `Pool::builder().transport(...)`, or register only one";

/// Gives `builder` the default transport: the one registered with
/// `register_default_transport!` if there is exactly one, else the facade's
/// (its feature flags); `Err` when two or more are registered.
pub(crate) fn apply_default(builder: Builder) -> Result<Builder, (&'static str, &'static str)> {
    match &DEFAULT_TRANSPORTS[..] {
        [] => Ok(match DEFAULT_TRANSPORT.first() {
            Some(facade) => facade(builder),
            None => builder,
        }),
        [one] => Ok((one.apply)(builder)),
        _ => Err((AMBIGUOUS_SETTING, AMBIGUOUS_PROBLEM)),
    }
}

/// Makes a transport the default: what the free [`call`](crate::call) and
/// [`pmap`](crate::pmap), [`Pool::global`](crate::Pool::global) and every
/// [`Pool::builder()`](crate::Pool::builder) not given a transport use.
///
/// Invoke it once in the binary, usually in the application (a transport
/// crate may offer it behind a feature). The argument is an expression
/// that makes the transport, evaluated each time a pool is built.
///
/// The rules: a registered default takes precedence over the `procs`
/// facade's own (its `pipe`/`ipc`/`mpi` features); a pool given a transport
/// with [`Builder::transport`](crate::Builder::transport) or
/// [`Builder::attach`](crate::Builder::attach) ignores both; and when two or
/// more defaults are registered in one binary none is chosen:
/// [`Builder::build`](crate::Builder::build) fails with
/// [`Error::InvalidSetting`](crate::Error::InvalidSetting) (setting
/// `register_default_transport!`), as do the free functions' calls.
///
/// # Examples
///
/// ```
/// # use std::process::{Child, Command};
/// # use procs_core::BoxError;
/// # use procs_core::transport::{Channel, Transport};
/// # #[derive(Default)]
/// # struct MyTransport;
/// # struct MyChannel;
/// # impl Channel for MyChannel {
/// #     type Error = std::io::Error;
/// #     fn send(&mut self, _: &[u8]) -> std::io::Result<()> { Err(std::io::ErrorKind::Unsupported.into()) }
/// #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { Ok(None) }
/// # }
/// # impl Transport for MyTransport {
/// #     type Channel = MyChannel;
/// #     const NAME: &'static str = "doc-default";
/// #     fn spawn(&self, _: Command, _: usize) -> Result<(MyChannel, Child), BoxError> { Err("unsupported".into()) }
/// #     fn connect(_: usize) -> Result<MyChannel, BoxError> { Err("unsupported".into()) }
/// # }
/// procs_core::transport::register_transport!(MyTransport);
/// procs_core::transport::register_default_transport!(MyTransport::default());
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __register_default_transport {
    ($transport:expr) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::DEFAULT_TRANSPORTS)]
            #[linkme(crate = $crate::__private::linkme)]
            static ENTRY: $crate::__private::DefaultEntry = $crate::__private::DefaultEntry {
                origin: ::core::module_path!(),
                apply: |builder| builder.transport($transport),
            };
        };
    };
}
