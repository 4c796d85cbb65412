//! The broken listening transports of `broken/listening.rs`, written again
//! as the guide's section 8 says, on procs-core's helpers alone
//! (`Accepting`, `Token`, `ChildWatch`): the whole kit passes.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use procs_core::BoxError;
use procs_core::transport::{Accepting, ChildWatch, Token, Transport};

const ENV_NAME: &str = "PROCS_GUIDE_LISTENING_NAME";
const ENV_TOKEN: &str = "PROCS_GUIDE_LISTENING_TOKEN";

#[derive(Debug, Clone, Copy, Default)]
struct Listening;

/// An abstract socket name (Linux): no file to remove, and reachable by
/// every process in the network namespace, hence the token.
fn socket_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "procs-guide-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Transport for Listening {
    type Channel = Accepting<UnixListener>;
    const NAME: &'static str = "guide-listening";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        let name = socket_name();
        let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        let token = Token::random()?;
        cmd.env(ENV_NAME, &name).env(ENV_TOKEN, token.to_string());
        let child = cmd.spawn()?;
        let watch = ChildWatch::new(&child)?;
        Ok((Accepting::new(listener, token, watch, max), child))
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        let name = std::env::var(ENV_NAME)?;
        let token = Token::take_env(ENV_TOKEN)?;
        let mut stream = UnixStream::connect_addr(&SocketAddr::from_abstract_name(&name)?)?;
        token.present(&mut stream)?;
        Ok(Accepting::from_stream(stream, max))
    }
}

procs_core::transport::register_transport!(Listening);

#[test]
fn conformance() {
    procs_core::testkit::conformance(Listening);
}
