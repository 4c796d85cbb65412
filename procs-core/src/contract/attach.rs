//! Workers that something else started: the pool attaches instead of
//! spawning.

use crate::contract::BoxError;
use crate::contract::Channel;

/// A way to reach workers that something else launched: an MPI launcher
/// (`mpirun -np N ./app` starts every rank), a cluster scheduler, a remote
/// host. The pool attaches to each instead of spawning it.
///
/// The workers run the same binary and serve with
/// [`serve`](crate::transport::serve) on their end of the channel. Because the pool did
/// not start them, it cannot kill or replace them: an attached pool refuses
/// deadlines and worker recycling at [`build`](crate::Builder::build), a
/// cancelled call runs to its end, and a worker whose link breaks is
/// reported as [`Error::WorkerLost`](crate::Error::WorkerLost) (the pool
/// calls [`attach`](Self::attach) again for the next call, which may
/// succeed if the worker came back). One request is in flight per worker at
/// a time, so a transport may block in [`Channel::send`] until the worker
/// reads, and every call is exactly one message each way: large byte
/// buffers, which spawned workers get as messages of their own, travel
/// inside the call's message here, so a transport may pair each answer with
/// its request (MPI's links do).
///
/// # Examples
///
/// A sketch over workers listening on Unix sockets `/run/app/worker-N`:
///
/// ```no_run
/// use std::os::unix::net::UnixStream;
/// use procs_core::{BoxError, Pool};
/// use procs_core::transport::{frame, Attach, Channel};
///
/// struct SocketChannel(UnixStream, usize);
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
/// struct Listening(usize);
///
/// impl Attach for Listening {
///     type Channel = SocketChannel;
///     const NAME: &'static str = "listening-sockets";
///
///     fn workers(&self) -> usize {
///         self.0
///     }
///
///     fn attach(&self, index: usize, max: usize) -> Result<SocketChannel, BoxError> {
///         let stream = UnixStream::connect(format!("/run/app/worker-{index}"))?;
///         Ok(SocketChannel(stream, max))
///     }
/// }
///
/// let pool = Pool::builder().attach(Listening(4)).build()?;
/// # Ok::<(), procs_core::Error>(())
/// ```
pub trait Attach: Send + Sync + 'static {
    /// The channel to one worker.
    type Channel: Channel;

    /// A name for this way of reaching workers, for diagnostics.
    const NAME: &'static str;

    /// How many workers there are to attach to; the pool's size.
    fn workers(&self) -> usize;

    /// Connects to worker `index` (from 0 to [`workers`](Self::workers)).
    ///
    /// Called when the pool starts, and again after the link to that worker
    /// broke.
    ///
    /// # Errors
    ///
    /// When the worker cannot be reached; the call that needed it fails
    /// with this error.
    fn attach(&self, index: usize, max_message_size: usize) -> Result<Self::Channel, BoxError>;
}
