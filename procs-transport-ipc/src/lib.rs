//! A [procs](https://docs.rs/procs) transport over
//! [`ipc-channel`](https://docs.rs/ipc-channel): Unix sockets with file
//! descriptor passing, and shared memory for large messages.
//!
//! The worker is bootstrapped through an `IpcOneShotServer` whose name
//! travels in the `PROCS_IPC_SERVER` environment variable; the worker sends
//! back the sender the parent will use, so each worker ends up with its own
//! pair of sockets. Messages up to [`SHARED_MEMORY_THRESHOLD`] bytes travel
//! inside the socket; larger ones stream through a shared memory ring (a
//! memfd of 8 MiB per direction, made once per channel), in chunks of 1 MiB
//! that the receiver copies out while the sender copies the next ones in.
//! So a 256 MiB argument never crosses the kernel's socket buffer, costs
//! about one copy's time per direction, and needs no fresh shared memory.
//! The size limit is checked before anything is allocated. See
//! [`IpcChannel`] for the memory held and for why nothing can hang.
//!
//! Applications get this transport through the `procs` facade's `ipc`
//! feature; name it to pick it explicitly:
//!
//! ```no_run
//! use procs_core::Pool;
//! use procs_transport_ipc::IpcTransport;
//!
//! let pool = Pool::builder().transport(IpcTransport::default()).build()?;
//! # Ok::<(), procs_core::Error>(())
//! ```
//!
//! # Caveats
//!
//! `ipc-channel` trusts the length in a socket packet's header: a peer that
//! sends a forged fragmented packet can make the receiver allocate that
//! length before this crate sees the message. procs' own peers never send
//! fragmented packets (the threshold keeps every inline packet under one
//! socket buffer), and the peer is always the same binary.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.86, from `ipc-channel` 0.23; only the current stable is tested.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

mod channel;
mod conn;
mod error;
mod packet;
mod ring;
mod transport;

pub use channel::IpcChannel;
pub use error::Error;
pub use packet::SHARED_MEMORY_THRESHOLD;
pub use transport::IpcTransport;
