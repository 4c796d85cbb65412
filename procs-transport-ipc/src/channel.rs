//! The channel: a pair of `ipc-channel` senders and receivers, and on the
//! parent's side, the wait for the worker to connect.

use std::fmt;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use ipc_channel::IpcError;
use ipc_channel::ipc::{IpcReceiver, IpcSender};
use procs_core::Channel;
use procs_core::frame::FrameTooLarge;

use crate::error::Error;
use crate::packet::{Bytes, Packet, unwinding};

/// What the thread blocked in `IpcOneShotServer::accept` hands back.
pub(crate) type Accepted = Result<(IpcReceiver<Packet>, Packet), IpcError>;

/// How long to wait for the accepting thread once the worker is known to be
/// gone; it returns at once unless something outside procs holds the
/// worker's socket.
const ACCEPT_DRAIN: Duration = Duration::from_secs(5);

/// One end of a worker's pair of `ipc-channel` sockets.
///
/// Messages of at most [`SHARED_MEMORY_THRESHOLD`](crate::SHARED_MEMORY_THRESHOLD)
/// bytes travel inside the socket; larger ones travel in a shared memory
/// region (a memfd) whose file descriptor travels in the socket, so a large
/// argument is copied once into the region and once out of it, and never
/// through the kernel's socket buffer.
///
/// The parent's end is returned by [`spawn`](procs_core::Transport::spawn)
/// before the worker has connected; its first [`recv`](Channel::recv) waits
/// for the connection while watching the worker, and returns `Ok(None)` if
/// the worker exits without connecting. The pool's handshake deadline bounds
/// that wait: it kills a worker that neither connects nor exits.
///
/// # Examples
///
/// Channels are made by [`IpcTransport`](crate::IpcTransport); a pool drives them:
///
/// ```no_run
/// use procs_core::Transport;
/// use procs_transport_ipc::{IpcChannel, IpcTransport};
///
/// fn worker_end() -> IpcChannel {
///     IpcTransport::connect(1 << 20).expect("started by a procs pool")
/// }
/// ```
pub struct IpcChannel {
    link: Link,
    max_message_size: usize,
}

enum Link {
    /// Spawned; the worker has not connected yet.
    Pending(Pending),
    Ready {
        tx: IpcSender<Packet>,
        rx: IpcReceiver<Packet>,
    },
    /// The worker went away without connecting.
    Gone,
}

pub(crate) struct Pending {
    pub(crate) accepted: Receiver<Accepted>,
    /// The server's socket path, to release the accepting thread.
    pub(crate) server: String,
    pub(crate) pid: u32,
}

impl IpcChannel {
    pub(crate) fn pending(pending: Pending, max_message_size: usize) -> IpcChannel {
        IpcChannel {
            link: Link::Pending(pending),
            max_message_size,
        }
    }

    pub(crate) fn ready(
        tx: IpcSender<Packet>,
        rx: IpcReceiver<Packet>,
        max_message_size: usize,
    ) -> IpcChannel {
        IpcChannel {
            link: Link::Ready { tx, rx },
            max_message_size,
        }
    }

    /// Waits, if needed, for the worker to connect.
    fn established(&mut self) -> io::Result<Option<(&IpcSender<Packet>, &IpcReceiver<Packet>)>> {
        if let Link::Pending(pending) = &self.link {
            self.link = match pending.wait() {
                Ok((rx, Packet::Hello(tx))) => Link::Ready { tx, rx },
                Ok((_, other)) => return Err(Error::Unexpected(other.kind()).into_io()),
                // The worker connected and closed without a word, or never
                // connected and the accepting thread was released.
                Err(IpcError::Disconnected) => Link::Gone,
                Err(IpcError::Io(error)) if is_reset(&error) => Link::Gone,
                Err(error) => return Err(ipc_error(error)),
            };
        }
        match &self.link {
            Link::Ready { tx, rx } => Ok(Some((tx, rx))),
            Link::Gone => Ok(None),
            Link::Pending(_) => unreachable!("resolved above"),
        }
    }

    fn too_large(&self, len: usize) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            FrameTooLarge {
                len: len as u64,
                limit: self.max_message_size,
            },
        )
    }
}

impl Channel for IpcChannel {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.len() > self.max_message_size {
            return Err(self.too_large(msg.len()));
        }
        let Some((tx, _)) = self.established()? else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        let packet = Packet::carrying(msg).map_err(Error::into_io)?;
        match unwinding(|| tx.send(packet)).map_err(Error::into_io)? {
            Ok(()) => Ok(()),
            Err(IpcError::Disconnected) => Err(io::ErrorKind::BrokenPipe.into()),
            Err(error) => Err(ipc_error(error)),
        }
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        Ok(self.recv_packet()?.map(|packet| match packet {
            Packet::Inline(Bytes(bytes)) => bytes,
            Packet::Shared(shm) => shm.to_vec(),
            Packet::Hello(_) => unreachable!("refused by recv_packet"),
        }))
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        match self.recv_packet()? {
            Some(Packet::Inline(Bytes(bytes))) => *buf = bytes,
            Some(Packet::Shared(shm)) => {
                // Into memory already mapped: overwrite, don't zero first.
                buf.truncate(shm.len());
                let kept = buf.len();
                buf[..kept].copy_from_slice(&shm[..kept]);
                buf.extend_from_slice(&shm[kept..]);
            }
            Some(Packet::Hello(_)) => unreachable!("refused by recv_packet"),
            None => return Ok(false),
        }
        Ok(true)
    }
}

impl IpcChannel {
    /// The next data packet, checked against the size limit; `None` when the
    /// peer closed the link between messages.
    fn recv_packet(&mut self) -> io::Result<Option<Packet>> {
        let max = self.max_message_size;
        let Some((_, rx)) = self.established()? else {
            return Ok(None);
        };
        let packet = match unwinding(|| rx.recv()).map_err(Error::into_io)? {
            Ok(packet) => packet,
            Err(IpcError::Disconnected) => return Ok(None),
            // The worker died with our last message unread: a socket
            // packet arrives whole or not at all, so this is between
            // messages too.
            Err(IpcError::Io(error)) if is_reset(&error) => return Ok(None),
            Err(error) => return Err(ipc_error(error)),
        };
        let len = match &packet {
            Packet::Inline(Bytes(bytes)) => bytes.len(),
            Packet::Shared(shm) => shm.len(),
            Packet::Hello(_) => return Err(Error::Unexpected("hello").into_io()),
        };
        // A shared region is only mapped so far: refuse it before copying.
        if len > max {
            return Err(self.too_large(len));
        }
        Ok(Some(packet))
    }
}

impl Pending {
    /// Waits for the accepting thread, checking on the worker meanwhile.
    fn wait(&self) -> Accepted {
        let mut pause = Duration::from_micros(100);
        loop {
            match self.accepted.recv_timeout(pause) {
                Ok(accepted) => return accepted,
                Err(RecvTimeoutError::Disconnected) => return Err(lost()),
                Err(RecvTimeoutError::Timeout) if exited(self.pid) => {
                    // The worker is gone: its socket, if it connected, is
                    // closed, and a thread still in accept() is released.
                    release(&self.server);
                    return self
                        .accepted
                        .recv_timeout(ACCEPT_DRAIN)
                        .unwrap_or_else(|_| Err(lost()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    pause = (pause * 2).min(Duration::from_millis(10))
                }
            }
        }
    }
}

impl Drop for IpcChannel {
    fn drop(&mut self) {
        if let Link::Pending(pending) = &self.link {
            // Never join: the worker may be alive until the pool, which
            // drops the channel first, kills it.
            release(&pending.server);
        }
    }
}

impl fmt::Debug for IpcChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = match &self.link {
            Link::Pending(pending) => format!("waiting for worker {}", pending.pid),
            Link::Ready { .. } => "connected".to_owned(),
            Link::Gone => "gone".to_owned(),
        };
        f.debug_struct("IpcChannel")
            .field("link", &link)
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

fn lost() -> IpcError {
    IpcError::Io(Error::AcceptLost.into_io())
}

fn is_reset(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionReset
}

fn ipc_error(error: IpcError) -> io::Error {
    match error {
        IpcError::Io(error) => error,
        IpcError::Disconnected => io::ErrorKind::BrokenPipe.into(),
        IpcError::SerializationError(error) => Error::Malformed(error.into()).into_io(),
    }
}

/// Whether the child `pid` has exited, without reaping it: its owner (the
/// pool) reaps it only after dropping this channel.
fn exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: WNOWAIT leaves the child waitable; the call touches nothing else.
    let result = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // An error (ECHILD) means someone already reaped it.
    // SAFETY: waitid filled `info` (si_pid stays 0 if the child still runs).
    result != 0 || unsafe { info.si_pid() } != 0
}

/// Releases a thread blocked in `accept` on the server at `path` by
/// connecting and hanging up: `accept` then fails and the server, with its
/// temporary directory, is dropped. Harmless if the server is gone.
///
/// This opens its own socket rather than calling `IpcSender::connect`,
/// which leaks its socket when the connection fails.
fn release(path: &str) {
    let Ok(path) = std::ffi::CString::new(path) else {
        return;
    };
    // SAFETY: a zeroed sockaddr_un is valid; the path is copied with room
    // for the terminating NUL.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return;
        }
        let _close = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_bytes();
        if bytes.len() >= addr.sun_path.len() {
            return;
        }
        for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        libc::connect(
            fd,
            (&raw const addr).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod test {
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    use ipc_channel::ipc;
    use procs_core::Transport;

    use super::*;
    use crate::IpcTransport;

    /// Two connected ends, in this process.
    fn pair(max_a: usize, max_b: usize) -> (IpcChannel, IpcChannel) {
        let (to_b, from_a) = ipc::channel().unwrap();
        let (to_a, from_b) = ipc::channel().unwrap();
        (
            IpcChannel::ready(to_b, from_b, max_a),
            IpcChannel::ready(to_a, from_a, max_b),
        )
    }

    fn gone(path: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(path).exists() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    #[test]
    fn messages_of_every_route_cross_in_order() {
        let (mut a, mut b) = pair(1 << 24, 1 << 24);
        let sizes = [
            0,
            1,
            crate::SHARED_MEMORY_THRESHOLD,
            crate::SHARED_MEMORY_THRESHOLD + 1,
            3 << 20,
        ];
        for (i, &len) in sizes.iter().enumerate() {
            a.send(&vec![i as u8; len]).unwrap();
        }
        for (i, &len) in sizes.iter().enumerate() {
            assert_eq!(b.recv().unwrap().unwrap(), vec![i as u8; len]);
        }
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }

    #[test]
    fn limits_hold_on_both_sides() {
        let (mut a, mut b) = pair(1 << 20, 1 << 10);
        let err = a.send(&vec![0; (1 << 20) + 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Under the sender's limit, over the receiver's: refused on arrival,
        // through shared memory and inline alike.
        for len in [1 << 19, 2000] {
            a.send(&vec![0; len]).unwrap();
            let err = b.recv().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let too_large = err.get_ref().unwrap().downcast_ref::<FrameTooLarge>();
            assert_eq!(too_large.map(|e| e.len), Some(len as u64));
        }
    }

    #[test]
    fn a_worker_that_exits_without_connecting_ends_recv() {
        let (mut channel, mut child) = IpcTransport::default()
            .spawn(Command::new("/bin/true"), 1024)
            .unwrap();
        let server = match &channel.link {
            Link::Pending(pending) => pending.server.clone(),
            _ => unreachable!("spawn returns a pending channel"),
        };
        assert!(channel.recv().unwrap().is_none());
        assert!(channel.send(b"x").is_err());
        assert!(child.wait().unwrap().success());
        assert!(gone(&server), "the accepting thread still holds {server}");
    }

    #[test]
    fn dropping_a_pending_channel_releases_the_server() {
        let mut sleep = Command::new("/bin/sleep");
        sleep.arg("30");
        let (channel, mut child) = IpcTransport::default().spawn(sleep, 1024).unwrap();
        let server = match &channel.link {
            Link::Pending(pending) => pending.server.clone(),
            _ => unreachable!("spawn returns a pending channel"),
        };
        drop(channel);
        assert!(gone(&server), "the accepting thread still holds {server}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
