//! How a re-executed binary becomes a worker before `main` runs.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::builder::Builder;
use crate::transport::{Channel, Transport};

/// Names the transport a re-executed child must serve on; its presence makes
/// the process a worker.
pub(crate) const ENV_WORKER: &str = "PROCS_WORKER";
/// The message size limit the parent configured.
pub(crate) const ENV_MAX_MESSAGE: &str = "PROCS_MAX_MESSAGE";
/// The pid of the process that spawned the worker, which the worker ties
/// its life to; absent when the worker was started by hand.
pub(crate) const ENV_PARENT_PID: &str = "PROCS_PARENT_PID";

/// Exit code of a worker whose binary does not link the transport it was
/// started for.
pub(crate) const EXIT_NO_TRANSPORT: i32 = 121;
/// Exit code of a worker that could not reach its parent.
pub(crate) const EXIT_CONNECT: i32 = 122;
/// Exit code of a worker whose parent exited before the worker could ask to
/// be killed with it (or that could not ask).
pub(crate) const EXIT_ORPHANED: i32 = 123;

static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether this process is a procs worker.
pub(crate) fn in_worker() -> bool {
    // The variable covers code that runs before our constructor (another
    // constructor) in a process started as a worker.
    IN_WORKER.load(Ordering::Relaxed) || std::env::var_os(ENV_WORKER).is_some()
}

/// A transport a re-executed worker can be routed to. Not a public API: use
/// [`register_transport!`](crate::register_transport).
#[doc(hidden)]
#[derive(Debug)]
pub struct TransportEntry {
    /// [`Transport::NAME`].
    pub name: &'static str,
    /// Connects and serves until the parent goes away; never returns.
    pub serve: fn(usize) -> !,
}

/// Every transport linked into the binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TRANSPORTS: [TransportEntry];

/// The facade's choice of default transport, applied by [`Builder::build`]
/// when none was given. Not a public API.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static DEFAULT_TRANSPORT: [fn(Builder) -> Builder];

/// Serves calls on `channel` until the parent closes it, then exits the
/// process: what a worker that something else launched (an MPI rank, a
/// remote host) runs instead of `main`, for a pool that
/// [attaches](crate::Attach) to it.
///
/// From here on, the process refuses to start pools of its own.
///
/// # Examples
///
/// ```no_run
/// use std::os::unix::net::UnixListener;
/// use procs_core::{frame, Channel};
///
/// struct SocketChannel(std::os::unix::net::UnixStream);
///
/// impl Channel for SocketChannel {
///     type Error = std::io::Error;
///     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
///         frame::write_frame(&mut self.0, msg)
///     }
///     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
///         frame::read_frame(&mut self.0, 1 << 30)
///     }
/// }
///
/// let listener = UnixListener::bind("/run/app/worker-0")?;
/// let (stream, _) = listener.accept()?;
/// procs_core::serve(SocketChannel(stream), 1 << 30);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve_attached<C: Channel>(channel: C, max_message_size: usize) -> ! {
    IN_WORKER.store(true, Ordering::Relaxed);
    crate::worker::serve(channel, max_message_size, false)
}

/// Worker side of a transport: connect, then serve. Not a public API.
#[doc(hidden)]
pub fn serve<T: Transport>(max_message_size: usize) -> ! {
    match T::connect(max_message_size) {
        Ok(channel) => crate::worker::serve(channel, max_message_size, true),
        Err(error) => {
            eprintln!(
                "procs worker: cannot connect over the `{}` transport: {error}",
                T::NAME
            );
            std::process::exit(EXIT_CONNECT)
        }
    }
}

/// Registers a [`Transport`] so that re-executed workers can be routed to it.
///
/// Invoke it once, in the transport's own crate, next to the type.
///
/// # Examples
///
/// See [`Transport`] for a complete transport. With `MyTransport` implementing
/// [`Transport`]:
///
/// ```
/// # use std::process::{Child, Command};
/// # use procs_core::{BoxError, Channel, Transport};
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
/// procs_core::register_transport!(MyTransport);
/// ```
#[macro_export]
macro_rules! register_transport {
    ($transport:ty) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::TRANSPORTS)]
            #[linkme(crate = $crate::__private::linkme)]
            static ENTRY: $crate::__private::TransportEntry = $crate::__private::TransportEntry {
                name: <$transport as $crate::Transport>::NAME,
                serve: $crate::__private::serve::<$transport>,
            };
        };
    };
}

/// Turns this process into a worker if it was started as one; returns at once
/// otherwise.
///
/// On Linux and the other platforms `ctor` supports, procs does this before
/// `main` on its own, so a `#[remote]` function works in any binary, test or
/// example with no set-up at all. On Linux with glibc, the worker first runs
/// the program's other constructors (`inventory`, `typetag`, `#[ctor]`,
/// ...), so a task sees the start-up `main` sees; a worker also ignores
/// SIGPIPE as std's runtime does. Calling `init()` first thing in `main` is
/// harmless and documents the worker entry; on a platform where constructors
/// do not run, it is required.
///
/// # Examples
///
/// ```
/// # #[allow(clippy::needless_doctest_main)]
/// fn main() {
///     procs_core::init();
///     // ... the program, which may start pools ...
/// }
/// ```
pub fn init() {
    init_with(|| {});
}

/// [`init`], running `finish_startup` (the program's constructors after
/// procs' own, see [`crate::startup`]) once the process knows it is a worker
/// and before it serves.
pub(crate) fn init_with(finish_startup: impl FnOnce()) {
    let Some(name) = std::env::var_os(ENV_WORKER) else {
        return;
    };
    IN_WORKER.store(true, Ordering::Relaxed);
    // First, so that the window in which the parent's death goes unnoticed
    // is as short as possible. Workers that a pool attaches to (`serve`) have
    // no spawning parent and never come through here.
    if let Some(parent) = std::env::var(ENV_PARENT_PID)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        crate::launch::die_with_parent(parent);
    }
    let max = std::env::var(ENV_MAX_MESSAGE)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::builder::DEFAULT_MAX_MESSAGE_SIZE);
    // SAFETY: a worker is single-threaded here (before main, or the first
    // line of main as documented). Removing the variables keeps programs the
    // worker itself starts from mistaking themselves for workers.
    unsafe {
        std::env::remove_var(ENV_WORKER);
        std::env::remove_var(ENV_MAX_MESSAGE);
        std::env::remove_var(ENV_PARENT_PID);
    }
    // std's runtime ignores SIGPIPE before `main`, so that writing to a
    // closed pipe is an `Err(BrokenPipe)`; a worker never reaches that code.
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    finish_startup();
    match TRANSPORTS.iter().find(|t| name == t.name) {
        Some(transport) => crate::runtime::run_as_main(transport.serve, max),
        None => {
            eprintln!(
                "procs worker: this binary links no `{}` transport; the parent and the worker must be the same binary",
                name.to_string_lossy()
            );
            std::process::exit(EXIT_NO_TRANSPORT)
        }
    }
}
