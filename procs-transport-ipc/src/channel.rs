//! The channel: a pair of `ipc-channel` senders and receivers, and on the
//! parent's side, the wait for the worker to connect.

use std::fmt;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use ipc_channel::IpcError;
use ipc_channel::ipc::{IpcReceiver, IpcSender};
use procs_core::transport::frame::FrameTooLarge;
use procs_core::transport::{Channel, ChildWatch};

use crate::conn::Conn;
use crate::error::Error;
use crate::packet::Packet;

/// What the thread blocked in `IpcOneShotServer::accept` hands back.
pub(crate) type Accepted = Result<(IpcReceiver<Packet>, Packet), IpcError>;

/// How long to wait for the accepting thread once the worker is known to be
/// gone; it returns at once unless something outside procs holds the
/// worker's socket.
const ACCEPT_DRAIN: Duration = Duration::from_secs(5);

/// One end of a worker's pair of `ipc-channel` sockets.
///
/// Messages of at most [`SHARED_MEMORY_THRESHOLD`](crate::SHARED_MEMORY_THRESHOLD)
/// bytes travel inside the socket. Larger ones stream through a shared
/// memory ring (a memfd) in chunks of 1 MiB: the sender copies a chunk in
/// while the receiver copies the previous one out, and small packets on the
/// socket say which chunks are ready and which slots are free again. So a
/// large message never crosses the kernel's socket buffer, and its two
/// copies overlap instead of following each other.
///
/// Each end makes its ring with its first large message and keeps it for
/// the channel's life: 8 MiB (8 slots of 1 MiB) per direction that has
/// carried a large message, mapped in both processes, so at most 16 MiB per
/// channel. Every wait is a read of the socket, which ends when the peer's
/// process does: a peer that dies inside a message is an error, never a
/// hang. A `send` that waits for a free slot reads (and keeps) whatever the
/// peer sends meanwhile, so two ends sending large messages at once do not
/// wait on each other.
///
/// The parent's end is returned by [`spawn`](procs_core::transport::Transport::spawn)
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
/// use procs_core::transport::Transport;
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
    Ready(Conn),
    /// The worker went away without connecting.
    Gone,
}

pub(crate) struct Pending {
    pub(crate) accepted: Receiver<Accepted>,
    /// The server's socket path, to release the accepting thread.
    pub(crate) server: String,
    /// The worker, watched without reaping it (a pidfd): the pool reaps it.
    pub(crate) watch: ChildWatch,
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
            link: Link::Ready(Conn::new(tx, rx)),
            max_message_size,
        }
    }

    /// Waits, if needed, for the worker to connect.
    fn established(&mut self) -> io::Result<Option<&mut Conn>> {
        if let Link::Pending(pending) = &self.link {
            self.link = match pending.wait() {
                Ok((rx, Packet::Hello(tx))) => Link::Ready(Conn::new(tx, rx)),
                Ok((_, other)) => return Err(Error::Unexpected(other.kind()).into_io()),
                // The worker connected and closed without a word, or never
                // connected and the accepting thread was released.
                Err(IpcError::Disconnected) => Link::Gone,
                Err(IpcError::Io(error)) if is_reset(&error) => Link::Gone,
                Err(error) => return Err(ipc_error(error)),
            };
        }
        match &mut self.link {
            Link::Ready(conn) => Ok(Some(conn)),
            Link::Gone => Ok(None),
            Link::Pending(_) => unreachable!("resolved above"),
        }
    }
}

impl Channel for IpcChannel {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let max = self.max_message_size;
        if msg.len() > max {
            return Err(too_large(msg.len() as u64, max));
        }
        let Some(conn) = self.established()? else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        conn.send(msg, max)
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        Ok(self.recv_into(&mut buf)?.then_some(buf))
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        let max = self.max_message_size;
        match self.established()? {
            Some(conn) => conn.recv_into(buf, max),
            None => Ok(false),
        }
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
                Err(RecvTimeoutError::Timeout) if self.watch.has_exited().unwrap_or(true) => {
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
            Link::Pending(pending) => format!("waiting for worker ({:?})", pending.watch),
            Link::Ready(_) => "connected".to_owned(),
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

/// The error for a message of `len` bytes over the limit `max`.
pub(crate) fn too_large(len: u64, max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        FrameTooLarge { len, limit: max },
    )
}

pub(crate) fn is_reset(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionReset
}

pub(crate) fn ipc_error(error: IpcError) -> io::Error {
    match error {
        IpcError::Io(error) => error,
        IpcError::Disconnected => io::ErrorKind::BrokenPipe.into(),
        IpcError::SerializationError(error) => Error::Malformed(error.into()).into_io(),
    }
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
    use procs_core::transport::Transport;

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
        let (mut a, _) = pair(1 << 20, 1 << 10);
        let err = a.send(&vec![0; (1 << 20) + 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Under the sender's limit, over the receiver's: refused on arrival,
        // through the ring and inline alike (on a fresh channel each time,
        // since an error ends a channel).
        for len in [1 << 19, 2000] {
            let (mut a, mut b) = pair(1 << 20, 1 << 10);
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
