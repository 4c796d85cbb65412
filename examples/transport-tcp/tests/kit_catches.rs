//! The kit fails a copy of the TCP transport that accepts the first
//! connection without checking its token: an impostor that reaches the
//! port first is taken for the worker.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Child, Command};

use procs_core::BoxError;
use procs_core::transport::{Accepting, ChildWatch, Listener, Token, Transport};

/// Takes any connection: it swallows the token the peer sent, whatever it
/// was, and replays the expected one to the authentication that follows.
struct Careless(TcpListener, Token);

/// A stream that first yields the expected token, then the peer's bytes.
struct Replayed(TcpStream, [u8; 32], usize);

impl Read for Replayed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.2 < 32 {
            let n = buf.len().min(32 - self.2);
            buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
            self.2 += n;
            return Ok(n);
        }
        self.0.read(buf)
    }
}

impl Write for Replayed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl AsFd for Replayed {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsFd for Careless {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Listener for Careless {
    type Stream = Replayed;

    fn accept_stream(&self) -> io::Result<Replayed> {
        let mut stream = self.0.accept_stream()?;
        // Broken on purpose: reads the presented token and ignores it.
        let mut ignored = [0u8; 32];
        stream.read_exact(&mut ignored)?;
        Ok(Replayed(stream, self.1.bytes(), 0))
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.0.set_nonblocking(nonblocking)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Unauthenticated;

impl std::fmt::Debug for Careless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Careless")
    }
}

impl Transport for Unauthenticated {
    type Channel = Accepting<Careless>;
    const NAME: &'static str = "broken-tcp-unauthenticated";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let token = Token::random()?;
        cmd.env("PROCS_BROKEN_TCP_ADDR", listener.local_addr()?.to_string());
        cmd.env("PROCS_BROKEN_TCP_TOKEN", token.to_string());
        let child = cmd.spawn()?;
        let watch = ChildWatch::new(&child)?;
        let careless = Careless(listener, token.clone());
        Ok((Accepting::new(careless, token, watch, max), child))
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        let addr: SocketAddr = std::env::var("PROCS_BROKEN_TCP_ADDR")?.parse()?;
        let token = Token::take_env("PROCS_BROKEN_TCP_TOKEN")?;
        let mut stream = TcpStream::connect(addr)?;
        token.present(&mut stream)?;
        Ok(Accepting::from_stream(
            Replayed(stream, token.bytes(), 32),
            max,
        ))
    }
}

procs_core::transport::register_transport!(Unauthenticated);

#[test]
#[should_panic(
    expected = "that connected first with one of the worker's variables altered was accepted as the worker"
)]
fn an_unauthenticated_accept_fails_impostor_refused() {
    procs_core::testkit::impostor_refused(&Unauthenticated);
}
