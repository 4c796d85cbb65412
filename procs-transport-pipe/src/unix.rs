use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::{mem, ptr};

use interprocess::unnamed_pipe::{Recver, Sender};
use procs_core::BoxError;
use procs_core::transport::{Channel, Transport, above_stdio, frame};

use crate::counted::Counted;
use crate::error::Error;
use crate::splice;

/// The pipe buffer asked for: the default maximum an unprivileged process
/// may set.
const PIPE_BUFFER: libc::c_int = 1 << 20;

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
/// use procs_core::transport::Transport;
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
    rx: BufReader<Counted<Recver>>,
    max_message_size: usize,
}

impl Channel for PipeChannel {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.len() >= splice::SPLICE_MIN {
            return splice::write_frame(&mut self.tx, msg);
        }
        // Straight to the pipe: `Sender::flush` calls fsync, which fails on a
        // pipe, so no BufWriter may sit in front of it.
        frame::write_frame(&mut self.tx, msg)
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.rx, self.max_message_size)
    }

    fn send_many(&mut self, msgs: &[&[u8]]) -> io::Result<()> {
        if msgs.iter().any(|msg| msg.len() >= splice::SPLICE_MIN) {
            return msgs.iter().try_for_each(|msg| self.send(msg));
        }
        frame::write_frames(&mut self.tx, msgs)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        frame::read_frame_into(&mut self.rx, self.max_message_size, buf)
    }

    fn reads(&self) -> Option<u64> {
        Some(self.rx.get_ref().reads())
    }
}

impl Transport for PipeTransport {
    type Channel = PipeChannel;
    const NAME: &'static str = "pipe";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(PipeChannel, Child), BoxError> {
        let (child_rx, parent_tx) = pipe().map_err(Error::Pipe)?;
        let (parent_rx, child_tx) = pipe().map_err(Error::Pipe)?;
        // The child's ends travel in a message on a socket that becomes the
        // child's stdin. Nothing is ever inheritable in this process: std
        // dup2s the socket onto fd 0 in the child alone (a posix_spawn file
        // action), so a process that another thread spawns meanwhile, ours
        // or not, inherits nothing of this worker's. Clearing close-on-exec
        // in a `pre_exec` hook would do the same but force a full `fork`;
        // clearing it in the parent, even under a lock, would leak the ends
        // into whatever other threads spawn in that window.
        let (ours, theirs) = UnixStream::pair().map_err(Error::Pipe)?;
        send_ends(ours.as_fd(), [child_rx.as_fd(), child_tx.as_fd()]).map_err(Error::Pipe)?;
        // Our copies of the child's ends must go, or we would never see EOF
        // when the child dies; the message holds them until the child takes
        // them, and if it dies first they close with its stdin.
        drop((child_rx, child_tx, ours));
        cmd.stdin(Stdio::from(OwnedFd::from(theirs)));
        let child = cmd.spawn().map_err(Error::Spawn)?;
        // `cmd` holds our copy of the child's stdin.
        drop(cmd);
        let channel = PipeChannel {
            tx: Sender::from(parent_tx),
            rx: BufReader::new(Counted::new(Recver::from(parent_rx))),
            max_message_size: max,
        };
        Ok((channel, child))
    }

    fn connect(max: usize) -> Result<PipeChannel, BoxError> {
        let stdin = io::stdin();
        let [rx, tx] = recv_ends(stdin.as_fd()).map_err(Error::Endpoint)?;
        // A parent with closed standard streams passes them on closed: the
        // ends would then land on 1 or 2, and the worker's prints in its
        // replies.
        let (rx, tx) = (
            above_stdio(rx).map_err(Error::Endpoint)?,
            above_stdio(tx).map_err(Error::Endpoint)?,
        );
        // The socket is empty and its other end closed, so it would read as
        // an empty stdin already; /dev/null, which the worker was promised,
        // also keeps code that inspects its stdin from seeing a socket. Best
        // effort for the same reason.
        if let Ok(null) = File::open("/dev/null") {
            // SAFETY: dup2 onto fd 0, which this process owns as its stdin;
            // the new fd 0 is inheritable, as stdin should be.
            unsafe { libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO) };
        }
        Ok(PipeChannel {
            tx: Sender::from(tx),
            rx: BufReader::new(Counted::new(Recver::from(rx))),
            max_message_size: max,
        })
    }
}

procs_core::transport::register_transport!(PipeTransport);

/// A pipe as `(read end, write end)`, both close-on-exec from birth so that
/// no process spawned meanwhile by another thread inherits them, and both
/// above the standard streams, where a parent whose own stdout is closed
/// would otherwise print into a worker's requests.
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

/// Room for one `SCM_RIGHTS` message of two fds, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);

/// The length of the control message carrying `ENDS` fds.
fn control_len() -> usize {
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let len = unsafe { libc::CMSG_SPACE(mem::size_of::<[RawFd; ENDS]>() as u32) } as usize;
    assert!(len <= mem::size_of::<ControlBuffer>());
    len
}

/// The number of fds a worker receives: its read end, then its write end.
const ENDS: usize = 2;

/// Sends the worker's two ends over `socket`, with one byte of data (a
/// stream socket carries no ancillary data without some).
fn send_ends(socket: BorrowedFd<'_>, ends: [BorrowedFd<'_>; ENDS]) -> io::Result<()> {
    with_message(|msg| send_ends_in(socket, ends, msg))
}

/// One byte of data and room for one `SCM_RIGHTS` header of `ENDS` fds, as a
/// `msghdr` naming buffers that live for the call of `f`.
fn with_message<R>(f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: byte.len(),
    };
    let mut control = ControlBuffer([0; 64]);
    // SAFETY: msghdr is plain data, valid when zeroed.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control_len() as _;
    f(&mut msg)
}

fn send_ends_in(
    socket: BorrowedFd<'_>,
    ends: [BorrowedFd<'_>; ENDS],
    msg: &mut libc::msghdr,
) -> io::Result<()> {
    // SAFETY: msg_control points to `control_len()` bytes, aligned and large
    // enough for one header and `ENDS` fds, so CMSG_FIRSTHDR is non-null and
    // CMSG_DATA points to room for them; sendmsg only reads what msg names.
    let sent = unsafe {
        let header = libc::CMSG_FIRSTHDR(msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(mem::size_of::<[RawFd; ENDS]>() as u32) as _;
        let fds = ends.map(|end| end.as_raw_fd());
        ptr::write_unaligned(libc::CMSG_DATA(header).cast::<[RawFd; ENDS]>(), fds);
        libc::sendmsg(socket.as_raw_fd(), msg, libc::MSG_NOSIGNAL)
    };
    match sent {
        1 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        _ => Err(io::ErrorKind::WriteZero.into()),
    }
}

/// Receives the two ends [`send_ends`] sent, close-on-exec so that nothing
/// the worker spawns holds its parent link.
fn recv_ends(socket: BorrowedFd<'_>) -> io::Result<[OwnedFd; ENDS]> {
    with_message(|msg| recv_ends_in(socket, msg))
}

fn recv_ends_in(socket: BorrowedFd<'_>, msg: &mut libc::msghdr) -> io::Result<[OwnedFd; ENDS]> {
    let received = loop {
        // SAFETY: msg names buffers we own, of the lengths it gives.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    // Take ownership of every fd that arrived before judging the message,
    // so that none leaks if it is not the expected one.
    let mut fds = Vec::with_capacity(ENDS);
    // SAFETY: recvmsg filled msg_control with well-formed headers up to
    // msg_controllen, which CMSG_FIRSTHDR/CMSG_NXTHDR walk; each SCM_RIGHTS
    // header is followed by that many fds, now open in this process and
    // owned by nothing else.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                for i in 0..bytes / mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(ptr::read_unaligned(data.add(i))));
                }
            }
            header = libc::CMSG_NXTHDR(msg, header);
        }
    }
    if received != 1 || msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no pipe ends arrived on stdin",
        ));
    }
    fds.try_into().map_err(|fds: Vec<OwnedFd>| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} fds arrived on stdin instead of {ENDS}", fds.len()),
        )
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn is_cloexec(fd: BorrowedFd<'_>) -> bool {
        // SAFETY: F_GETFD only reads the flags of a descriptor the borrow
        // keeps open.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert!(flags >= 0);
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn ends_cross_the_socket_close_on_exec() {
        let (rx, tx) = pipe().unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        send_ends(ours.as_fd(), [rx.as_fd(), tx.as_fd()]).unwrap();
        drop(ours);
        let [their_rx, their_tx] = recv_ends(theirs.as_fd()).unwrap();
        for fd in [&their_rx, &their_tx] {
            assert!(is_cloexec(fd.as_fd()));
        }
        // The same pipe, in the order sent: what goes into the received write
        // end comes out of the original read end, and the other way round.
        let mut channel = PipeChannel {
            tx: Sender::from(their_tx),
            rx: BufReader::new(Counted::new(Recver::from(rx))),
            max_message_size: 16,
        };
        channel.send(b"ping").unwrap();
        assert_eq!(channel.recv().unwrap().unwrap(), b"ping");
        let mut other = PipeChannel {
            tx: Sender::from(tx),
            rx: BufReader::new(Counted::new(Recver::from(their_rx))),
            max_message_size: 16,
        };
        other.send(b"pong").unwrap();
        assert_eq!(other.recv().unwrap().unwrap(), b"pong");
    }

    #[test]
    fn a_worker_without_ends_on_stdin_is_refused() {
        // Not a socket.
        let (rx, _tx) = pipe().unwrap();
        assert!(recv_ends(rx.as_fd()).is_err());
        // A socket whose peer sent nothing.
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(ours);
        let err = recv_ends(theirs.as_fd()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Data but no fds.
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        std::io::Write::write_all(&mut ours, b"x").unwrap();
        let err = recv_ends(theirs.as_fd()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn pipes_are_born_close_on_exec_and_above_stdio() {
        let (rx, tx) = pipe().unwrap();
        for fd in [&rx, &tx] {
            assert!(fd.as_raw_fd() > 2);
            assert!(is_cloexec(fd.as_fd()));
        }
    }

    #[test]
    fn channel_frames_messages_over_a_real_pipe() {
        let (a_rx, b_tx) = pipe().unwrap();
        let (b_rx, a_tx) = pipe().unwrap();
        let mut a = PipeChannel {
            tx: Sender::from(a_tx),
            rx: BufReader::new(Counted::new(Recver::from(a_rx))),
            max_message_size: 16,
        };
        let mut b = PipeChannel {
            tx: Sender::from(b_tx),
            rx: BufReader::new(Counted::new(Recver::from(b_rx))),
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
