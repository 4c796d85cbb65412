//! A procs transport over a Unix socket pair, written the way a third-party
//! crate would write one: it depends on `procs-core` alone (and `libc` for
//! one `fcntl`), implements [`Transport`] (its channel is the contract's
//! [`StreamChannel`]), registers itself,
//! and proves itself with the conformance kit (`tests/conformance.rs`).
//!
//! Read it next to `docs/writing-a-transport.md`, which walks through it.
//!
//! ```no_run
//! use procs_core::{proc, Pool};
//! use procs_transport_unix_example::UnixTransport;
//!
//! #[procs_derive::remote(crate = ::procs_core)]
//! fn double(x: u64) -> u64 { 2 * x }
//!
//! let pool = Pool::builder().transport(UnixTransport::default()).workers(2).build()?;
//! assert_eq!(pool.call(proc!(double(21)))?, 42);
//! # Ok::<(), procs_core::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use procs_core::BoxError;
use procs_core::transport::{StreamChannel, Transport, above_stdio};

/// Names the worker's inherited socket: its descriptor number.
const ENV_FD: &str = "PROCS_UNIX_FD";

/// A [`Transport`] over a Unix stream socket pair: one socket per worker,
/// length-prefixed frames ([`procs_core::transport::frame`]) both ways.
///
/// # Examples
///
/// ```no_run
/// use procs_core::Pool;
/// use procs_transport_unix_example::UnixTransport;
///
/// let pool = Pool::builder().transport(UnixTransport::default()).build()?;
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UnixTransport {
    _private: (),
}

/// One end of a worker's socket pair: the contract's ready-made
/// [`StreamChannel`], which frames messages and holds to the size limit.
///
/// # Examples
///
/// Channels are made by [`UnixTransport`]; a pool drives them:
///
/// ```no_run
/// use procs_core::transport::Transport;
/// use procs_transport_unix_example::{UnixChannel, UnixTransport};
///
/// fn worker_end() -> UnixChannel {
///     UnixTransport::connect(1 << 20).expect("started by a procs pool")
/// }
/// ```
pub type UnixChannel = StreamChannel<UnixStream>;

impl Transport for UnixTransport {
    type Channel = UnixChannel;
    const NAME: &'static str = "unix-example";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(UnixChannel, Child), BoxError> {
        // std makes both sockets close-on-exec: no other child, whoever
        // spawns it, can inherit them.
        let (ours, theirs) = UnixStream::pair()?;
        let fd = above_stdio(theirs.into())?;
        let raw = fd.as_raw_fd();
        cmd.env(ENV_FD, raw.to_string());
        // SAFETY: fcntl is async-signal-safe; between fork and exec it
        // clears close-on-exec on the one descriptor meant for this child.
        unsafe {
            cmd.pre_exec(move || set_cloexec(raw, false));
        }
        let child = cmd.spawn()?;
        // Our copy of the child's end must go, or the parent would never
        // see the end of a dead worker.
        drop(fd);
        Ok((StreamChannel::new(ours, max), child))
    }

    fn connect(max: usize) -> Result<UnixChannel, BoxError> {
        let raw: RawFd = std::env::var(ENV_FD)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&fd| fd > 2)
            .ok_or(Error::Endpoint)?;
        // Whatever the worker spawns must not hold its link to the parent.
        set_cloexec(raw, true)?;
        // SAFETY: the parent passed this descriptor to this process alone,
        // and set_cloexec just proved it open.
        let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(raw) });
        Ok(StreamChannel::new(stream, max))
    }
}

procs_core::transport::register_transport!(UnixTransport);

/// Errors of this transport that are not plain I/O errors.
///
/// # Examples
///
/// ```
/// let err = procs_transport_unix_example::Error::Endpoint;
/// assert!(err.to_string().contains("PROCS_UNIX_FD"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A worker found no valid socket descriptor in its environment.
    Endpoint,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Endpoint => write!(
                f,
                "the worker's socket (`{ENV_FD}`) is missing or malformed"
            ),
        }
    }
}

impl std::error::Error for Error {}

fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only read and write the descriptor's flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::FD_CLOEXEC
        } else {
            flags & !libc::FD_CLOEXEC
        };
        if libc::fcntl(fd, libc::F_SETFD, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
