//! The transport conformance kit: one call that drives a [`Transport`]
//! through the whole contract, with real worker processes.
//!
//! Every transport crate, in this repository or not, runs the kit from its
//! own tests. Enable the `testkit` feature in the dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! procs-core = { version = "0.1", features = ["testkit"] }
//! ```
//!
//! and call [`conformance`] from an integration test, in a file of its own
//! (`tests/conformance.rs`):
//!
//! ```no_run
//! # use std::process::{Child, Command};
//! # use procs_core::BoxError;
//! # use procs_core::transport::{Channel, Transport};
//! # #[derive(Clone, Default)]
//! # struct MyTransport;
//! # struct MyChannel;
//! # impl Channel for MyChannel {
//! #     type Error = std::io::Error;
//! #     fn send(&mut self, _: &[u8]) -> std::io::Result<()> { Ok(()) }
//! #     fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> { Ok(None) }
//! # }
//! # impl Transport for MyTransport {
//! #     type Channel = MyChannel;
//! #     const NAME: &'static str = "doc-my";
//! #     fn spawn(&self, _: Command, _: usize) -> Result<(MyChannel, Child), BoxError> { Err("".into()) }
//! #     fn connect(_: usize) -> Result<MyChannel, BoxError> { Err("".into()) }
//! # }
//! #[test]
//! fn conformance() {
//!     procs_core::testkit::conformance(MyTransport::default());
//! }
//! ```
//!
//! The kit needs `Transport + Clone`: it clones the transport into every
//! pool it builds and into the wrappers that simulate failing workers.
//!
//! Each check is also a function of its own, to run as separate tests and
//! see at a glance which part of the contract broke:
//!
//! ```no_run
//! # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
//! use procs_core::testkit;
//!
//! // in one #[test]:
//! testkit::large_payloads(&my_transport);
//! // in another:
//! testkit::worker_never_connects(&my_transport);
//! # }
//! ```
//!
//! # What it checks
//!
//! With a real [`Pool`] built with `.transport(...)`, and functions the kit
//! registers itself (under `procs_core::testkit::remote::*`):
//!
//! | check | the contract |
//! |---|---|
//! | [`hello_arrives_whole`] | `spawn` + `connect` give a working link; the first message arrives whole |
//! | [`end_reaches_the_worker`] | dropping the parent's end makes the worker's `recv` return `Ok(None)`, so it exits 0 |
//! | [`kill_ends_recv`] | killing the worker makes the parent's `recv` return, and a later `send` return |
//! | [`round_trips`] | values of several types, thousands of small messages in a row, several sent at once (`send_many`) |
//! | [`ordering`] | results in input order whatever the durations and sizes |
//! | [`empty_payloads`] | empty arguments and results, unit functions |
//! | [`large_payloads`] | 64 MiB each way, and sizes around pipe and socket buffers |
//! | [`many_workers`] | 8 workers running at once |
//! | [`no_inherited_links`] | no worker, first or replacement, inherits a sibling's link (close-on-exec) |
//! | [`message_limits`] | oversized messages fail their call, not the pool |
//! | [`hostile_sizes`] | a peer that sends past the receiver's limit is refused by the receiver's `recv`, as a [`Fault::Protocol`](crate::transport::Fault) |
//! | [`impostor_refused`] | a process that reaches the endpoint first, with the token (or another variable) altered, is refused; the real worker gets through |
//! | [`worker_exits`] / [`worker_aborts`] | `exit` and `abort` mid-task are reported with their status |
//! | [`grandchild_holds_nothing`] | a process a task started does not hold the link: the worker's death is still seen |
//! | [`worker_dies_mid_message`] | a reply cut short is an error, never a wrong value or a hang |
//! | [`reset_ends_recv`] | a worker that exits with the parent's data unread (a TCP reset) ends the parent's `send` and `recv` |
//! | [`worker_exits_before_connecting`] | a worker that exits before connecting is reported promptly |
//! | [`worker_never_connects`] | a worker that never connects is killed at the handshake deadline |
//! | [`deadline_kills`] | a task past its deadline is killed and reported |
//! | [`kill_and_reap`] | `Pool::kill` and dropping a pool leave no child behind |
//! | [`no_leaked_descriptors`] | spawning and retiring many workers leaks no descriptor in the parent |
//!
//! A worker that never connects is simulated without the transport's help:
//! the kit wraps it in a transport whose `spawn` points the worker's routing
//! variable at a transport name that stalls forever (or at none at all), then
//! calls the wrapped `spawn`. The pool's handshake deadline must then kill
//! the worker; a transport whose `spawn` waits for the connection must bound
//! that wait itself (and report `Error::Spawn`).
//!
//! # Running it
//!
//! The checks take a process-wide lock, so they run one at a time even as
//! separate tests, and the descriptor and child counts are not disturbed by
//! each other; keep other tests out of the kit's test binary for the same
//! reason. The whole kit takes a few seconds in a debug build. Each check
//! panics with the transport's name and what went wrong.
//!
//! **The kit always ends.** Each check runs on a thread of its own under a
//! deadline (15 s to 5 min, far above what a working transport needs; the
//! variable `PROCS_TESTKIT_DEADLINE_SCALE` multiplies them all on a very
//! slow machine). A check that runs past its deadline fails with its name,
//! what it was waiting for and the likely cause, for example:
//!
//! ```text
//! [my-transport] worker_exits_before_connecting: did not finish within 15s:
//! waiting for a call on a pool whose worker exits before connecting (code 121)
//! to fail; likely cause: `spawn` or the first `recv` waits for a connection
//! without watching the child ...
//! ```
//!
//! Its thread stays blocked in the transport (nothing can stop it from
//! outside), and the checks after it in the same process refuse to run,
//! naming it: read the first failure.
//!
//! The functions the kit registers are linked into every binary that
//! enables the feature; they are never called outside the kit.

mod deadline;
mod failures;
mod hostile;
mod impostor;
mod link;
mod payloads;
mod processes;
mod remote;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::transport::Transport;
use crate::{Builder, Pool, proc};
use support::{children, eventually};

pub use failures::{
    deadline_kills, worker_aborts, worker_dies_mid_message, worker_exits,
    worker_exits_before_connecting, worker_never_connects,
};
pub use hostile::{grandchild_holds_nothing, hostile_sizes, reset_ends_recv};
pub use impostor::impostor_refused;
pub use link::{end_reaches_the_worker, hello_arrives_whole, kill_ends_recv};
pub use payloads::{empty_payloads, large_payloads, message_limits, ordering, round_trips};
pub use processes::{kill_and_reap, many_workers, no_inherited_links, no_leaked_descriptors};

/// Generous, so that only a transport that misses a worker's exit, not a
/// slow machine, runs into it.
const HANDSHAKE: Duration = Duration::from_secs(20);
/// How long a check waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 1 << 30;

fn builder<T: Transport + Clone>(transport: &T, workers: usize) -> Builder {
    Pool::builder()
        .transport(transport.clone())
        .workers(workers)
        .handshake_timeout(HANDSHAKE)
}

fn pool<T: Transport + Clone>(transport: &T, workers: usize) -> Pool {
    builder(transport, workers)
        .build()
        .unwrap_or_else(|e| panic!("[{}] the pool does not start: {e}", T::NAME))
}

/// Runs every check of the kit, in turn, and prints how long each took.
///
/// # Examples
///
/// In a transport crate's `tests/conformance.rs`:
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::conformance(my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract; the message names the check.
pub fn conformance<T: Transport + Clone>(transport: T) {
    type Check<T> = (&'static str, fn(&T));
    let checks: [Check<T>; 22] = [
        ("hello_arrives_whole", hello_arrives_whole::<T>),
        ("end_reaches_the_worker", end_reaches_the_worker::<T>),
        ("kill_ends_recv", kill_ends_recv::<T>),
        ("round_trips", round_trips::<T>),
        ("ordering", ordering::<T>),
        ("empty_payloads", empty_payloads::<T>),
        ("large_payloads", large_payloads::<T>),
        ("many_workers", many_workers::<T>),
        ("no_inherited_links", no_inherited_links::<T>),
        ("message_limits", message_limits::<T>),
        ("hostile_sizes", hostile_sizes::<T>),
        ("impostor_refused", impostor_refused::<T>),
        ("worker_exits", worker_exits::<T>),
        ("worker_aborts", worker_aborts::<T>),
        ("grandchild_holds_nothing", grandchild_holds_nothing::<T>),
        ("worker_dies_mid_message", worker_dies_mid_message::<T>),
        ("reset_ends_recv", reset_ends_recv::<T>),
        (
            "worker_exits_before_connecting",
            worker_exits_before_connecting::<T>,
        ),
        ("worker_never_connects", worker_never_connects::<T>),
        ("deadline_kills", deadline_kills::<T>),
        ("kill_and_reap", kill_and_reap::<T>),
        ("no_leaked_descriptors", no_leaked_descriptors::<T>),
    ];
    let start = Instant::now();
    for (name, check) in checks {
        let began = Instant::now();
        check(&transport);
        eprintln!(
            "procs testkit [{}] {name}: ok in {:.2?}",
            T::NAME,
            began.elapsed()
        );
    }
    eprintln!(
        "procs testkit [{}] all checks passed in {:.2?}",
        T::NAME,
        start.elapsed()
    );
}

fn still_serves<T: Transport>(pool: &Pool) {
    use remote::pid;
    for _ in 0..2 {
        if let Err(e) = pool.call(proc!(pid())) {
            panic!("[{}] the pool no longer serves: {e}", T::NAME);
        }
    }
}

fn no_new_children<T: Transport>(before: &BTreeSet<u32>) {
    let mut left = Vec::new();
    if !eventually(PATIENCE, || {
        left = children().difference(before).copied().collect();
        left.is_empty()
    }) {
        panic!("[{}] child processes {left:?} were left behind", T::NAME);
    }
}
