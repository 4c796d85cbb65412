//! Configuration of an explicit [`Pool`].

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::entry::{DEFAULT_TRANSPORT, in_worker};
use crate::erased::ErasedTransport;
use crate::error::Error;
use crate::pool::Pool;
use crate::transport::Transport;

/// The default limit on one message: large enough for big arrays, small
/// enough that a corrupt length cannot exhaust memory.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Configures and starts a [`Pool`]; made by [`Pool::builder`].
///
/// # Examples
///
/// ```no_run
/// use procs_core::Pool;
///
/// let pool = Pool::builder().workers(4).window(64).build()?;
/// assert_eq!(pool.workers(), 4);
/// # Ok::<(), procs_core::Error>(())
/// ```
#[must_use = "a Builder does nothing until `build` is called"]
pub struct Builder {
    workers: Option<usize>,
    window: Option<usize>,
    max_message_size: usize,
    transport: Option<Arc<dyn ErasedTransport>>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            workers: None,
            window: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            transport: None,
        }
    }

    /// The number of worker processes; defaults to
    /// [`std::thread::available_parallelism`].
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().workers(2);
    /// ```
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers);
        self
    }

    /// How many calls of one `call` or `pmap` may be queued, running or
    /// finished but not yet taken by the consumer; defaults to eight per
    /// worker, and at least 16. This bounds the parent's memory on an endless
    /// input and a slow consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().window(1024);
    /// ```
    pub fn window(mut self, window: usize) -> Builder {
        self.window = Some(window);
        self
    }

    /// The largest message, in bytes, either side accepts; defaults to 1 GiB.
    /// A call whose arguments or result are larger fails with an error.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().max_message_size(64 << 20);
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Builder {
        self.max_message_size = bytes;
        self
    }

    /// The transport that starts and reaches the workers; defaults to the
    /// one the `procs` facade picked from its features.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use std::process::{Child, Command};
    /// # use procs_core::{BoxError, Channel, Transport};
    /// # #[derive(Default)]
    /// # struct MyTransport;
    /// # struct MyChannel;
    /// # impl Channel for MyChannel {
    /// #     type Error = std::io::Error;
    /// #     fn send(&mut self, _: &[u8]) -> std::io::Result<()> { Err(std::io::ErrorKind::Unsupported.into()) }
    /// #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { Ok(None) }
    /// # }
    /// # impl Transport for MyTransport {
    /// #     type Channel = MyChannel;
    /// #     const NAME: &'static str = "doc-my";
    /// #     fn spawn(&self, _: Command, _: usize) -> Result<(MyChannel, Child), BoxError> { Err("unsupported".into()) }
    /// #     fn connect(_: usize) -> Result<MyChannel, BoxError> { Err("unsupported".into()) }
    /// # }
    /// let pool = procs_core::Pool::builder().transport(MyTransport::default()).build()?;
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn transport<T: Transport>(mut self, transport: T) -> Builder {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Starts the pool: one thread per worker, each spawning its worker
    /// process in the background.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs_core::Pool::builder().workers(2).build()?;
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InsideWorker`] in a worker process, [`Error::NoTransport`]
    /// when no transport was given or enabled, [`Error::InvalidSetting`] for
    /// a zero worker count, window or message size, and [`Error::Spawn`] when
    /// a pool thread cannot be started.
    pub fn build(mut self) -> Result<Pool, Error> {
        if in_worker() {
            return Err(Error::InsideWorker);
        }
        if self.transport.is_none() {
            if let Some(apply_default) = DEFAULT_TRANSPORT.first() {
                self = apply_default(self);
            }
        }
        let transport = self.transport.ok_or(Error::NoTransport)?;
        let workers = match self.workers {
            Some(0) => return Err(invalid("workers", "must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        let window = match self.window {
            Some(0) => return Err(invalid("window", "must be at least 1")),
            Some(n) => n,
            None => (workers * 8).max(16),
        };
        if self.max_message_size == 0 {
            return Err(invalid("max_message_size", "must be at least 1"));
        }
        Pool::start(workers, window, transport, self.max_message_size)
    }
}

fn invalid(setting: &'static str, problem: &'static str) -> Error {
    Error::InvalidSetting { setting, problem }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("window", &self.window)
            .field("max_message_size", &self.max_message_size)
            .field("transport", &self.transport.as_ref().map(|t| t.name()))
            .finish()
    }
}
