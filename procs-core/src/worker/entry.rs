//! How a re-executed binary becomes a worker before `main` runs.

use crate::contract::registry::TRANSPORTS;
use crate::contract::{Channel, Transport};
use crate::wire::env::{
    self, ENV_CPU_TIME_LIMIT, ENV_MAX_MESSAGE, ENV_MEMORY_LIMIT, ENV_PARENT_PID, ENV_WORKER,
    WorkerExit,
};

/// Serves calls on `channel` until the parent closes it, then exits the
/// process: what a worker that something else launched (an MPI rank, a
/// remote host) runs instead of `main`, for a pool that
/// [attaches](crate::transport::Attach) to it.
///
/// From here on, the process refuses to start pools of its own.
///
/// # Examples
///
/// ```no_run
/// use std::os::unix::net::UnixListener;
/// use procs_core::transport::{frame, Channel};
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
/// procs_core::transport::serve(SocketChannel(stream), 1 << 30);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve<C: Channel>(channel: C, max_message_size: usize) -> ! {
    env::set_in_worker();
    // SAFETY: the variable is read, not removed (other threads may run).
    #[cfg(feature = "tracing")]
    unsafe {
        crate::worker::trace::install(false, max_message_size)
    };
    crate::worker::serve::serve_calls(channel, max_message_size, false)
}

/// Worker side of a transport: connect, then serve. Not a public API.
#[doc(hidden)]
pub fn connect_and_serve<T: Transport>(max_message_size: usize) -> ! {
    match T::connect(max_message_size) {
        Ok(channel) => crate::worker::serve::serve_calls(channel, max_message_size, true),
        Err(error) => {
            eprintln!(
                "procs worker: cannot connect over the `{}` transport: {error}",
                T::NAME
            );
            WorkerExit::Connect.exit()
        }
    }
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
/// procs' own, see `worker::startup`) once the process knows it is a worker
/// and before it serves.
pub(crate) fn init_with(finish_startup: impl FnOnce()) {
    let Some(name) = std::env::var_os(ENV_WORKER) else {
        return;
    };
    env::set_in_worker();
    // First, so that the window in which the parent's death goes unnoticed
    // is as short as possible. Workers that a pool attaches to (`serve`) have
    // no spawning parent and never come through here.
    if let Some(parent) = std::env::var(ENV_PARENT_PID)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        crate::worker::parent::die_with_parent(parent);
        crate::worker::parent::name_worker();
    }
    let max = std::env::var(ENV_MAX_MESSAGE)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(env::DEFAULT_MAX_MESSAGE_SIZE);
    let number = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let memory_limit = number(ENV_MEMORY_LIMIT);
    let cpu_time_limit = number(ENV_CPU_TIME_LIMIT).map(std::time::Duration::from_nanos);
    // SAFETY: a worker is single-threaded here (before main, or the first
    // line of main as documented). Removing the variables keeps programs the
    // worker itself starts from mistaking themselves for workers.
    unsafe {
        std::env::remove_var(ENV_WORKER);
        std::env::remove_var(ENV_MAX_MESSAGE);
        std::env::remove_var(ENV_PARENT_PID);
        std::env::remove_var(ENV_MEMORY_LIMIT);
        std::env::remove_var(ENV_CPU_TIME_LIMIT);
        // Before the program's other constructors, which may start threads;
        // they then run under the limits too, as part of the worker.
        crate::worker::limits::apply(memory_limit, cpu_time_limit);
    }
    // std's runtime ignores SIGPIPE before `main`, so that writing to a
    // closed pipe is an `Err(BrokenPipe)`; a worker never reaches that code.
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Before the program's other constructors, while single-threaded: the
    // parent's subscriber gets what they emit too.
    // SAFETY: still single-threaded, as above.
    #[cfg(feature = "tracing")]
    unsafe {
        crate::worker::trace::install(true, max)
    };
    finish_startup();
    match TRANSPORTS.iter().find(|t| name == t.name) {
        Some(transport) => crate::worker::runtime::run_as_main(transport.serve, max),
        None => {
            eprintln!(
                "procs worker: this binary links no `{}` transport; the parent and the worker must be the same binary",
                name.to_string_lossy()
            );
            WorkerExit::NoTransport.exit()
        }
    }
}
