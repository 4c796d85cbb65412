//! The core of [procs]: run Rust functions in parallel child processes.
//!
//! This crate holds everything procs is made of except the transports:
//! [`Proc`] and [`proc!`], [`call`] and [`pmap`], the [`Pool`], the
//! [`Transport`](transport::Transport) and [`Channel`](transport::Channel)
//! traits, the registry of `#[remote]`
//! functions, the worker loop and the wire codec.
//!
//! **Applications should depend on the `procs` facade**, which re-exports this
//! crate, adds the `#[remote]` attribute and picks a transport by feature
//! flag. Depend on `procs-core` directly to write a transport: a transport
//! crate implements [`Transport`](transport::Transport) and depends on nothing else of procs, so it
//! compiles in parallel with the rest.
//!
//! # How a call flows
//!
//! The parent encodes the arguments when the [`Proc`] is made and queues the
//! call on the pool. A free worker (the same binary, re-executed, routed to
//! the worker loop before `main`) receives it, looks the function up by its
//! stable ID, runs it under `catch_unwind` and sends back the encoded result
//! or the panic. The parent yields results in input order.
//!
//! # Failures
//!
//! A failed call yields its [`Error`] in its place. With
//! [`Builder::retries`] the pool runs a call whose worker died or that timed
//! out again (at-least-once), and gives up on one that brings down every
//! worker it runs on ([`Error::Poisoned`]); [`Error::replay`] runs a failed
//! call again in the calling process.
//!
//! # Watching a pool
//!
//! [`Pool::stats`] returns a [`PoolStats`]: calls queued, running and
//! answered by outcome, workers alive, started and replaced, and each
//! worker's resident memory; its docs show a progress bar over a `pmap`.
//!
//! # Feature flags
//!
//! - `tracing`: a task's `tracing` events and spans, and its `log` records,
//!   reach the subscriber current where the call was made, under the span
//!   current there, inside a `procs` span (target `procs::worker`, fields
//!   `id` and `pid`). Each keeps its target, level, fields and location, so
//!   the caller's filters apply. A worker forwards only what the parent's
//!   most verbose level (`LevelFilter::current()` when the worker starts)
//!   lets through, and a task's records arrive before its result.
//! - `testkit`: the transport conformance kit, `procs_core::testkit`.
//!
//! # Output
//!
//! A spawned worker's stdout and stderr go through the parent by default
//! ([`Output::Forward`]): written whole line by line with `print!`'s
//! machinery, so lines of different workers never mix and `cargo test`
//! captures them; the error of a call that crashed, panicked or timed out
//! ends with the last line it wrote to stderr ([`Error::stderr_tail`]).
//! [`Builder::output`] chooses [`Output::Prefixed`] or [`Output::Inherit`].
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85, declared from the dependencies; only the current stable is tested.
//!
//! [procs]: https://docs.rs/procs
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod contract;
mod error;
mod exit;
mod pool;
mod remote;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod util;
mod wire;
mod worker;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use api::builder::Builder;
pub use api::call::{Calls, call, call_async, marker};
pub use api::call_async::CallFuture;
pub use api::pmap::{pmap, pmap_unordered};
pub use api::pool::Pool;
pub use api::proc::Proc;
pub use api::results::Results;
pub use api::stats::{Failures, PoolStats, WorkerStats};
pub use api::unordered::Unordered;
pub use contract::BoxError;
pub use error::{CallContext, Error, Payload};
pub use exit::Exit;
pub use pool::limits::MemoryMechanism;
pub use pool::output::Output;
pub use remote::remote_fn::RemoteFn;
pub use wire::panic::{Location, PanicInfo};
pub use worker::entry::init;

/// For transport authors: the contract a transport implements, and what
/// implementing it takes.
///
/// Applications never need this module: they pick a transport by value
/// (`Pool::builder().transport(...)`) or by the facade's feature flags. A
/// transport crate implements [`Transport`](transport::Transport) (procs
/// spawns and reaches the workers) or [`Attach`](transport::Attach)
/// (something else started them), registers it with
/// [`register_transport!`](transport::register_transport), and checks
/// itself with the conformance kit (`procs_core::testkit`, feature
/// `testkit`). See `docs/writing-a-transport.md`.
///
/// # Examples
///
/// ```
/// use procs_core::transport::{frame, Channel};
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
    #[doc(inline)]
    pub use crate::__register_default_transport as register_default_transport;
    #[doc(inline)]
    pub use crate::__register_transport as register_transport;
    pub use crate::contract::accept::{Accepting, Listener, accept_authenticated};
    pub use crate::contract::attach::Attach;
    pub use crate::contract::child_watch::{ChildWatch, Woke};
    pub use crate::contract::fd::above_stdio;
    pub use crate::contract::frame;
    pub use crate::contract::stream::StreamChannel;
    pub use crate::contract::token::Token;
    pub use crate::contract::{BoxError, Channel, Fault, Transport, fault_of};
    pub use crate::util::backoff::Backoff;
    pub use crate::worker::entry::serve;
}
