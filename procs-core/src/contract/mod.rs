//! The contract between procs and the way it reaches its workers.

pub(crate) mod accept;
pub(crate) mod attach;
pub(crate) mod child_watch;
pub(crate) mod erased;
pub(crate) mod fd;
pub mod frame;
pub(crate) mod registry;
pub(crate) mod stream;
pub(crate) mod token;

use std::process::{Child, Command};

/// A type-erased error, as returned by transports and codecs.
///
/// # Examples
///
/// ```
/// use procs_core::BoxError;
///
/// let err: BoxError = "the pipe broke".into();
/// assert_eq!(err.to_string(), "the pipe broke");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One worker's end of a message link, or the parent's end of a link to one
/// worker.
///
/// A channel moves whole byte messages; procs frames, encodes and decodes
/// every call itself. The contract:
///
/// - **Order**: messages arrive in the order they were sent, each exactly once,
///   whole. A transport that fragments messages reassembles them in
///   [`recv`](Self::recv).
/// - **Blocking**: [`send`](Self::send) may block until the peer has read
///   enough; [`recv`](Self::recv) blocks until one whole message arrives or the
///   peer is gone. procs drives each channel from one thread at a time.
/// - **End**: when the peer closes its end or exits, `recv` returns `Ok(None)`
///   if that happened between messages, or an error if it happened inside
///   one. When the parent kills a worker, the parent's `recv` must return
///   (the transport must not keep the worker's end open in the parent).
/// - **Limits**: a message longer than the `max_message_size` given to
///   [`Transport::spawn`] or [`Transport::connect`] is an error, raised before
///   the message is allocated. Report it (and any other message the peer
///   should never have sent) as an [`std::io::Error`] of kind
///   [`InvalidData`](std::io::ErrorKind::InvalidData): the pool then kills
///   the worker at once instead of waiting for it to exit.
/// - **Empty messages** are valid and arrive as `Ok(Some(vec![]))`, not as
///   the end of the link (procs never sends one, but a transport over
///   datagrams must not confuse the two).
/// - **What an error means** is [`fault`](Self::fault)'s answer, part of
///   the contract: [`Fault::Protocol`] when the peer sent what it never
///   should have (the pool then kills the worker at once), [`Fault::Gone`]
///   when the link ended or broke. The default reads an [`std::io::Error`]
///   of kind `InvalidData` anywhere in the error's source chain as
///   `Protocol`, so a wrapping error type that keeps the `io::Error` as its
///   source needs nothing more; one that does not overrides `fault`.
/// - **After an error** the channel is dead: procs drops it and never calls it
///   again.
///
/// # Examples
///
/// A channel over a Unix socket, framed with [`frame`](crate::transport::frame):
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use procs_core::transport::{frame, Channel};
///
/// struct SocketChannel {
///     stream: UnixStream,
///     max_message_size: usize,
/// }
///
/// impl Channel for SocketChannel {
///     type Error = std::io::Error;
///
///     fn send(&mut self, msg: &[u8]) -> Result<(), Self::Error> {
///         frame::write_frame(&mut self.stream, msg)
///     }
///
///     fn recv(&mut self) -> Result<Option<Vec<u8>>, Self::Error> {
///         frame::read_frame(&mut self.stream, self.max_message_size)
///     }
/// }
///
/// let (a, b) = UnixStream::pair()?;
/// let mut parent = SocketChannel { stream: a, max_message_size: 1 << 20 };
/// let mut worker = SocketChannel { stream: b, max_message_size: 1 << 20 };
/// parent.send(b"ping")?;
/// assert_eq!(worker.recv()?.as_deref(), Some(&b"ping"[..]));
/// drop(parent);
/// assert_eq!(worker.recv()?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Channel: Send + 'static {
    /// The error returned by this channel's operations.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends one whole message.
    ///
    /// # Errors
    ///
    /// When the peer is gone or the message is over the limit.
    fn send(&mut self, msg: &[u8]) -> Result<(), Self::Error>;

    /// Sends several whole messages, in order, as [`send`](Self::send)
    /// would one by one; the default does just that.
    ///
    /// procs sends a burst's pipelined requests with it (several tiny calls
    /// for one worker at a time): a transport that can write them with one
    /// system call (a stream: their frames one after the other, see
    /// [`frame::write_frames`](crate::transport::frame::write_frames))
    /// saves a system call, and often a wake-up of the peer, per message.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use procs_core::transport::{frame, Channel};
    /// # struct SocketChannel(UnixStream);
    /// # impl Channel for SocketChannel {
    /// #     type Error = std::io::Error;
    /// #     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> { frame::write_frame(&mut self.0, msg) }
    /// #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { frame::read_frame(&mut self.0, 1 << 20) }
    /// # }
    /// let (a, b) = UnixStream::pair()?;
    /// let (mut a, mut b) = (SocketChannel(a), SocketChannel(b));
    /// a.send_many(&[b"one", b"two"])?;
    /// assert_eq!(b.recv()?.as_deref(), Some(&b"one"[..]));
    /// assert_eq!(b.recv()?.as_deref(), Some(&b"two"[..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); the messages before the failing one may
    /// have been sent.
    fn send_many(&mut self, msgs: &[&[u8]]) -> Result<(), Self::Error> {
        msgs.iter().try_for_each(|msg| self.send(msg))
    }

    /// Blocks until one whole message arrives; `Ok(None)` when the peer
    /// closed the link between messages.
    ///
    /// # Errors
    ///
    /// When the link broke inside a message, or the message is over the limit.
    fn recv(&mut self) -> Result<Option<Vec<u8>>, Self::Error>;

    /// Like [`recv`](Self::recv), but into `buf`, reusing its memory:
    /// `Ok(true)` with the message in `buf` (its old contents gone), or
    /// `Ok(false)` when the peer closed the link between messages.
    ///
    /// procs receives large byte buffers with it (arguments and results of
    /// 64 KiB or more travel as messages of their own), into memory it
    /// already has: a fresh allocation of hundreds of MiB costs more in page
    /// faults than the copy. The default calls `recv` and moves its message
    /// into `buf`; a transport that reads into a caller's buffer overrides
    /// it (see [`frame::read_frame_into`](crate::transport::frame::read_frame_into)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use procs_core::transport::{frame, Channel};
    /// # struct SocketChannel(UnixStream);
    /// # impl Channel for SocketChannel {
    /// #     type Error = std::io::Error;
    /// #     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> { frame::write_frame(&mut self.0, msg) }
    /// #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { frame::read_frame(&mut self.0, 1 << 20) }
    /// # }
    /// let (a, b) = UnixStream::pair()?;
    /// let (mut a, mut b) = (SocketChannel(a), SocketChannel(b));
    /// a.send(b"large")?;
    /// let mut buf = Vec::with_capacity(1 << 10);
    /// assert!(b.recv_into(&mut buf)?);
    /// assert_eq!(buf, b"large");
    /// drop(a);
    /// assert!(!b.recv_into(&mut buf)?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool, Self::Error> {
        match self.recv()? {
            Some(msg) => {
                *buf = msg;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// How many times this side has read from the link so far (its read
    /// system calls), if it counts them; `None`, the default, if not.
    ///
    /// A hint, never required: while the count stays the same from one
    /// message to the next, procs knows the later message arrived in bytes
    /// it had read before, and skips looking for worker output that the
    /// first look already covered (one `poll` per message otherwise).
    /// Counting more often than the link is read is safe; counting less is
    /// not.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::io::BufReader;
    /// # use std::os::unix::net::UnixStream;
    /// use procs_core::transport::{frame, Channel};
    ///
    /// /// A reader that counts its reads.
    /// struct Counted(UnixStream, u64);
    ///
    /// impl std::io::Read for Counted {
    ///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
    ///         self.1 += 1;
    ///         self.0.read(buf)
    ///     }
    /// }
    ///
    /// struct SocketChannel(UnixStream, BufReader<Counted>);
    ///
    /// impl Channel for SocketChannel {
    ///     type Error = std::io::Error;
    ///     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> { frame::write_frame(&mut self.0, msg) }
    ///     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { frame::read_frame(&mut self.1, 1 << 20) }
    ///     fn reads(&self) -> Option<u64> { Some(self.1.get_ref().1) }
    /// }
    /// # use std::io::Read as _;
    /// let (a, b) = UnixStream::pair()?;
    /// let mut a = SocketChannel(a.try_clone()?, BufReader::new(Counted(a, 0)));
    /// let mut b = SocketChannel(b.try_clone()?, BufReader::new(Counted(b, 0)));
    /// a.send(b"one")?;
    /// a.send(b"two")?;
    /// # std::thread::sleep(std::time::Duration::from_millis(10));
    /// b.recv()?;
    /// let after_first = b.reads();
    /// b.recv()?;
    /// // Both messages came in one read.
    /// assert_eq!(b.reads(), after_first);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn reads(&self) -> Option<u64> {
        None
    }

    /// What `error`, returned by this channel, means for the link: whether
    /// the peer broke the protocol or the link is gone.
    ///
    /// The pool asks this of every error, instead of looking inside it: a
    /// worker whose channel says [`Fault::Protocol`] is alive and untrusted,
    /// and is killed at once; on [`Fault::Gone`] it gets two seconds to exit
    /// so that its exit status can be reported.
    ///
    /// The default is [`fault_of`]: `Protocol` when an [`std::io::Error`] of
    /// kind [`InvalidData`](std::io::ErrorKind::InvalidData) is the error
    /// or anywhere in its [`source`](std::error::Error::source) chain,
    /// `Gone` otherwise. Override it when the error type carries the
    /// distinction some other way.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use procs_core::transport::{Channel, Fault};
    ///
    /// #[derive(Debug)]
    /// enum MyError { Garbage, Closed }
    /// # impl std::fmt::Display for MyError {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
    /// # }
    /// impl std::error::Error for MyError {}
    ///
    /// struct MyChannel;
    /// impl Channel for MyChannel {
    ///     type Error = MyError;
    ///     fn send(&mut self, _: &[u8]) -> Result<(), MyError> { Err(MyError::Closed) }
    ///     fn recv(&mut self) -> Result<Option<Vec<u8>>, MyError> { Err(MyError::Garbage) }
    ///     fn fault(error: &MyError) -> Fault {
    ///         match error {
    ///             MyError::Garbage => Fault::Protocol,
    ///             MyError::Closed => Fault::Gone,
    ///         }
    ///     }
    /// }
    ///
    /// assert_eq!(MyChannel::fault(&MyError::Garbage), Fault::Protocol);
    /// ```
    fn fault(error: &Self::Error) -> Fault {
        fault_of(error)
    }
}

/// What a channel error means for the link; see [`Channel::fault`].
///
/// # Examples
///
/// ```
/// use std::io;
/// use procs_core::transport::{fault_of, Fault};
///
/// let oversized = io::Error::new(io::ErrorKind::InvalidData, "frame too large");
/// assert_eq!(fault_of(&oversized), Fault::Protocol);
/// assert_eq!(fault_of(&io::Error::from(io::ErrorKind::ConnectionReset)), Fault::Gone);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The peer sent what it never should have: a message over the limit,
    /// a malformed frame. The peer is alive and untrusted.
    Protocol,
    /// The link ended or broke: the peer closed it or exited, the
    /// connection was reset, the stream ended inside a message.
    Gone,
}

/// The default of [`Channel::fault`]: [`Fault::Protocol`] when an
/// [`std::io::Error`] of kind [`InvalidData`](std::io::ErrorKind::InvalidData)
/// is `error` or in its source chain, [`Fault::Gone`] otherwise.
///
/// # Examples
///
/// A wrapping error type keeps the answer as long as it names the
/// `io::Error` as its source:
///
/// ```
/// use std::io;
/// use procs_core::transport::{fault_of, Fault};
///
/// #[derive(Debug)]
/// struct Wrapped(io::Error);
/// impl std::fmt::Display for Wrapped {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("link failed") }
/// }
/// impl std::error::Error for Wrapped {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
///
/// let err = Wrapped(io::Error::new(io::ErrorKind::InvalidData, "frame too large"));
/// assert_eq!(fault_of(&err), Fault::Protocol);
/// ```
pub fn fault_of(error: &(dyn std::error::Error + 'static)) -> Fault {
    let mut next = Some(error);
    while let Some(error) = next {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::InvalidData)
        {
            return Fault::Protocol;
        }
        next = error.source();
    }
    Fault::Gone
}

/// A way to start worker processes and reach them.
///
/// A transport lives in its own crate and depends on `procs-core` alone. The
/// parent side [`spawn`](Self::spawn)s the worker with the endpoint attached
/// and keeps its end; the worker (the same binary, re-executed) is routed to
/// this transport by its [`NAME`](Self::NAME) before `main`, and calls
/// [`connect`](Self::connect) to pick up its end. Register the transport with
/// [`register_transport!`](crate::transport::register_transport) so that re-executed
/// workers can find it.
///
/// The transport spawns the child itself because only it knows which handles
/// the child must inherit: everything else it opens must be close-on-exec, or
/// a sibling worker would hold the pipe open and the parent would never see
/// the end of a dead worker.
///
/// Workers started by something else (an MPI launcher, a remote host) do not
/// fit `spawn`: implement [`Attach`](crate::transport::Attach) instead, on the same
/// [`Channel`] contract. The pool then connects to the running workers
/// ([`Builder::attach`](crate::Builder::attach)), and each worker serves
/// with [`serve`](crate::transport::serve).
///
/// # Examples
///
/// A complete transport over a Unix socket pair whose worker end is named in
/// an environment variable:
///
/// ```
/// use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
/// use std::os::unix::net::UnixStream;
/// use std::os::unix::process::CommandExt;
/// use std::process::{Child, Command};
/// use procs_core::BoxError;
/// use procs_core::transport::{frame, Channel, Transport};
///
/// pub struct SocketChannel(UnixStream, usize);
///
/// impl Channel for SocketChannel {
///     type Error = std::io::Error;
///     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
///         frame::write_frame(&mut self.0, msg)
///     }
///     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
///         frame::read_frame(&mut self.0, self.1)
///     }
/// }
///
/// #[derive(Default)]
/// pub struct SocketTransport;
///
/// impl Transport for SocketTransport {
///     type Channel = SocketChannel;
///     const NAME: &'static str = "doc-socket";
///
///     fn spawn(&self, mut cmd: Command, max: usize) -> Result<(SocketChannel, Child), BoxError> {
///         // std creates both ends close-on-exec; only the child clears it on its end.
///         let (parent, child) = UnixStream::pair()?;
///         let fd = child.as_raw_fd();
///         cmd.env("DOC_SOCKET_FD", fd.to_string());
///         unsafe {
///             cmd.pre_exec(move || {
///                 if libc_clear_cloexec(fd) { Ok(()) } else { Err(std::io::Error::last_os_error()) }
///             });
///         }
///         let process = cmd.spawn()?;
///         drop(child);
///         Ok((SocketChannel(parent, max), process))
///     }
///
///     fn connect(max: usize) -> Result<SocketChannel, BoxError> {
///         let fd: i32 = std::env::var("DOC_SOCKET_FD")?.parse()?;
///         // SAFETY: the parent passed this fd down for us alone.
///         let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
///         Ok(SocketChannel(stream, max))
///     }
/// }
///
/// procs_core::transport::register_transport!(SocketTransport);
/// # fn libc_clear_cloexec(_fd: i32) -> bool { true }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// The channel this transport hands out.
    type Channel: Channel;

    /// The name that routes a re-executed worker to this transport; unique
    /// among the transports linked into one binary.
    const NAME: &'static str;

    /// Parent side: spawns `cmd` with this transport's endpoint attached and
    /// returns the parent's end of the channel together with the child.
    ///
    /// `cmd` is ready to run: procs has set the program and its environment
    /// (transport routing included, and the parent's pid, from which the
    /// worker sets its own parent-death signal as it starts). The transport
    /// adds its endpoint (an inherited handle, an environment variable with
    /// a name) and spawns it.
    ///
    /// `cmd` has no `pre_exec` hook, so std can start it with `posix_spawn`
    /// instead of a full `fork` of the parent. Adding one is allowed but
    /// costs that fast path on every worker: `procs-transport-pipe` hands the
    /// child its ends over its standard input rather than in a hook.
    ///
    /// Return promptly, without waiting for the worker to connect: the
    /// pool's handshake deadline starts when `spawn` returns and covers the
    /// first [`recv`](Channel::recv), so a transport that must accept a
    /// connection finishes it there (as `procs-transport-ipc` does).
    ///
    /// # Errors
    ///
    /// When the endpoint cannot be made or the child cannot be started.
    fn spawn(
        &self,
        cmd: Command,
        max_message_size: usize,
    ) -> Result<(Self::Channel, Child), BoxError>;

    /// Worker side: connects to the endpoint that [`spawn`](Self::spawn)
    /// passed down.
    ///
    /// # Errors
    ///
    /// When the endpoint is missing or cannot be reached.
    fn connect(max_message_size: usize) -> Result<Self::Channel, BoxError>;
}
