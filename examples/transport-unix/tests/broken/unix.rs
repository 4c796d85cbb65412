#![allow(dead_code, reason = "each test binary uses some of the broken copies")]

//! Deliberately broken copies of the example transport
//! (`procs_transport_unix_example::UnixTransport`), each with one planted
//! bug, for the kit's own tests: the kit must fail each of them, naming
//! the check.

use std::fmt;
use std::io::{self, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use procs_core::BoxError;
use procs_core::transport::{Channel, Transport, frame};

const ENV_FD: &str = "PROCS_BROKEN_UNIX_FD";

/// `recv` ignores its `max_message_size`.
pub(crate) const IGNORES_LIMIT: u8 = 0;
/// `connect` leaves the worker's end inheritable: every process the user's
/// code starts holds the link.
pub(crate) const INHERITABLE_IN_WORKER: u8 = 1;
/// Errors are wrapped in a type that keeps no source, so the default
/// `Channel::fault` cannot tell a protocol fault from a broken link.
pub(crate) const OPAQUE_ERRORS: u8 = 2;
/// `recv` takes a reset or an end for "no data yet" and polls on.
pub(crate) const RESET_IS_NO_DATA: u8 = 3;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Broken<const MODE: u8>;

#[derive(Debug)]
pub(crate) struct BrokenChannel<const MODE: u8> {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    max_message_size: usize,
}

/// A wrapping error type. Most copies keep the `io::Error` as its source,
/// which is all the default `Channel::fault` needs; `OPAQUE_ERRORS` drops it.
#[derive(Debug)]
pub(crate) struct Wrapped {
    message: String,
    source: Option<io::Error>,
}

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link failed: {}", self.message)
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

fn wrap<const MODE: u8>(e: io::Error) -> Wrapped {
    Wrapped {
        message: e.to_string(),
        source: (MODE != OPAQUE_ERRORS).then_some(e),
    }
}

impl<const MODE: u8> Channel for BrokenChannel<MODE> {
    type Error = Wrapped;

    fn send(&mut self, msg: &[u8]) -> Result<(), Wrapped> {
        frame::write_frame(&mut self.writer, msg).map_err(wrap::<MODE>)
    }

    fn recv(&mut self) -> Result<Option<Vec<u8>>, Wrapped> {
        let limit = if MODE == IGNORES_LIMIT {
            usize::MAX
        } else {
            self.max_message_size
        };
        loop {
            let read = frame::read_frame(&mut self.reader, limit);
            if MODE == RESET_IS_NO_DATA {
                match &read {
                    Ok(None) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                    _ => return read.map_err(wrap::<MODE>),
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            return read.map_err(wrap::<MODE>);
        }
    }
}

impl<const MODE: u8> BrokenChannel<MODE> {
    fn new(stream: UnixStream, max_message_size: usize) -> io::Result<BrokenChannel<MODE>> {
        let writer = stream.try_clone()?;
        Ok(BrokenChannel {
            reader: BufReader::new(stream),
            writer,
            max_message_size,
        })
    }
}

impl<const MODE: u8> Transport for Broken<MODE> {
    type Channel = BrokenChannel<MODE>;
    const NAME: &'static str = match MODE {
        IGNORES_LIMIT => "broken-ignores-limit",
        INHERITABLE_IN_WORKER => "broken-inheritable-in-worker",
        OPAQUE_ERRORS => "broken-opaque-errors",
        _ => "broken-reset-is-no-data",
    };

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        let (ours, theirs) = UnixStream::pair()?;
        let fd = above_stdio(theirs)?;
        let raw = fd.as_raw_fd();
        cmd.env(ENV_FD, raw.to_string());
        // SAFETY: fcntl is async-signal-safe; between fork and exec it
        // clears close-on-exec on the one descriptor meant for this child.
        unsafe {
            cmd.pre_exec(move || set_cloexec(raw, false));
        }
        let child = cmd.spawn()?;
        drop(fd);
        Ok((BrokenChannel::new(ours, max)?, child))
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        let raw: RawFd = std::env::var(ENV_FD)?.parse()?;
        if MODE != INHERITABLE_IN_WORKER {
            set_cloexec(raw, true)?;
        }
        // SAFETY: the parent passed this descriptor to this process alone.
        let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(raw) });
        Ok(BrokenChannel::new(stream, max)?)
    }
}

fn above_stdio(fd: UnixStream) -> io::Result<OwnedFd> {
    let fd = OwnedFd::from(fd);
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh, open descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

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
