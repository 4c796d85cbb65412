#![allow(dead_code, reason = "each test binary uses one of the broken copies")]

//! Deliberately broken transports over a named (abstract) Unix socket, where the
//! worker connects to the parent: the way a connecting transport goes
//! wrong when it waits for the connection without watching the child.
//! Shared by the kit's own tests; each broken copy lives in a test binary
//! of its own, since a check it makes hang leaves the kit stuck for the
//! rest of that process.

use std::io::{self, BufReader};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use procs_core::BoxError;
use procs_core::transport::{Channel, Transport, frame};

const ENV_PATH: &str = "PROCS_BROKEN_LISTENING_PATH";

/// What each copy gets wrong.
pub(crate) const ACCEPT_IN_RECV: u8 = 0;
pub(crate) const ACCEPT_IN_SPAWN: u8 = 1;
/// Accepts in the first `recv` (without watching the child, as
/// `ACCEPT_IN_RECV`) and leaves the accepted socket inheritable, as
/// `libc::accept` without `SOCK_CLOEXEC` would: only workers spawned after
/// a link was accepted (replacements) inherit it.
pub(crate) const INHERITABLE_ACCEPT: u8 = 2;

/// A transport whose worker connects to a socket the parent listens on.
/// `ACCEPT_IN_RECV`: the first `recv` blocks in `accept` and never looks
/// at the child. `ACCEPT_IN_SPAWN`: `spawn` blocks in `accept`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listening<const MODE: u8>;

#[derive(Debug)]
pub(crate) enum ListeningChannel<const MODE: u8> {
    Pending(UnixListener, usize),
    Connected(BufReader<UnixStream>, UnixStream, usize),
}

impl<const MODE: u8> ListeningChannel<MODE> {
    fn connected(stream: UnixStream, max: usize) -> io::Result<Self> {
        let writer = stream.try_clone()?;
        Ok(ListeningChannel::Connected(
            BufReader::new(stream),
            writer,
            max,
        ))
    }

    fn accept(&mut self) -> io::Result<()> {
        if let ListeningChannel::Pending(listener, max) = self {
            // Broken on purpose: blocks until someone connects, whether or
            // not the child is still alive.
            let (stream, _) = listener.accept()?;
            if MODE == INHERITABLE_ACCEPT {
                inheritable(&stream)?;
            }
            *self = ListeningChannel::connected(stream, *max)?;
        }
        Ok(())
    }
}

fn inheritable(stream: &UnixStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETFD only writes the descriptor's flags.
    if unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_SETFD, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl<const MODE: u8> Channel for ListeningChannel<MODE> {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.accept()?;
        match self {
            ListeningChannel::Connected(_, writer, _) => frame::write_frame(writer, msg),
            ListeningChannel::Pending(..) => unreachable!(),
        }
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.accept()?;
        match self {
            ListeningChannel::Connected(reader, _, max) => frame::read_frame(reader, *max),
            ListeningChannel::Pending(..) => unreachable!(),
        }
    }
}

/// An abstract socket name (Linux): no file to clean up after a check
/// that this transport makes hang.
fn socket_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "procs-broken-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl<const MODE: u8> Transport for Listening<MODE> {
    type Channel = ListeningChannel<MODE>;
    const NAME: &'static str = match MODE {
        ACCEPT_IN_RECV => "broken-accept-in-recv",
        ACCEPT_IN_SPAWN => "broken-accept-in-spawn",
        _ => "broken-inheritable-accept",
    };

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        let name = socket_name();
        let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        cmd.env(ENV_PATH, &name);
        let child = cmd.spawn()?;
        let mut channel = ListeningChannel::Pending(listener, max);
        if MODE == ACCEPT_IN_SPAWN {
            channel.accept()?;
        }
        Ok((channel, child))
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        let name = std::env::var(ENV_PATH)?;
        let stream = UnixStream::connect_addr(&SocketAddr::from_abstract_name(&name)?)?;
        Ok(ListeningChannel::connected(stream, max)?)
    }
}
