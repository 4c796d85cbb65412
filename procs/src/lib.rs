//! Run Rust functions in parallel child processes and get their results back.
//!
//! procs is for work that threads cannot isolate: a task that may crash,
//! hang, leak or must not share the caller's address space. Annotate a
//! function with [`#[remote]`](remote), describe calls with [`proc!`], and run
//! them with [`call`] or [`pmap`] on a pool of warm worker processes, which
//! are the same binary re-executed. A failed task (a panic, an abort, a
//! segfault, an `exit`) yields an [`Error`] in its own position; the others
//! complete and the pool replaces the worker.
//!
//! # Examples
//!
//! ```no_run
//! use procs::{call, pmap, proc, remote};
//!
//! #[remote]
//! fn slow_function(n: u32, greeting: String, foo: f64) -> String {
//!     format!("{greeting} #{n} ({foo})")
//! }
//!
//! #[remote]
//! fn slower_function(x: u64, y: u64) -> u64 {
//!     x.pow(y as u32)
//! }
//!
//! fn main() -> Result<(), procs::Error> {
//!     procs::init();
//!
//!     // A spec reads almost like the call it stands for.
//!     let p1 = proc!(slow_function(5, "hello".into(), 3.14));
//!     let p2 = proc!(slower_function(10, 3));
//!
//!     // Different return types: a tuple in, a tuple of results out.
//!     let (r1, r2) = call((p1, p2));
//!     println!("{} {}", r1?, r2?);
//!
//!     // Many of one type: yields in order, each as soon as it is ready.
//!     for r in call((0..8).map(|i| proc!(slower_function(i, 2)))) {
//!         println!("{}", r?);
//!     }
//!
//!     // Map over processes.
//!     let squares: Vec<u64> = pmap(slower_function, (0..1000).map(|i| (i, 2)))
//!         .collect::<Result<_, _>>()?;
//!     assert_eq!(squares[999], 998_001);
//!     Ok(())
//! }
//! ```
//!
//! # Worker entry
//!
//! A worker is this same binary, re-executed; procs routes it to the worker
//! loop before `main` runs, so binaries, tests and examples need no set-up.
//! Calling [`init()`] first thing in `main` documents the entry and is
//! required only on platforms without constructor support.
//!
//! A `#[remote]` function is registered next to its definition, so it must
//! be linked into the binary: a function in a crate the binary never uses is
//! not found by the worker (the error lists the IDs it knows).
//!
//! # Async
//!
//! [`call_async`] (and [`Pool::call_async`]) accepts what [`call`] accepts
//! and never blocks the executor's thread: one proc or a tuple gives a
//! [`CallFuture`] of the same output, an iterator of procs gives
//! [`Results`], which, like [`Unordered`], is a
//! [`Stream`](futures_core::Stream) as well as an iterator, and `Send`. The
//! pool's own threads wake the task when an answer arrives, so any executor
//! works (tokio, smol, `futures::executor`); procs depends on none. Dropping
//! a future or a stream cancels its calls as dropping `Results` does: queued
//! calls never run and running ones are killed with their workers, so a
//! `tokio::time::timeout` around a call kills the task when it fires.
//!
//! ```no_run
//! use procs::{call_async, proc, remote};
//!
//! #[remote]
//! fn primes_below(n: u64) -> u64 {
//!     (2..n).filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0)).count() as u64
//! }
//!
//! async fn handle(n: u64) -> Result<u64, procs::Error> {
//!     // The executor's thread serves other requests meanwhile.
//!     call_async(proc!(primes_below(n))).await
//! }
//! ```
//!
//! `examples/examples/async_server.rs` is a tokio server that hands
//! CPU-heavy and crash-prone work to procs.
//!
//! # When a task fails: retries and replay
//!
//! A failed call yields its [`Error`] in its place. [`Builder::retries`]
//! (or [`Proc::retries`]) runs a call whose worker died or that timed out
//! again, on a fresh worker; a call that brings down a worker on every
//! attempt yields [`Error::Poisoned`], and the others go on. With retries a
//! call runs at least once: give them to calls that are safe to repeat.
//! [`Error::replay`] runs a failed call again in the calling process, to
//! reproduce it under a debugger or with extra logging; a panic unwinds out
//! of it as from a direct call.
//!
//! ```no_run
//! use procs::{Pool, proc, remote};
//!
//! #[remote]
//! fn parse(line: String) -> u32 { line.trim().parse().expect("a number") }
//!
//! let pool = Pool::builder().retries(2).build()?;
//! if let Err(err) = pool.call(proc!(parse("x1".into()))) {
//!     eprintln!("{err} ({} attempts)", err.attempts());
//!     let _again: u32 = err.replay()?; // panics here, as in the worker
//! }
//! # Ok::<(), procs::Error>(())
//! ```
//!
//! # What a worker is
//!
//! A worker is a separate process, not a thread. It copies the environment,
//! the current directory and the command-line arguments when it starts, and
//! from then on is on its own:
//!
//! - A `std::env::set_var` or `std::env::set_current_dir` in the parent
//!   reaches only workers started after it. Workers are replaced when they
//!   die, so one pool can hold workers from before and after such a change.
//!   For a uniform view, set them first and build the pool after (or pass
//!   the values as arguments).
//! - Statics and anything else `main` sets up are not set in a worker: it
//!   never runs `main`. Pass what a function needs as its arguments.
//! - A `#[remote]` function that itself uses procs (a pool, [`call`],
//!   [`pmap`]) gets [`Error::InsideWorker`]: nested pools are refused. Return
//!   the data to the caller and run the next stage from there.
//!
//! # Watching a pool
//!
//! [`Pool::stats`] returns a [`PoolStats`] snapshot: calls queued, running,
//! succeeded, failed by kind and cancelled; workers alive, started and
//! replaced; each worker's resident memory. Its docs show a progress bar
//! over a `pmap`.
//!
//! # Wire format limits
//!
//! Arguments and results cross as bincode, which is not self-describing:
//! `serde_json::Value`, `#[serde(untagged)]`, internally tagged enums
//! (`#[serde(tag = "...")]`) and `skip_serializing_if` compile but fail at run
//! time with [`Error::Encode`] or [`Error::Decode`]. Use a plain struct or
//! enum, or encode such a value to bytes or a `String` yourself.
//!
//! # Feature flags
//!
//! - `pipe` (default): `PipeTransport`, over anonymous pipes.
//! - `ipc`: `IpcTransport`, over `ipc-channel` (Unix sockets with descriptor
//!   passing; messages over 64 KiB travel in shared memory). Needs Rust 1.86.
//! - `mpi` (off by default): `MpiTransport`. Under an MPI launcher
//!   (`mpirun -np N ./app`), rank 0 runs `main`, ranks 1 to N−1 serve its
//!   calls, and the default pool attaches to them; started any other way,
//!   the program runs on the local default transport as before. Building it
//!   needs an MPI library (Open MPI or MPICH, with development files) and
//!   libclang. See `docs/cluster.md`.
//! - `tracing` (off by default): a task's `tracing` events and spans, and
//!   its `log` records, reach the subscriber that was current where the call
//!   was made, under the span current there, inside a `procs` span (target
//!   `procs::worker`) with the function's ID (`id`) and the worker's pid
//!   (`pid`). Targets, levels and fields are the task's own, so the caller's
//!   filters apply; a worker forwards only what the parent's most verbose
//!   level (`LevelFilter::current()` when the worker starts: set up the
//!   subscriber before the pool) lets through, and a call's records arrive
//!   before its result.
//!
//! Features are additive. With both on, `pipe` stays the default and `ipc`
//! adds `IpcTransport`, to pick per pool; with `default-features = false,
//! features = ["ipc"]`, `ipc` is the default.
//!
//! [`DefaultTransport`] is the enabled transport, used by [`call`], [`pmap`]
//! and [`Pool::builder`] unless another is given with
//! [`Builder::transport`].
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85, declared from the dependencies; only the current stable is tested.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod default_transport;

pub use procs_core::{
    BoxError, Builder, CallContext, CallFuture, Calls, Error, Exit, Failures, Location,
    MemoryMechanism, Output, PanicInfo, Payload, Pool, PoolStats, Proc, RemoteFn, Results,
    Unordered, WorkerStats, call, call_async, init, marker, pmap, pmap_unordered, proc,
};

/// For transport authors: the contract a transport implements.
///
/// Applications rarely need this module: they choose a transport with a
/// feature flag, per pool (`Pool::builder().transport(...)`), or make a
/// third-party transport the default with
/// [`register_default_transport!`](transport::register_default_transport),
/// which takes precedence over the feature flags' default. A transport
/// crate implements [`Transport`](transport::Transport) or
/// [`Attach`](transport::Attach) and registers it with
/// [`register_transport!`](transport::register_transport); workers that
/// something else started call [`serve`](transport::serve). See
/// `docs/writing-a-transport.md`.
///
/// # Examples
///
/// ```
/// use procs::transport::{frame, Channel};
///
/// struct Framed(std::io::Cursor<Vec<u8>>);
///
/// impl Channel for Framed {
///     type Error = std::io::Error;
///     fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
///         frame::write_frame(&mut self.0, msg)
///     }
///     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
///         frame::read_frame(&mut self.0, 1 << 20)
///     }
/// }
/// ```
pub mod transport {
    pub use procs_core::transport::{
        Accepting, Attach, Backoff, BoxError, Channel, ChildWatch, Fault, Listener, StreamChannel,
        Token, Transport, Woke, above_stdio, accept_authenticated, fault_of, frame, serve,
    };

    #[doc(inline)]
    pub use procs_core::transport::{register_default_transport, register_transport};
}

#[doc(hidden)]
pub use procs_core::__private;

#[cfg(feature = "pipe")]
#[cfg_attr(docsrs, doc(cfg(feature = "pipe")))]
pub use procs_transport_pipe::PipeTransport;

#[cfg(feature = "ipc")]
#[cfg_attr(docsrs, doc(cfg(feature = "ipc")))]
pub use procs_transport_ipc::IpcTransport;

#[cfg(feature = "mpi")]
#[cfg_attr(docsrs, doc(cfg(feature = "mpi")))]
pub use procs_transport_mpi::MpiTransport;

pub use default_transport::DefaultTransport;

/// Registers a function to run in worker processes, under a stable ID.
///
/// The function stays callable as before. Its ID is
/// `module_path!()::name` unless pinned with `#[remote(id = "...")]`; pin it
/// when the function may move between modules while parents and workers of
/// different builds must agree. Arguments and the return value must be owned
/// `serde` types (`Serialize + DeserializeOwned + Send + 'static`).
///
/// IDs never collide silently. Functions of one name nested in different
/// functions of one module share their default ID (`module_path!()` does not
/// name the enclosing function), so each goes by its location instead,
/// `app::helper@src/main.rs:12:5`; such an ID changes when the code moves,
/// so pin one when another build must reach the function. Two functions
/// pinned to one ID do not build: in one crate rustc reports "symbol
/// `__procs_remote_id_<the ID in hex>` is already defined" on the second
/// attribute, across crates the linker reports that symbol as a duplicate
/// (`cargo check` does not see it). A pinned ID equal to another function's
/// default ID is an error too, found when the program starts its first pool:
/// every pool refuses to start with [`Error::DuplicateId`], which names both
/// definitions, and no call runs.
///
/// Arguments and results cross as bincode, which is not self-describing:
/// `serde_json::Value`, `#[serde(untagged)]` and internally tagged enums,
/// `#[serde(flatten)]` and `skip_serializing_if` compile but fail at run time
/// with an [`Error::Decode`] (or [`Error::Encode`]) that names the function,
/// the argument's position and type or the result's type, bincode's cause,
/// and this limit. Use plain structs and enums, or encode such a value to
/// bytes or a `String` yourself.
///
/// Misuse is a compile error on the offending tokens: generic or `async`
/// functions, `self` receivers, reference or `impl Trait` arguments, unknown
/// or repeated attribute arguments.
///
/// # Examples
///
/// ```no_run
/// use procs::{call, proc, remote};
///
/// #[remote]
/// fn add(a: u64, b: u64) -> u64 {
///     a + b
/// }
///
/// #[remote(id = "geometry::area/v1")]
/// fn area(w: f64, h: f64) -> f64 {
///     w * h
/// }
///
/// assert_eq!(add(1, 2), 3); // still an ordinary function
/// let (sum, a) = call((proc!(add(1, 2)), proc!(area(2.0, 3.0))));
/// assert_eq!((sum?, a?), (3, 6.0));
/// # Ok::<(), procs::Error>(())
/// ```
///
/// `crate = path` names the procs crate when it is not `::procs` (a
/// re-export, or `procs_core` in a transport crate's tests).
pub use procs_derive::remote;
