//! A [procs](https://docs.rs/procs) transport over anonymous pipes.
//!
//! Each worker gets two pipes made with `O_CLOEXEC` (no sibling worker can
//! inherit them, so a dead worker's pipes really close). The worker's own two
//! ends never become inheritable: the parent sends them (`SCM_RIGHTS`) over a
//! Unix socket that becomes the worker's stdin, and the worker takes them
//! from there and puts `/dev/null` back. Nothing runs in the child between
//! `fork` and `exec`, so std starts workers with `posix_spawn` rather than a
//! full `fork` of the parent.
//!
//! Messages are length-prefixed frames ([`procs_core::transport::frame`]) with a size
//! limit checked before any allocation. Frames of 1 MiB or more are written
//! with `vmsplice`: the pipe refers to the sender's pages instead of copying
//! them, which takes a 256 MiB buffer across in about a third of the time,
//! and `send` returns once the reader has read the whole frame.
//!
//! Applications get this transport through the `procs` facade's `pipe`
//! feature (on by default) and never name it; name it to pick it explicitly:
//!
//! ```no_run
//! use procs_core::Pool;
//! use procs_transport_pipe::PipeTransport;
//!
//! let pool = Pool::builder().transport(PipeTransport::default()).build()?;
//! # Ok::<(), procs_core::Error>(())
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

mod counted;
mod error;
mod splice;
mod unix;

pub use error::Error;
pub use unix::{PipeChannel, PipeTransport};
