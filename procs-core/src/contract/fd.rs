//! What every transport that hands descriptors to a worker needs.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `fd`, moved above 0, 1 and 2 if it is one of them, and close-on-exec.
///
/// A transport's descriptors must not sit where the child's standard input,
/// output and error go: `Command`'s stdio set-up would overwrite them in the
/// child. A process started with some of 0–2 closed gets its next
/// descriptors there.
///
/// # Errors
///
/// When `fcntl(F_DUPFD_CLOEXEC)` fails (the process is out of descriptors).
///
/// # Examples
///
/// ```
/// use std::os::fd::{AsRawFd, OwnedFd};
/// use procs_core::transport::above_stdio;
///
/// let file = std::fs::File::open("/dev/null")?;
/// let fd = above_stdio(OwnedFd::from(file))?;
/// assert!(fd.as_raw_fd() > 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
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
