//! The transports linked into the binary, which re-executed workers are
//! routed to by name.

/// A transport a re-executed worker can be routed to. Not a public API: use
/// [`register_transport!`](crate::transport::register_transport).
#[doc(hidden)]
#[derive(Debug)]
pub struct TransportEntry {
    /// [`Transport::NAME`](crate::transport::Transport::NAME).
    pub name: &'static str,
    /// Connects and serves until the parent goes away; never returns.
    pub serve: fn(usize) -> !,
}

/// Every transport linked into the binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TRANSPORTS: [TransportEntry];

/// Registers a [`Transport`](crate::transport::Transport) so that re-executed workers can be routed to it.
///
/// Invoke it once, in the transport's own crate, next to the type.
///
/// # Examples
///
/// See [`Transport`](crate::transport::Transport) for a complete
/// transport. With `MyTransport` implementing it:
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
/// #     const NAME: &'static str = "doc-my";
/// #     fn spawn(&self, _: Command, _: usize) -> Result<(MyChannel, Child), BoxError> { Err("unsupported".into()) }
/// #     fn connect(_: usize) -> Result<MyChannel, BoxError> { Err("unsupported".into()) }
/// # }
/// procs_core::transport::register_transport!(MyTransport);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __register_transport {
    ($transport:ty) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::TRANSPORTS)]
            #[linkme(crate = $crate::__private::linkme)]
            static ENTRY: $crate::__private::TransportEntry = $crate::__private::TransportEntry {
                name: <$transport as $crate::transport::Transport>::NAME,
                serve: $crate::__private::connect_and_serve::<$transport>,
            };
        };
    };
}
