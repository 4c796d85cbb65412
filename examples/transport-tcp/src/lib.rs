//! A procs transport over TCP, written the way a third-party crate would
//! write one and built only on the helpers of `procs_core::transport`: the
//! worker connects back to a listener the parent opened for it, presents a
//! random token, and the link is then a framed byte stream.
//!
//! Read it next to `docs/writing-a-transport.md` ("A connecting transport").
//!
//! ```no_run
//! use procs_core::{proc, Pool};
//! use procs_transport_tcp_example::TcpTransport;
//!
//! #[procs_derive::remote(crate = ::procs_core)]
//! fn double(x: u64) -> u64 { 2 * x }
//!
//! let pool = Pool::builder().transport(TcpTransport::default()).workers(2).build()?;
//! assert_eq!(pool.call(proc!(double(21)))?, 42);
//! # Ok::<(), procs_core::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};

use procs_core::BoxError;
use procs_core::transport::{Accepting, ChildWatch, Token, Transport};

/// The address the worker connects to.
const ENV_ADDR: &str = "PROCS_TCP_ADDR";
/// The token the worker presents; removed from its environment in `connect`.
const ENV_TOKEN: &str = "PROCS_TCP_TOKEN";

/// A [`Transport`] over TCP: one listener and one connection per worker,
/// authenticated by a random token, on the loopback interface unless
/// [`TcpTransport::bind`] says otherwise.
///
/// It is `Clone` because the conformance kit clones the transport it is
/// given (into pools and into the wrappers that simulate failing workers).
///
/// # Examples
///
/// ```no_run
/// use procs_core::Pool;
/// use procs_transport_tcp_example::TcpTransport;
///
/// let pool = Pool::builder().transport(TcpTransport::default()).build()?;
/// # Ok::<(), procs_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TcpTransport {
    ip: IpAddr,
}

impl Default for TcpTransport {
    /// Listens on `127.0.0.1`.
    fn default() -> Self {
        TcpTransport {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

impl TcpTransport {
    /// Listens on `ip` (port chosen by the kernel) instead of the loopback
    /// address. The token still keeps out connections that do not carry
    /// it, but travels in clear text: use a non-loopback address only on a
    /// network you trust.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_transport_tcp_example::TcpTransport;
    ///
    /// let transport = TcpTransport::bind("127.0.0.1".parse().unwrap());
    /// ```
    pub fn bind(ip: IpAddr) -> TcpTransport {
        TcpTransport { ip }
    }
}

/// The parent's end of a worker's connection: accepts and authenticates
/// the worker in its first `recv` (procs-core's [`Accepting`]).
pub type TcpChannel = Accepting<TcpListener>;

impl Transport for TcpTransport {
    type Channel = TcpChannel;
    const NAME: &'static str = "tcp-example";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(TcpChannel, Child), BoxError> {
        // std's listener and the streams it accepts are close-on-exec.
        let listener = TcpListener::bind(SocketAddr::new(self.ip, 0))?;
        let token = Token::random()?;
        cmd.env(ENV_ADDR, listener.local_addr()?.to_string());
        cmd.env(ENV_TOKEN, token.to_string());
        let child = cmd.spawn()?;
        // Before returning the child, while it cannot have been reaped.
        let watch = ChildWatch::new(&child)?;
        // Return at once: the first recv accepts, within the pool's
        // handshake deadline, and ends if the child exits first.
        Ok((Accepting::new(listener, token, watch, max), child))
    }

    fn connect(max: usize) -> Result<TcpChannel, BoxError> {
        let addr: SocketAddr = std::env::var(ENV_ADDR)
            .map_err(|_| format!("`{ENV_ADDR}` is missing"))?
            .parse()?;
        // Read and removed: the processes the user's code starts do not
        // inherit it.
        let token = Token::take_env(ENV_TOKEN)?;
        // std's sockets are close-on-exec: what the user's code starts does
        // not hold the link either.
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        token.present(&mut stream)?;
        Ok(Accepting::from_stream(stream, max))
    }
}

procs_core::transport::register_transport!(TcpTransport);
