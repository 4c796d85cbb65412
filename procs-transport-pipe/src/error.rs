use std::io;

/// Errors of the pipe transport when starting or reaching a worker.
///
/// Errors on an established channel are plain [`io::Error`]s.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
///
/// let err = procs_transport_pipe::Error::Spawn(std::io::ErrorKind::NotFound.into());
/// assert_eq!(err.to_string(), "cannot start the worker process");
/// assert!(err.source().is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pipes could not be created.
    #[error("cannot create the worker's pipes")]
    Pipe(#[source] io::Error),
    /// The worker process could not be started.
    #[error("cannot start the worker process")]
    Spawn(#[source] io::Error),
    /// A worker did not receive its two pipe ends on its standard input,
    /// where the parent sends them: it was not started by a pool's pipe
    /// transport.
    #[error("the worker received no pipe ends on its standard input")]
    Endpoint(#[source] io::Error),
}
