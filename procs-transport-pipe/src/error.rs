use std::io;

/// Errors of the pipe transport when starting or reaching a worker.
///
/// Errors on an established channel are plain [`io::Error`]s.
///
/// # Examples
///
/// ```
/// let err = procs_transport_pipe::Error::Endpoint;
/// assert!(err.to_string().contains("PROCS_PIPE_FDS"));
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
    /// A worker found no valid pipe endpoint in its environment.
    #[error("the worker's pipe endpoint (`PROCS_PIPE_FDS`) is missing or malformed")]
    Endpoint,
}
