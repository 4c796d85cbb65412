//! Watching a spawned child for its exit without reaping it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::process::Child;
use std::time::{Duration, Instant};

/// Tells whether a child that [`Transport::spawn`](crate::transport::Transport::spawn)
/// started has exited, without reaping it: the pool reaps it, from the
/// `Child` the transport returns.
///
/// Made in `spawn`, right after the child is started (before the pool can
/// reap it), it holds a pidfd (`pidfd_open`, Linux 5.3 and later): the
/// pidfd refers to that very process, stays readable once it has exited,
/// and is not confused by the pool reaping it or by the pid being reused.
/// Where `pidfd_open` is missing it falls back to `waitid(WNOWAIT)` on the
/// pid, which is only sound until the pool reaps the child.
///
/// A transport whose worker connects back to it uses this while it waits
/// for the connection, so that a worker that exits (or is killed at the
/// handshake deadline) before connecting ends the wait;
/// [`Accepting`](crate::transport::Accepting) does.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use procs_core::transport::ChildWatch;
///
/// let mut child = Command::new("true").spawn()?;
/// let watch = ChildWatch::new(&child)?;
/// assert!(watch.wait_exit(Duration::from_secs(10))?);
/// child.wait()?; // the pool's job, in a transport
/// assert!(watch.has_exited()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ChildWatch {
    pid: libc::pid_t,
    /// `None` where `pidfd_open` is not available.
    pidfd: Option<OwnedFd>,
}

impl ChildWatch {
    /// Starts watching `child`; call it before handing `child` on.
    ///
    /// # Examples
    ///
    /// See [`ChildWatch`].
    ///
    /// # Errors
    ///
    /// When the pidfd cannot be made for a reason other than the kernel not
    /// having `pidfd_open`.
    pub fn new(child: &Child) -> io::Result<ChildWatch> {
        let pid = child.id() as libc::pid_t;
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor (close-on-exec) or -1; it touches no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let error = io::Error::last_os_error();
            return match error.raw_os_error() {
                Some(libc::ENOSYS | libc::EPERM) => Ok(ChildWatch { pid, pidfd: None }),
                _ => Err(error),
            };
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(ChildWatch {
            pid,
            pidfd: Some(pidfd),
        })
    }

    /// Whether the child has exited (it may not be reaped yet).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::process::Command;
    /// let mut child = Command::new("sleep").arg("5").spawn()?;
    /// let watch = procs_core::transport::ChildWatch::new(&child)?;
    /// assert!(!watch.has_exited()?);
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(watch.has_exited()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When `poll` or `waitid` fails.
    pub fn has_exited(&self) -> io::Result<bool> {
        Ok(self.wait(None, Some(Duration::ZERO))? == Woke::Exited)
    }

    /// Waits up to `timeout` for the child to exit; whether it did.
    ///
    /// # Examples
    ///
    /// See [`ChildWatch`].
    ///
    /// # Errors
    ///
    /// When `poll` or `waitid` fails.
    pub fn wait_exit(&self, timeout: Duration) -> io::Result<bool> {
        Ok(self.wait(None, Some(timeout))? == Woke::Exited)
    }

    /// Waits until `fd` is readable or the child exits, at most `timeout`
    /// (`None`: no limit). The exit wins when both happened.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use procs_core::transport::{ChildWatch, Woke};
    ///
    /// let mut child = Command::new("sleep").arg("5").spawn()?;
    /// let watch = ChildWatch::new(&child)?;
    /// let (a, b) = UnixStream::pair()?;
    /// drop(b); // `a` reads the end: readable
    /// assert_eq!(watch.wait(Some(a.as_fd()), Some(Duration::from_secs(5)))?, Woke::Ready);
    /// child.kill()?;
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When `poll` or `waitid` fails.
    pub fn wait(&self, fd: Option<BorrowedFd<'_>>, timeout: Option<Duration>) -> io::Result<Woke> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let (pidfd, slice) = match &self.pidfd {
                Some(pidfd) => (Some(pidfd.as_fd()), left),
                // Without a pidfd, poll in short slices and ask waitid.
                None => (None, Some(left.map_or(SLICE, |l| l.min(SLICE)))),
            };
            let mut fds = Vec::with_capacity(2);
            if let Some(pidfd) = pidfd {
                fds.push(pollfd(pidfd));
            }
            if let Some(fd) = fd {
                fds.push(pollfd(fd));
            }
            let ms = slice.map_or(-1, |s| s.as_millis().min(i32::MAX as u128) as i32);
            // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            let exited = match pidfd {
                Some(_) => fds[0].revents != 0,
                None => self.exited_by_waitid()?,
            };
            if exited {
                return Ok(Woke::Exited);
            }
            if fd.is_some() && fds.last().is_some_and(|f| f.revents != 0) {
                return Ok(Woke::Ready);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Woke::TimedOut);
            }
        }
    }

    fn exited_by_waitid(&self) -> io::Result<bool> {
        match exited_unreaped(self.pid as u32) {
            // Already reaped by the pool: it has exited.
            Err(error) if error.raw_os_error() == Some(libc::ECHILD) => Ok(true),
            other => other,
        }
    }
}

/// Whether child `pid` has exited, without reaping it (`WNOWAIT`): the
/// zombie keeps its pid, and so its process group id, from being reused, and
/// is left for whoever owns the `Child` to reap. `ECHILD` if it is not (or no
/// longer) a child to wait for.
pub(crate) fn exited_unreaped(pid: u32) -> io::Result<bool> {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid writes into `info`, which lives across the call.
    if unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // With WNOHANG, a child that has not changed state leaves si_pid zero.
    // SAFETY: waitid filled `info` (or left it zeroed).
    Ok(unsafe { info.si_pid() } != 0)
}

impl AsRawFd for ChildWatch {
    /// The pidfd, or -1 without one.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.pidfd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }
}

/// What ended a [`ChildWatch::wait`].
///
/// # Examples
///
/// See [`ChildWatch::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The child exited.
    Exited,
    /// The descriptor is readable (or closed, or in error).
    Ready,
    /// The timeout passed.
    TimedOut,
}

const SLICE: Duration = Duration::from_millis(10);

fn pollfd(fd: BorrowedFd<'_>) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }
}
