use std::io::{self, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use interprocess::unnamed_pipe::{Recver, Sender};
use procs_core::{BoxError, Channel, Transport, frame};

use crate::error::Error;

/// The pipe buffer asked for: the default maximum an unprivileged process
/// may set.
const PIPE_BUFFER: libc::c_int = 1 << 20;

/// Names the worker's two inherited fds: `read,write`.
const ENV_FDS: &str = "PROCS_PIPE_FDS";

/// The [`Transport`] over anonymous pipes; the `procs` facade's default.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{pmap, Pool};
/// use procs_transport_pipe::PipeTransport;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = Pool::builder().transport(PipeTransport::default()).workers(2).build()?;
/// let squares: Vec<u64> = pool.pmap(square, 0..4).collect::<Result<_, _>>()?;
/// assert_eq!(squares, [0, 1, 4, 9]);
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PipeTransport {
    _private: (),
}

/// One end of a worker's pair of pipes.
///
/// # Examples
///
/// Channels are made by [`PipeTransport`]; a pool drives them:
///
/// ```no_run
/// use procs_core::Transport;
/// use procs_transport_pipe::{PipeChannel, PipeTransport};
///
/// fn worker_end() -> PipeChannel {
///     PipeTransport::connect(1 << 20).expect("started by a procs pool")
/// }
/// ```
#[derive(Debug)]
pub struct PipeChannel {
    tx: Sender,
    /// Buffered: the frames of pipelined requests (or answers) that arrive
    /// together are read with one syscall, not two each.
    rx: BufReader<Recver>,
    max_message_size: usize,
}

impl Channel for PipeChannel {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // Straight to the pipe: `Sender::flush` calls fsync, which fails on a
        // pipe, so no BufWriter may sit in front of it.
        frame::write_frame(&mut self.tx, msg)
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.rx, self.max_message_size)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        frame::read_frame_into(&mut self.rx, self.max_message_size, buf)
    }
}

impl Transport for PipeTransport {
    type Channel = PipeChannel;
    const NAME: &'static str = "pipe";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(PipeChannel, Child), BoxError> {
        let (child_rx, parent_tx) = pipe().map_err(Error::Pipe)?;
        let (parent_rx, child_tx) = pipe().map_err(Error::Pipe)?;
        let ends = [child_rx.as_raw_fd(), child_tx.as_raw_fd()];
        cmd.env(ENV_FDS, format!("{},{}", ends[0], ends[1]));
        // SAFETY: fcntl is async-signal-safe; it runs in the child between
        // fork and exec and touches only the two fds meant for the child.
        unsafe {
            cmd.pre_exec(move || ends.iter().try_for_each(|&fd| set_cloexec(fd, false)));
        }
        let child = cmd.spawn().map_err(Error::Spawn)?;
        // Our copies of the child's ends must go, or we would never see EOF
        // when the child dies.
        drop((child_rx, child_tx));
        let channel = PipeChannel {
            tx: Sender::from(parent_tx),
            rx: BufReader::new(Recver::from(parent_rx)),
            max_message_size: max,
        };
        Ok((channel, child))
    }

    fn connect(max: usize) -> Result<PipeChannel, BoxError> {
        let fds = std::env::var(ENV_FDS).map_err(|_| Error::Endpoint)?;
        let (rx, tx) = parse_fds(&fds).ok_or(Error::Endpoint)?;
        for fd in [rx, tx] {
            // Anything the worker itself spawns must not hold its parent link.
            set_cloexec(fd, true).map_err(|_| Error::Endpoint)?;
        }
        // SAFETY: the parent passed these two fds to this process alone, and
        // set_cloexec just proved they are open; nothing else owns them.
        let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(rx), OwnedFd::from_raw_fd(tx)) };
        Ok(PipeChannel {
            tx: Sender::from(tx),
            rx: BufReader::new(Recver::from(rx)),
            max_message_size: max,
        })
    }
}

procs_core::register_transport!(PipeTransport);

fn parse_fds(value: &str) -> Option<(RawFd, RawFd)> {
    let (rx, tx) = value.split_once(',')?;
    let (rx, tx) = (rx.parse().ok()?, tx.parse().ok()?);
    (rx > 2 && tx > 2 && rx != tx).then_some((rx, tx))
}

/// A pipe as `(read end, write end)`, both close-on-exec from birth so that
/// no process spawned meanwhile by another thread inherits them, and both
/// above the standard streams, which the child's stdio set-up overwrites.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and ours.
    let (rx, tx) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A larger buffer moves big messages with a sixteenth of the wake-ups.
    // Best effort: past /proc/sys/fs/pipe-max-size the default 64 KiB stays,
    // which the pool's pipelining never exceeds anyway.
    // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer.
    unsafe { libc::fcntl(tx.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER) };
    Ok((above_stdio(rx)?, above_stdio(tx)?))
}

fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd that we then own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dup is a fresh, open fd.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only read and write the fd's flags.
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

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn endpoint_variable_is_validated() {
        assert_eq!(parse_fds("5,6"), Some((5, 6)));
        for bad in ["", "5", "5,", ",6", "a,b", "5,5", "1,6", "-1,7", "5,6,7"] {
            assert_eq!(parse_fds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pipes_are_born_close_on_exec_and_above_stdio() {
        let (rx, tx) = pipe().unwrap();
        for fd in [&rx, &tx] {
            assert!(fd.as_raw_fd() > 2);
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
    }

    #[test]
    fn channel_frames_messages_over_a_real_pipe() {
        let (a_rx, b_tx) = pipe().unwrap();
        let (b_rx, a_tx) = pipe().unwrap();
        let mut a = PipeChannel {
            tx: Sender::from(a_tx),
            rx: BufReader::new(Recver::from(a_rx)),
            max_message_size: 16,
        };
        let mut b = PipeChannel {
            tx: Sender::from(b_tx),
            rx: BufReader::new(Recver::from(b_rx)),
            max_message_size: 16,
        };
        a.send(b"ping").unwrap();
        assert_eq!(b.recv().unwrap().unwrap(), b"ping");
        b.send(&[0; 17]).unwrap();
        assert_eq!(a.recv().unwrap_err().kind(), io::ErrorKind::InvalidData);
        drop(b);
        // a's read end sees the rest of the oversized frame, then EOF.
    }
}
