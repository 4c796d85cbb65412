//! Configuration of an explicit [`Pool`].

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::api::default::apply_default;
use crate::api::pool::Pool;
use crate::api::proc::Proc;
use crate::contract::Transport;
use crate::contract::attach::Attach;
use crate::contract::erased::Source;
use crate::error::Error;
use crate::pool::CallSettings;
use crate::pool::direct::Lent;
use crate::pool::limits::LimitSettings;
use crate::pool::output::Output;
use crate::pool::retry::Policy;
use crate::pool::slot::SlotConfig;
use crate::pool::spec::Spec;
use crate::pool::watch::Watch;
use crate::wire::env::{DEFAULT_MAX_MESSAGE_SIZE, in_worker};

mod limits;

/// The facade's choice of default transport, applied by [`Builder::build`]
/// when none was given and none was registered with
/// `register_default_transport!`. Not a public API.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static DEFAULT_TRANSPORT: [fn(Builder) -> Builder];

/// Generous: a loaded machine can take seconds to start a process, and a
/// large binary must be paged in first.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

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
    chunk_size: Option<usize>,
    max_message_size: usize,
    source: Option<Source>,
    timeout: Option<Duration>,
    handshake_timeout: Duration,
    max_tasks_per_worker: Option<usize>,
    initializer: Option<Result<Spec, Error>>,
    retry: Policy,
    /// Set in `builder/limits.rs`.
    limits: LimitSettings,
    /// `None`: [`Output::Forward`] for spawned workers.
    output: Option<Output>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            workers: None,
            window: None,
            chunk_size: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            source: None,
            timeout: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_tasks_per_worker: None,
            initializer: None,
            retry: Policy::default(),
            limits: LimitSettings::default(),
            output: None,
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
    /// finished but not yet taken by the consumer. This bounds the parent's
    /// memory on an endless input and a slow consumer. By default it follows
    /// the batch size (four batches per worker, at least 16 calls per worker,
    /// at most 65,536 calls).
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

    /// Pins how many calls of one function travel to a worker in one
    /// message. By default it adapts: calls that take microseconds are
    /// batched by the hundreds, so that a round trip costs little per call,
    /// and calls that take milliseconds travel alone.
    ///
    /// `chunk_size(1)` gives at-most-once execution: when a worker dies in a
    /// batch, procs cannot know which calls of the batch had finished, and
    /// runs them again one by one to find the one that crashed.
    ///
    /// With `chunk_size(1)`, once a `pmap` knows its calls are short (a
    /// fraction of a millisecond), the calling thread sends them to the
    /// idle workers and reads their answers itself, dozens in flight per
    /// worker, in bursts of about 2 ms of work per worker: each call still
    /// travels alone, and its results come a burst at a time. (Without a
    /// deadline or resource limits on the pool; `async` streams always go
    /// through the pool's threads.)
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().chunk_size(1);
    /// ```
    pub fn chunk_size(mut self, calls: usize) -> Builder {
        self.chunk_size = Some(calls);
        self
    }

    /// The largest message, in bytes, either side accepts; defaults to 1 GiB.
    /// A call whose arguments or result are larger fails with
    /// [`Error::TooLarge`] (the worker lives on).
    ///
    /// A `Vec<u8>` argument or return value of 64 KiB or more travels as a
    /// message of its own, straight from and into the buffers involved, and
    /// is held to the limit alone.
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
    /// [`build`](Self::build) refuses a transport whose
    /// [`NAME`](Transport::NAME) another transport linked into the binary
    /// also registers: re-executed workers find theirs by name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use std::process::{Child, Command};
    /// # use procs_core::BoxError;
    /// # use procs_core::transport::{Channel, Transport};
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
        self.source = Some(Source::Spawn(Arc::new(transport)));
        self
    }

    /// Attaches to workers that something else started (an MPI launcher, a
    /// remote host) instead of spawning them; the pool has one slot per
    /// worker. Replaces [`transport`](Self::transport).
    ///
    /// The pool cannot kill what it did not start, so [`build`](Self::build)
    /// refuses [`timeout`](Self::timeout) and
    /// [`max_tasks_per_worker`](Self::max_tasks_per_worker) with an attached
    /// pool, and a call with its own [`Proc::timeout`] fails with
    /// [`Error::InvalidSetting`]; see [`Attach`]. With
    /// [`workers`](Self::workers) the pool attaches to the first `n` workers
    /// only.
    ///
    /// # Examples
    ///
    /// See [`Attach`] for a complete example; given one:
    ///
    /// ```no_run
    /// # use std::os::unix::net::UnixStream;
    /// # use procs_core::BoxError;
    /// # use procs_core::transport::{frame, Attach, Channel};
    /// # struct SocketChannel(UnixStream);
    /// # impl Channel for SocketChannel {
    /// #     type Error = std::io::Error;
    /// #     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> { frame::write_frame(&mut self.0, msg) }
    /// #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { frame::read_frame(&mut self.0, 1 << 20) }
    /// # }
    /// # struct Listening(usize);
    /// # impl Attach for Listening {
    /// #     type Channel = SocketChannel;
    /// #     const NAME: &'static str = "listening";
    /// #     fn workers(&self) -> usize { self.0 }
    /// #     fn attach(&self, i: usize, _: usize) -> Result<SocketChannel, BoxError> {
    /// #         Ok(SocketChannel(UnixStream::connect(format!("/run/app/worker-{i}"))?))
    /// #     }
    /// # }
    /// let pool = procs_core::Pool::builder().attach(Listening(4)).build()?;
    /// # Ok::<(), procs_core::Error>(())
    /// ```
    pub fn attach<A: Attach>(mut self, workers: A) -> Builder {
        self.source = Some(Source::Attach(Arc::new(workers)));
        self
    }

    /// A deadline for every task whose proc sets none (see
    /// [`Proc::timeout`]); by default tasks may run forever.
    ///
    /// Each call's deadline counts from when that call starts running in
    /// its worker, not from when its batch was sent. A call that runs past
    /// it yields [`Error::Timeout`] in its place and its worker is killed
    /// (with its process group) and replaced; the calls of its batch that
    /// finished before it yield their results, those after it never started
    /// and run on another worker, and none runs twice. The report comes at
    /// or after the deadline, never before, at most a clock tick (4 ms on
    /// Linux with `HZ=250`) late.
    ///
    /// What it costs: timed calls batch and pipeline like others. Each
    /// worker runs a watchdog thread (asleep until the running call's
    /// deadline; an idle one looks again every timeout, or every clock tick
    /// for shorter ones), and each call reads the coarse clock and updates
    /// a few atomics (no syscall, about 20 ns). Measured with
    /// `procs-bench timed` (`pmap` over 1,000,000 `u64 -> u64`, alternated
    /// with the same pool without a timeout), tiny tasks run at about the
    /// untimed rate: the median ratio was 0.7–1.4× across runs on a shared
    /// 2-CPU VM, the workers' CPU per call equal within the resolution of
    /// `/proc`. (When timed calls travelled alone, they ran 33× slower.)
    ///
    /// A worker that cannot report (stopped, or without a thread to spare)
    /// is killed by the pool once its request had time for every call's
    /// deadline and a grace period; the pool cannot tell which of the
    /// request's calls ran, so all of them yield `Timeout` rather than run
    /// twice. A timeout does not make a batch run at most once when a
    /// worker *crashes* in it; [`chunk_size(1)`](Self::chunk_size) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = procs_core::Pool::builder().timeout(Duration::from_secs(30));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = Some(timeout);
        self
    }

    /// How long a new worker may take to start and greet the pool before it
    /// is killed and the task that needed it fails with
    /// [`Error::HandshakeTimeout`]; defaults to 30 seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = procs_core::Pool::builder().handshake_timeout(Duration::from_secs(5));
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Builder {
        self.handshake_timeout = timeout;
        self
    }

    /// Where the workers' stdout and stderr go: through the parent, whole
    /// line by line, by default ([`Output::Forward`]), so `cargo test`
    /// captures them and a failed call's error carries its stderr tail
    /// ([`Error::stderr_tail`]); [`Output::Prefixed`] also leads each line
    /// with the worker's pid; [`Output::Inherit`] hands the workers the
    /// parent's own streams.
    ///
    /// With [`attach`](Self::attach), any output but [`Output::Inherit`]
    /// makes [`build`](Self::build) fail with [`Error::InvalidSetting`]:
    /// attached workers keep their own standard streams.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::{Output, Pool};
    ///
    /// let builder = Pool::builder().output(Output::Prefixed);
    /// ```
    pub fn output(mut self, output: Output) -> Builder {
        self.output = Some(output);
        self
    }

    /// Replaces each worker with a fresh process after it has run this many
    /// tasks, returning whatever memory it leaked or fragmented (like
    /// `maxtasksperchild` of Python's multiprocessing). By default workers
    /// live as long as the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().max_tasks_per_worker(1000);
    /// ```
    pub fn max_tasks_per_worker(mut self, tasks: usize) -> Builder {
        self.max_tasks_per_worker = Some(tasks);
        self
    }

    /// A call that runs once in every new worker before its first task: to
    /// open a database, load a model, seed a cache. Its result is discarded.
    ///
    /// If it fails (panics, crashes, times out), the worker is discarded and
    /// the task that needed it yields [`Error::InitializerFailed`]; the next
    /// task tries a new worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::proc;
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn warm_up(cache_mb: u32) {}
    ///
    /// let builder = procs_core::Pool::builder().initializer(proc!(warm_up(64)));
    /// ```
    pub fn initializer<R>(mut self, init: Proc<R>) -> Builder {
        self.initializer = Some(init.into_spec());
        self
    }

    /// Runs a call again, up to `retries` more times, when its worker dies
    /// ([`Error::WorkerDied`], [`Error::WorkerLost`]) or it times out
    /// ([`Error::Timeout`]); none by default. [`Proc::retries`] overrides it
    /// per call.
    ///
    /// Each retry runs on another worker (the dead one is replaced) after a
    /// short backoff, without holding up other calls. Panics are retried
    /// only with [`retry_panics`](Builder::retry_panics); failures that
    /// would recur or are not the call's (encoding, an unknown function, a
    /// message too large, a closed pool, a resource limit's
    /// [`Error::OutOfMemory`] or [`Error::CpuTimeLimit`]) and cancelled
    /// calls never are. A
    /// call that still fails yields its last error, which says "after N
    /// attempts" and holds the earlier ones
    /// ([`Error::attempts`], [`CallContext::earlier_attempts`]); a call
    /// that brought down a worker on every one of its `retries + 1`
    /// attempts yields [`Error::Poisoned`], and the other calls go on.
    ///
    /// **Delivery**: without retries a call runs at most once; with them, at
    /// least once. A call whose worker died may have done part or all of its
    /// work (written a file, sent a request) before it died, and runs again:
    /// give retries to calls that are safe to repeat.
    ///
    /// [`CallContext::earlier_attempts`]: crate::CallContext::earlier_attempts
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().retries(2);
    /// ```
    pub fn retries(mut self, retries: u32) -> Builder {
        self.retry.retries = retries;
        self
    }

    /// Whether calls that panicked are retried too, within their
    /// [`retries`](Builder::retries); off by default, since a panic is
    /// usually deterministic. A call that keeps panicking yields its last
    /// [`Error::Panicked`], never [`Error::Poisoned`] (a panic does not bring
    /// the worker down, except under `panic = "abort"`).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().retries(1).retry_panics(true);
    /// ```
    pub fn retry_panics(mut self, retry: bool) -> Builder {
        self.retry.panics = retry;
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
    /// [`Error::InsideWorker`] in a worker process, [`Error::DuplicateId`]
    /// when two `#[remote]` functions of the program share an ID,
    /// [`Error::NoTransport`]
    /// when no transport was given or enabled, [`Error::InvalidSetting`] for
    /// a zero worker count, window, message size or task limit (and, with
    /// setting `register_default_transport!`, when no transport was given
    /// and two default transports are registered), the
    /// initializer's error if its proc could not be made, and
    /// [`Error::Spawn`] when a pool thread cannot be started.
    pub fn build(mut self) -> Result<Pool, Error> {
        if in_worker() {
            return Err(Error::InsideWorker);
        }
        // Before any worker starts: a shared ID would otherwise surface only
        // when some call names it, maybe in production.
        crate::remote::registry::registry().check()?;
        if self.source.is_none() {
            self = apply_default(self)
                .map_err(|(setting, problem)| Error::InvalidSetting { setting, problem })?;
        }
        let source = self.source.ok_or(Error::NoTransport)?;
        if let Source::Spawn(transport) = &source {
            // A re-executed worker finds its transport by name: two of one
            // name would route some workers to the wrong one. (None is fine
            // for a transport whose workers are other programs.)
            let name = transport.name();
            if crate::contract::registry::TRANSPORTS
                .iter()
                .filter(|t| t.name == name)
                .count()
                > 1
            {
                return Err(invalid(
                    "transport",
                    "shares its NAME with another transport linked into this binary",
                ));
            }
        }
        let workers = match (&source, self.workers) {
            (_, Some(0)) => return Err(invalid("workers", "must be at least 1")),
            (Source::Attach(attach), Some(n)) if n > attach.workers() => {
                return Err(invalid(
                    "workers",
                    "is more than there are workers to attach to",
                ));
            }
            // Fewer slots than workers: the pool attaches to the first `n`.
            (Source::Attach(_), Some(n)) => n,
            (Source::Attach(attach), _) => match attach.workers() {
                0 => return Err(invalid("attach", "there are no workers to attach to")),
                n => n,
            },
            (Source::Spawn(_), Some(n)) => n,
            (Source::Spawn(_), None) => {
                std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
            }
        };
        if matches!(source, Source::Attach(_)) {
            if self.timeout.is_some() {
                return Err(invalid("timeout", "attached workers cannot be killed"));
            }
            if self.max_tasks_per_worker.is_some() {
                return Err(invalid(
                    "max_tasks_per_worker",
                    "attached workers cannot be replaced",
                ));
            }
            if self.output.is_some_and(|output| output != Output::Inherit) {
                return Err(invalid(
                    "output",
                    "attached workers keep their own standard streams",
                ));
            }
        }
        if self.window == Some(0) {
            return Err(invalid("window", "must be at least 1"));
        }
        if self.chunk_size == Some(0) {
            return Err(invalid("chunk_size", "must be at least 1"));
        }
        let settings = CallSettings {
            window: self.window,
            chunk_size: self.chunk_size,
            retry: self.retry,
        };
        if self.max_message_size == 0 {
            return Err(invalid("max_message_size", "must be at least 1"));
        }
        let max_tasks_per_worker = match self.max_tasks_per_worker {
            Some(n) => Some(
                NonZeroUsize::new(n)
                    .ok_or_else(|| invalid("max_tasks_per_worker", "must be at least 1"))?,
            ),
            None => None,
        };
        let initializer = self.initializer.transpose()?;
        let limits = self.limits.resolve(matches!(source, Source::Attach(_)))?;
        let watch = Watch::start(workers).map_err(|error| Error::Spawn(error.into()))?;
        let counters = std::sync::Arc::new(crate::pool::stats::Counters::new(workers));
        let config = SlotConfig {
            source,
            max_message_size: self.max_message_size,
            timeout: self.timeout,
            handshake_timeout: self.handshake_timeout,
            max_tasks_per_worker,
            initializer,
            watch,
            lent: Lent::new(workers, counters.clone()),
            counters,
            limits,
            output: self.output.unwrap_or_default(),
        };
        crate::pool::Shared::start(workers, settings, config).map(Pool::from_shared)
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
            .field("chunk_size", &self.chunk_size)
            .field("max_message_size", &self.max_message_size)
            .field("transport", &self.source.as_ref().map(Source::name))
            .field("timeout", &self.timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_tasks_per_worker", &self.max_tasks_per_worker)
            .field("retries", &self.retry.retries)
            .field("retry_panics", &self.retry.panics)
            .field("limits", &self.limits)
            .field("output", &self.output)
            .field(
                "initializer",
                &self.initializer.as_ref().map(|i| i.as_ref().map(|s| s.id)),
            )
            .finish()
    }
}

#[cfg(test)]
mod test {
    use std::process::{Child, Command};

    use super::*;
    use crate::contract::{BoxError, Channel};

    struct Never;

    impl Channel for Never {
        type Error = std::io::Error;
        fn send(&mut self, _: &[u8]) -> std::io::Result<()> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
        fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
            Ok(None)
        }
    }

    macro_rules! transport {
        ($name:ident, $id:literal) => {
            #[derive(Default)]
            struct $name;

            impl Transport for $name {
                type Channel = Never;
                const NAME: &'static str = $id;
                fn spawn(&self, _: Command, _: usize) -> Result<(Never, Child), BoxError> {
                    Err("never spawns".into())
                }
                fn connect(_: usize) -> Result<Never, BoxError> {
                    Err("never connects".into())
                }
            }
        };
    }

    transport!(Twin, "test-twin");
    transport!(OtherTwin, "test-twin");
    crate::__register_transport!(Twin);
    crate::__register_transport!(OtherTwin);

    #[test]
    fn two_transports_of_one_name_are_refused() {
        match Builder::new().transport(Twin).build() {
            Err(Error::InvalidSetting { setting, problem }) => {
                assert_eq!(setting, "transport");
                assert!(problem.contains("shares its NAME"), "{problem}");
            }
            other => panic!("expected an invalid transport, got {other:?}"),
        }
    }
}
