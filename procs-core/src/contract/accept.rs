//! For transports whose worker connects back to the parent: accepting the
//! worker's connection, authenticated by its [`Token`], in the channel's
//! first `send` or `recv` while watching the child.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use crate::contract::Channel;
use crate::contract::child_watch::{ChildWatch, Woke};
use crate::contract::stream::StreamChannel;
use crate::contract::token::{TOKEN_LEN, Token};

/// How long an accepted connection may take to present its token before it
/// is dropped (an impostor that connects and says nothing).
const TOKEN_PATIENCE: Duration = Duration::from_secs(5);

/// A listening socket that [`Accepting`] can take connections from:
/// [`UnixListener`] and [`TcpListener`] are.
///
/// # Examples
///
/// ```
/// use std::net::TcpListener;
/// use procs_core::transport::Listener;
///
/// fn listens<L: Listener>(_: &L) {}
/// listens(&TcpListener::bind("127.0.0.1:0")?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Listener: AsFd + Send + 'static {
    /// The connections it accepts.
    type Stream: Read + Write + AsFd + Send + 'static;

    /// Accepts one connection, close-on-exec (std's `accept` is), in
    /// blocking mode.
    ///
    /// # Errors
    ///
    /// Whatever `accept` returns; `WouldBlock` when the listener is
    /// non-blocking and no connection waits.
    fn accept_stream(&self) -> io::Result<Self::Stream>;

    /// Sets the listener's blocking mode.
    ///
    /// # Errors
    ///
    /// Whatever `fcntl` returns.
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

impl Listener for UnixListener {
    type Stream = UnixStream;

    fn accept_stream(&self) -> io::Result<UnixStream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        UnixListener::set_nonblocking(self, nonblocking)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    fn accept_stream(&self) -> io::Result<TcpStream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        TcpListener::set_nonblocking(self, nonblocking)
    }
}

/// Accepts connections on `listener` until one presents `token`, while
/// watching `child`: `Ok(None)` when the child exits first. Connections
/// that present anything else, or nothing within a few seconds, are
/// dropped and the wait goes on, so an impostor that connects first does
/// not keep the real worker out.
///
/// `timeout` bounds the whole wait (`None`: until the child exits, which
/// the pool's handshake deadline forces by killing it).
///
/// # Examples
///
/// ```
/// use std::os::unix::net::{UnixListener, UnixStream};
/// use std::process::Command;
/// use std::time::Duration;
/// use procs_core::transport::{accept_authenticated, ChildWatch, Token};
///
/// let dir = std::env::temp_dir().join(format!("procs-doc-accept-{}", std::process::id()));
/// let _ = std::fs::remove_file(&dir);
/// let listener = UnixListener::bind(&dir)?;
/// let token = Token::random()?;
/// let mut child = Command::new("sleep").arg("5").spawn()?;
/// let watch = ChildWatch::new(&child)?;
///
/// let mut impostor = UnixStream::connect(&dir)?;
/// impostor.write_all(&[0; 32])?;
/// let mut worker = UnixStream::connect(&dir)?;
/// token.present(&mut worker)?;
///
/// let accepted = accept_authenticated(&listener, &token, &watch, Some(Duration::from_secs(10)))?;
/// assert!(accepted.is_some());
/// # use std::io::Write;
/// child.kill()?;
/// child.wait()?;
/// std::fs::remove_file(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// When `timeout` passes (`TimedOut`), or polling or accepting fails.
pub fn accept_authenticated<L: Listener>(
    listener: &L,
    token: &Token,
    watch: &ChildWatch,
    timeout: Option<Duration>,
) -> io::Result<Option<L::Stream>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    listener.set_nonblocking(true)?;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match watch.wait(Some(listener.as_fd()), left)? {
            Woke::Exited => return Ok(None),
            Woke::TimedOut => return Err(io::ErrorKind::TimedOut.into()),
            Woke::Ready => {}
        }
        let stream = match listener.accept_stream() {
            Ok(stream) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The connection was reset before we took it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e),
        };
        if let Some(stream) = authenticate(stream, token, watch)? {
            return Ok(Some(stream));
        }
    }
}

/// Reads the token from a fresh connection, giving it [`TOKEN_PATIENCE`];
/// the stream if it matches.
fn authenticate<S: Read + AsFd>(
    mut stream: S,
    token: &Token,
    watch: &ChildWatch,
) -> io::Result<Option<S>> {
    let deadline = Instant::now() + TOKEN_PATIENCE;
    let mut presented = [0u8; TOKEN_LEN];
    let mut read = 0;
    while read < TOKEN_LEN {
        let left = deadline.saturating_duration_since(Instant::now());
        match watch.wait(Some(stream.as_fd()), Some(left))? {
            // A worker that died mid-token, or a silent impostor: drop it.
            Woke::Exited | Woke::TimedOut => return Ok(None),
            Woke::Ready => {}
        }
        match stream.read(&mut presented[read..]) {
            Ok(0) => return Ok(None),
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(None),
        }
    }
    Ok(token.matches(&presented).then_some(stream))
}

/// The parent's end of a link whose worker connects back: it accepts and
/// authenticates the worker's connection ([`accept_authenticated`]) in its
/// first `send` or `recv`, so that [`Transport::spawn`](crate::transport::Transport::spawn)
/// returns at once, and then frames messages as a [`StreamChannel`].
///
/// A worker that exits before it connects (or is killed at the pool's
/// handshake deadline) makes that first `recv` return `Ok(None)`.
///
/// # Examples
///
/// In a transport's `spawn` (see `examples/transport-tcp` for the whole
/// transport):
///
/// ```no_run
/// use std::net::TcpListener;
/// use std::process::{Child, Command};
/// use procs_core::BoxError;
/// use procs_core::transport::{Accepting, ChildWatch, Token};
///
/// fn spawn(mut cmd: Command, max: usize) -> Result<(Accepting<TcpListener>, Child), BoxError> {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let token = Token::random()?;
///     cmd.env("MY_ADDR", listener.local_addr()?.to_string());
///     cmd.env("MY_TOKEN", token.to_string());
///     let child = cmd.spawn()?;
///     let watch = ChildWatch::new(&child)?;
///     Ok((Accepting::new(listener, token, watch, max), child))
/// }
/// ```
pub struct Accepting<L: Listener> {
    state: State<L>,
    max_message_size: usize,
}

enum State<L: Listener> {
    Pending {
        listener: L,
        token: Token,
        watch: ChildWatch,
    },
    Connected(StreamChannel<L::Stream>),
    /// The child exited before it connected.
    Gone,
}

impl<L: Listener> fmt::Debug for Accepting<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Pending { .. } => "pending",
            State::Connected(_) => "connected",
            State::Gone => "gone",
        };
        f.debug_struct("Accepting").field("state", &state).finish()
    }
}

impl<L: Listener> Accepting<L> {
    /// A channel that will accept `token`'s bearer on `listener`, watching
    /// the child `watch` was made from. See the type's example.
    pub fn new(listener: L, token: Token, watch: ChildWatch, max_message_size: usize) -> Self {
        Accepting {
            state: State::Pending {
                listener,
                token,
                watch,
            },
            max_message_size,
        }
    }

    /// Worker side: the same channel type over the connection the worker
    /// made (after [`Token::present`]), so that a transport has one
    /// `Channel` type for both ends.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::net::{TcpListener, TcpStream};
    /// use procs_core::transport::{Accepting, Token};
    ///
    /// # fn connect(addr: &str, token: Token) -> std::io::Result<Accepting<TcpListener>> {
    /// let mut stream = TcpStream::connect(addr)?;
    /// token.present(&mut stream)?;
    /// Ok(Accepting::from_stream(stream, 1 << 20))
    /// # }
    /// ```
    pub fn from_stream(stream: L::Stream, max_message_size: usize) -> Self {
        Accepting {
            state: State::Connected(StreamChannel::new(stream, max_message_size)),
            max_message_size,
        }
    }

    /// The connected channel, accepting first if need be; `None` when the
    /// child exited before it connected.
    fn connected(&mut self) -> io::Result<Option<&mut StreamChannel<L::Stream>>> {
        if let State::Pending {
            listener,
            token,
            watch,
        } = &self.state
        {
            self.state = match accept_authenticated(listener, token, watch, None)? {
                Some(stream) => State::Connected(StreamChannel::new(stream, self.max_message_size)),
                None => State::Gone,
            };
        }
        Ok(match &mut self.state {
            State::Connected(channel) => Some(channel),
            _ => None,
        })
    }
}

impl<L: Listener> Channel for Accepting<L> {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        match self.connected()? {
            Some(channel) => channel.send(msg),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn send_many(&mut self, msgs: &[&[u8]]) -> io::Result<()> {
        match self.connected()? {
            Some(channel) => channel.send_many(msgs),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.connected()? {
            Some(channel) => channel.recv(),
            None => Ok(None),
        }
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        match self.connected()? {
            Some(channel) => channel.recv_into(buf),
            None => Ok(false),
        }
    }
}
