use std::io;

use procs_core::BoxError;

/// Errors of the ipc transport.
///
/// Starting or reaching a worker fails with one of these, boxed. Errors on an
/// established channel are [`io::Error`]s, some of which carry one of these
/// as their inner error: a malformed packet is
/// [`io::ErrorKind::InvalidData`] with [`Error::Malformed`] inside, so that
/// procs treats the worker that sent it as untrusted.
///
/// # Examples
///
/// ```
/// let err = procs_transport_ipc::Error::Endpoint;
/// assert!(err.to_string().contains("PROCS_IPC_SERVER"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The one-shot server that the worker connects to could not be made.
    #[error("cannot create the one-shot server for a worker")]
    Server(#[source] io::Error),
    /// The worker process could not be started.
    #[error("cannot start the worker process")]
    Spawn(#[source] io::Error),
    /// The thread that waits for the worker's connection could not be started.
    #[error("cannot start the thread that accepts the worker's connection")]
    AcceptThread(#[source] io::Error),
    /// The thread that waits for the worker's connection ended without an
    /// answer (it panicked inside `ipc-channel`).
    #[error("the thread that accepts the worker's connection ended without an answer")]
    AcceptLost,
    /// A worker found no server name in its environment.
    #[error("the worker's server name (`PROCS_IPC_SERVER`) is missing")]
    Endpoint,
    /// A worker could not connect to its parent's one-shot server.
    #[error("cannot connect to the parent's one-shot server")]
    Connect(#[source] io::Error),
    /// A packet could not be decoded.
    #[error("malformed packet")]
    Malformed(#[source] BoxError),
    /// A packet of the wrong kind arrived: a greeting after the first packet,
    /// or data before it.
    #[error("unexpected {0} packet")]
    Unexpected(&'static str),
    /// `ipc-channel` panicked, for example because the system refused to
    /// create or map a shared memory region. The channel is dead.
    #[error("ipc-channel panicked: {0}")]
    Panicked(String),
}

impl Error {
    /// Wraps a channel-level error in the [`io::Error`] the channel returns.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self {
            Error::Malformed(_) | Error::Unexpected(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}
