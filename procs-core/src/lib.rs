//! The core of [procs]: run Rust functions in parallel child processes.
//!
//! This crate holds everything procs is made of except the transports:
//! [`Proc`] and [`proc!`], [`call`] and [`pmap`], the [`Pool`], the
//! [`Transport`] and [`Channel`] traits, the registry of `#[remote]`
//! functions, the worker loop and the wire codec.
//!
//! **Applications should depend on the `procs` facade**, which re-exports this
//! crate, adds the `#[remote]` attribute and picks a transport by feature
//! flag. Depend on `procs-core` directly to write a transport: a transport
//! crate implements [`Transport`] and depends on nothing else of procs, so it
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
//! # Minimum supported Rust version
//!
//! Rust 1.85, declared from the dependencies; only the current stable is tested.
//!
//! [procs]: https://docs.rs/procs
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attach;
mod builder;
mod call;
mod codec;
mod detached;
mod direct;
mod entry;
mod erased;
mod error;
mod exit;
pub mod frame;
mod job;
mod launch;
mod pmap;
mod pool;
mod proc;
mod registry;
mod remote_fn;
mod results;
mod runtime;
mod slot;
mod spare;
mod spin;
mod startup;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod transport;
mod unordered;
mod watch;
mod worker;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use attach::Attach;
pub use builder::Builder;
pub use call::{Calls, call, marker};
pub use entry::{init, serve_attached as serve};
pub use error::{BoxError, Error, Location, PanicInfo, Payload};
pub use exit::Exit;
pub use pmap::{pmap, pmap_unordered};
pub use pool::Pool;
pub use proc::Proc;
pub use remote_fn::RemoteFn;
pub use results::Results;
pub use transport::{Channel, Transport};
pub use unordered::Unordered;
