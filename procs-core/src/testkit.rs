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
//! # use procs_core::{BoxError, Channel, Transport};
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
//! Each check is also a function of its own, to run as separate tests and
//! see at a glance which part of the contract broke:
//!
//! ```no_run
//! # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
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
//! | [`round_trips`] | values of several types, hundreds of small messages in a row |
//! | [`ordering`] | results in input order whatever the durations and sizes |
//! | [`empty_payloads`] | empty arguments and results, unit functions |
//! | [`large_payloads`] | 64 MiB each way, and sizes around pipe and socket buffers |
//! | [`many_workers`] | 8 workers running at once |
//! | [`no_inherited_links`] | no worker inherits a sibling's link (close-on-exec) |
//! | [`message_limits`] | oversized messages fail their call, not the pool |
//! | [`worker_exits`] / [`worker_aborts`] | `exit` and `abort` mid-task are reported with their status |
//! | [`worker_dies_mid_message`] | a reply cut short is an error, never a wrong value or a hang |
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
//! The functions the kit registers are linked into every binary that
//! enables the feature; they are never called outside the kit.

mod remote;
mod support;

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::codec::{self, Message};
use crate::entry::EXIT_NO_TRANSPORT;
use crate::{Builder, Channel, Error, Pool, Transport, proc};
use remote::*;
use support::{
    Blob, Misrouted, ScratchDir, Stalled, children, eventually, open_fds, pattern, worker_command,
};

/// Generous, so that only a transport that misses a worker's exit, not a
/// slow machine, runs into it.
const HANDSHAKE: Duration = Duration::from_secs(20);
/// How long a check waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 1 << 30;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

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
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::conformance(my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract; the message names the check.
pub fn conformance<T: Transport + Clone>(transport: T) {
    type Check<T> = (&'static str, fn(&T));
    let checks: [Check<T>; 17] = [
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
        ("worker_exits", worker_exits::<T>),
        ("worker_aborts", worker_aborts::<T>),
        ("worker_dies_mid_message", worker_dies_mid_message::<T>),
        (
            "worker_exits_before_connecting",
            worker_exits_before_connecting::<T>,
        ),
        ("worker_never_connects", worker_never_connects::<T>),
        ("deadline_kills", deadline_kills::<T>),
        ("kill_and_reap", kill_and_reap::<T>),
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
    no_leaked_descriptors(&transport);
    eprintln!(
        "procs testkit [{}] all checks passed in {:.2?}",
        T::NAME,
        start.elapsed()
    );
}

/// `spawn` starts a worker whose `connect` reaches the parent, and the
/// worker's first message (its greeting) arrives whole.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::hello_arrives_whole(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn hello_arrives_whole<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let (mut channel, mut child) = spawn_by_hand(transport);
    expect_hello::<T>(&mut channel);
    drop(channel);
    let _ = child.kill();
    let _ = child.wait();
}

/// Dropping the parent's end of a channel makes the worker's `recv` return
/// `Ok(None)`: the worker loop then exits with code 0. A worker that is
/// killed instead, or exits with code 123 (its `recv` failed), fails it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::end_reaches_the_worker(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn end_reaches_the_worker<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let (mut channel, mut child) = spawn_by_hand(transport);
    expect_hello::<T>(&mut channel);
    drop(channel);
    let mut status = None;
    if !eventually(PATIENCE, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "[{}] the worker did not see the end of its channel within {PATIENCE:?} of the parent dropping its end",
            T::NAME
        );
    }
    let status = status.expect("exited");
    assert_eq!(
        status.code(),
        Some(0),
        "[{}] the worker ended with {status} when the parent dropped its end: its `recv` must return Ok(None) (exit 123 means it returned an error)",
        T::NAME
    );
}

/// Killing the worker makes the parent's blocked `recv` return (`Ok(None)`
/// or an error), so the parent must not hold the worker's end open; a `send`
/// after that returns too.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::kill_ends_recv(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn kill_ends_recv<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let (mut channel, mut child) = spawn_by_hand(transport);
    expect_hello::<T>(&mut channel);
    let (done, outcome) = mpsc::channel();
    // The worker now waits for a request; the parent waits for a reply.
    thread::spawn(move || {
        let received = channel.recv().map(|m| m.map(|m| m.len()));
        let received = received.map_err(|e| e.to_string());
        let _ = done.send(received);
        let sent = channel.send(b"too late").map_err(|e| e.to_string());
        let _ = done.send(sent.map(|()| None));
    });
    thread::sleep(Duration::from_millis(20));
    let _ = child.kill();
    let received = outcome.recv_timeout(PATIENCE);
    let _ = child.wait();
    match received {
        Ok(Ok(None) | Err(_)) => {}
        Ok(Ok(Some(len))) => panic!(
            "[{}] recv returned a {len}-byte message from a worker that sent none",
            T::NAME
        ),
        Err(_) => panic!(
            "[{}] recv did not return within {PATIENCE:?} of the worker's death: the parent must not keep the worker's end open",
            T::NAME
        ),
    }
    assert!(
        outcome.recv_timeout(PATIENCE).is_ok(),
        "[{}] send to a dead worker did not return within {PATIENCE:?}",
        T::NAME
    );
}

/// Values of several types cross and come back intact; hundreds of small
/// messages follow each other on the same channels.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::round_trips(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn round_trips<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let pool = pool(transport, 2);
    let (text, sum) = pool.call((proc!(describe("hello".into(), 5, 3.25)), proc!(add(40, 2))));
    assert_eq!(
        text.unwrap_or_else(|e| panic!("[{name}] {e}")),
        "hello #5 (3.25)"
    );
    assert_eq!(sum.unwrap_or_else(|e| panic!("[{name}] {e}")), 42);
    for i in 0..100u64 {
        let got = pool.call(proc!(add(i, i)));
        assert_eq!(
            got.unwrap_or_else(|e| panic!("[{name}] call {i}: {e}")),
            2 * i
        );
    }
    let sums: Vec<u64> = pool
        .pmap(add, (0..300u64).map(|i| (i, 1)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("[{name}] pmap: {e}"));
    assert_eq!(
        sums,
        (1..=300).collect::<Vec<u64>>(),
        "[{name}] pmap results"
    );
    for len in [1, 2, 7, 8, 9, 255, 256, 4095, 4096, 4097] {
        let blob = Blob(pattern(len, len as u8));
        let got = pool.call(proc!(echo(blob.clone())));
        let got = got.unwrap_or_else(|e| panic!("[{name}] echo of {len} bytes: {e}"));
        assert!(
            got == blob,
            "[{name}] echo of {len} bytes came back altered"
        );
    }
}

/// Results come in input order, whatever the tasks' durations and the
/// messages' sizes.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::ordering(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn ordering<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let pool = pool(transport, 3);
    // Early items sleep longest, so later ones finish first.
    let durations = [60, 5, 40, 0, 25, 0, 50, 10, 0, 30, 1, 0];
    let got: Vec<u32> = pool
        .pmap(sleep_then_echo, (0..).zip(durations))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    assert_eq!(
        got,
        (0..durations.len() as u32).collect::<Vec<_>>(),
        "[{name}] order"
    );
    let sizes = [0, 100, 70_000, 3, 300_000, 65_536, 1 << 20, 12, 200_000, 1];
    let blobs: Vec<Blob> = (0..)
        .zip(sizes)
        .map(|(i, len)| Blob(pattern(len, i)))
        .collect();
    let got: Vec<Blob> = pool
        .pmap(echo, blobs.clone())
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    assert!(
        got == blobs,
        "[{name}] messages of mixed sizes came back altered or out of order"
    );
}

/// Empty arguments and results, and functions of no argument and no result,
/// cross like any other.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::empty_payloads(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn empty_payloads<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let pool = pool(transport, 1);
    for round in 0..3 {
        let got = pool.call(proc!(echo(Blob(Vec::new()))));
        let got = got.unwrap_or_else(|e| panic!("[{name}] empty echo {round}: {e}"));
        assert!(
            got.0.is_empty(),
            "[{name}] an empty payload came back with {got:?}"
        );
        pool.call(proc!(nothing()))
            .unwrap_or_else(|e| panic!("[{name}] unit call {round}: {e}"));
        let got = pool.call(proc!(filled(0, 1)));
        let got = got.unwrap_or_else(|e| panic!("[{name}] empty result {round}: {e}"));
        assert!(
            got.0.is_empty(),
            "[{name}] an empty result came back as {got:?}"
        );
    }
}

/// A 64 MiB argument and a 64 MiB result cross intact, and so do sizes
/// around common pipe and socket buffer sizes.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::large_payloads(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn large_payloads<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let pool = pool(transport, 1);
    for len in [65_535, 65_536, 65_537, 212_992, 213_000, (1 << 20) + 7] {
        let blob = Blob(pattern(len, 3));
        let got = pool.call(proc!(echo(blob.clone())));
        let got = got.unwrap_or_else(|e| panic!("[{name}] echo of {len} bytes: {e}"));
        assert!(
            got == blob,
            "[{name}] echo of {len} bytes came back altered"
        );
    }
    let big = Blob(pattern(64 << 20, 7));
    let got = pool.call(proc!(echo(big.clone())));
    let got = got.unwrap_or_else(|e| panic!("[{name}] echo of 64 MiB: {e}"));
    assert!(got == big, "[{name}] 64 MiB came back altered ({got:?})");
}

/// Eight workers run at once: eight tasks that each wait for all eight to
/// have started all return.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::many_workers(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn many_workers<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let met = meet(transport, 8);
    let pids: BTreeSet<u32> = met.iter().map(|m| m.0).collect();
    assert_eq!(
        pids.len(),
        8,
        "[{}] 8 tasks ran in {} workers",
        T::NAME,
        pids.len()
    );
}

/// No worker inherits another worker's link: every worker of a four-worker
/// pool holds as many descriptors as a lone worker does. A transport whose
/// descriptors are not close-on-exec fails this, and would keep a dead
/// worker's channel open in its siblings.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::no_inherited_links(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn no_inherited_links<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let lone = meet(transport, 1).pop().expect("one worker").1;
    for (pid, fds) in meet(transport, 4) {
        assert!(
            fds.len() <= lone.len(),
            "[{}] worker {pid} of four holds {} descriptors, a lone worker {}: a sibling's link leaked into it\nlone: {lone:#?}\nthis one: {fds:#?}",
            T::NAME,
            fds.len(),
            lone.len(),
        );
    }
}

/// Starts `parties` workers and has each report its pid and descriptors
/// while all of them are running.
fn meet<T: Transport + Clone>(transport: &T, parties: u32) -> Vec<(u32, Vec<String>)> {
    let name = T::NAME;
    let pool = pool(transport, parties as usize);
    let dir = ScratchDir::new();
    let path = dir.path().to_str().expect("utf-8 temp dir").to_owned();
    let met: Vec<(u32, bool, Vec<String>)> = pool
        .call((0..parties).map(|i| proc!(rendezvous(path.clone(), i, parties))))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    assert!(
        met.iter().all(|m| m.1),
        "[{name}] {parties} workers did not all run at once within 20 s"
    );
    met.into_iter().map(|(pid, _, fds)| (pid, fds)).collect()
}

/// A message over the pool's `max_message_size` fails its call, whichever
/// way it goes, and the pool carries on.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::message_limits(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn message_limits<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let pool = builder(transport, 1)
        .max_message_size(256 << 10)
        .build()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    let r = pool.call(proc!(echo(Blob(vec![1; 512 << 10]))));
    assert!(
        r.is_err(),
        "[{name}] a 512 KiB argument passed a 256 KiB limit"
    );
    let r = pool.call(proc!(filled(512 << 10, 2)));
    assert!(
        r.is_err(),
        "[{name}] a 512 KiB result passed a 256 KiB limit"
    );
    for len in [10, 100 << 10, 200 << 10] {
        let r = pool.call(proc!(echo(Blob(vec![3; len]))));
        let got = r.unwrap_or_else(|e| panic!("[{name}] {len} bytes under the limit: {e}"));
        assert_eq!(got.0.len(), len, "[{name}] echo under the limit");
    }
}

/// A worker that calls `std::process::exit` mid-task fails that task with
/// its exit code; the pool replaces it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_exits(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_exits<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let pool = pool(transport, 1);
    match pool.call(proc!(exit_with(3))) {
        Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(3) => {}
        other => panic!(
            "[{}] expected WorkerDied with code 3, got {other:?}",
            T::NAME
        ),
    }
    still_serves::<T>(&pool);
}

/// A worker that aborts mid-task fails that task with `SIGABRT`; the pool
/// replaces it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_aborts(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_aborts<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let pool = pool(transport, 1);
    match pool.call(proc!(abort())) {
        Err(Error::WorkerDied { exit, .. }) if exit.signal() == Some(libc::SIGABRT) => {}
        other => panic!(
            "[{}] expected WorkerDied by SIGABRT, got {other:?}",
            T::NAME
        ),
    }
    still_serves::<T>(&pool);
}

/// A worker killed (by `_exit` or `abort`) at various moments while it
/// sends an 8 MiB reply: each call yields the whole reply or a death or
/// transport error, never a truncated or altered value, a decoding error or
/// a hang.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_dies_mid_message(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_dies_mid_message<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    const LEN: u64 = 8 << 20;
    // One task per worker: a worker that answered and then died is never
    // handed the next task.
    let pool = builder(transport, 1)
        .max_tasks_per_worker(1)
        .build()
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    for delay_us in [0, 50, 200, 1_000, 3_000, 10_000] {
        for abort in [false, true] {
            match pool.call(proc!(die_while_replying(LEN, delay_us, abort))) {
                Ok(blob) => assert!(
                    blob.0.len() == LEN as usize && blob.0.iter().all(|&b| b == 0xa5),
                    "[{name}] a reply cut short came back as {blob:?}"
                ),
                Err(Error::WorkerDied { .. } | Error::Transport(_)) => {}
                Err(other) => panic!(
                    "[{name}] a reply cut short after {delay_us} µs gave {other:?}; expected the whole reply, WorkerDied or Transport"
                ),
            }
        }
    }
    still_serves::<T>(&pool);
}

/// A worker that exits before it connects is reported promptly: as
/// [`Error::StartupFailed`] with its exit code when `spawn` returned a
/// channel (whose first `recv` then returns `Ok(None)`), or as
/// [`Error::Spawn`] when `spawn` itself noticed. Running into the handshake
/// deadline instead means the transport missed the exit.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_exits_before_connecting(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_exits_before_connecting<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let before = children();
    let pool = Pool::builder()
        .transport(Misrouted(transport.clone()))
        .workers(1)
        .handshake_timeout(HANDSHAKE)
        .build()
        .unwrap_or_else(|e| panic!("[{}] {e}", T::NAME));
    match pool.call(proc!(pid())) {
        Err(Error::StartupFailed { exit }) if exit.code() == Some(EXIT_NO_TRANSPORT) => {}
        Err(Error::Spawn(_)) => {}
        other => panic!(
            "[{}] a worker that exited before connecting gave {other:?}; expected StartupFailed (code {EXIT_NO_TRANSPORT}) or Spawn",
            T::NAME
        ),
    }
    drop(pool);
    no_new_children::<T>(&before);
}

/// A worker that never connects (and never exits) is killed at the pool's
/// handshake deadline, which must then end the parent's wait:
/// [`Error::HandshakeTimeout`], or [`Error::Spawn`] from a transport that
/// bounds its own wait. No child is left behind.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_never_connects(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_never_connects<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let before = children();
    let pool = Pool::builder()
        .transport(Stalled(transport.clone()))
        .workers(1)
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .unwrap_or_else(|e| panic!("[{}] {e}", T::NAME));
    match pool.call(proc!(pid())) {
        Err(Error::HandshakeTimeout { .. } | Error::Spawn(_)) => {}
        other => panic!(
            "[{}] a worker that never connected gave {other:?}; expected HandshakeTimeout",
            T::NAME
        ),
    }
    drop(pool);
    no_new_children::<T>(&before);
}

/// A task past its deadline has its worker killed, and the parent's `recv`
/// returns for it: the call yields [`Error::Timeout`] and the pool carries
/// on.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::deadline_kills(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn deadline_kills<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let pool = pool(transport, 1);
    let late = proc!(sleep_then_echo(0, 30_000)).timeout(Duration::from_millis(200));
    match pool.call(late) {
        Err(Error::Timeout { .. }) => {}
        other => panic!("[{}] expected Timeout, got {other:?}", T::NAME),
    }
    still_serves::<T>(&pool);
}

/// [`Pool::kill`] fails running and queued calls and reaps every worker
/// before it returns; dropping a pool reaps its workers too.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::kill_and_reap(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn kill_and_reap<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let before = children();
    let killed = pool(transport, 3);
    let busy = {
        let pool = killed.clone();
        thread::spawn(move || {
            pool.pmap(sleep_then_echo, (0..6).map(|i| (i, 30_000)))
                .collect::<Vec<_>>()
        })
    };
    thread::sleep(Duration::from_millis(100));
    killed.kill();
    let left: Vec<u32> = children().difference(&before).copied().collect();
    assert!(
        left.is_empty(),
        "[{name}] workers {left:?} outlived Pool::kill"
    );
    let results = busy.join().expect("the caller thread");
    assert!(
        results.iter().all(Result::is_err),
        "[{name}] calls survived Pool::kill: {results:?}"
    );
    drop(killed);

    let dropped = pool(transport, 2);
    for _ in 0..4 {
        dropped
            .call(proc!(pid()))
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
    }
    drop(dropped);
    let left: Vec<u32> = children().difference(&before).copied().collect();
    assert!(
        left.is_empty(),
        "[{name}] workers {left:?} outlived their pool"
    );
}

/// Spawning and retiring many workers, with inline-sized and large
/// messages, leaves the parent with the descriptors it had before, and no
/// child.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::no_leaked_descriptors(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn no_leaked_descriptors<T: Transport + Clone>(transport: &T) {
    let _serial = serial();
    let name = T::NAME;
    let fds = open_fds();
    let kids = children();
    {
        let pool = builder(transport, 2)
            .max_tasks_per_worker(1)
            .build()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        let blobs: Vec<Blob> = (0..12u8)
            .map(|i| Blob(pattern([10, 100_000, 1 << 20][usize::from(i % 3)], i)))
            .collect();
        let got: Vec<Blob> = pool
            .pmap(echo, blobs.clone())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert!(got == blobs, "[{name}] echo came back altered");
    }
    if !eventually(PATIENCE, || open_fds().len() <= fds.len()) {
        let now = open_fds();
        let new: Vec<&String> = now.iter().filter(|fd| !fds.contains(fd)).collect();
        panic!(
            "[{name}] the parent holds {} descriptors after the pool is gone, {} before; new ones: {new:#?}",
            now.len(),
            fds.len()
        );
    }
    no_new_children::<T>(&kids);
}

fn still_serves<T: Transport>(pool: &Pool) {
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

fn spawn_by_hand<T: Transport>(transport: &T) -> (T::Channel, std::process::Child) {
    transport
        .spawn(worker_command::<T>(MAX_MESSAGE), MAX_MESSAGE)
        .unwrap_or_else(|e| panic!("[{}] spawn failed: {e}", T::NAME))
}

fn expect_hello<T: Transport>(channel: &mut T::Channel) {
    match channel.recv() {
        Ok(Some(msg)) => assert!(
            matches!(codec::decode(&msg), Ok(Message::Hello(_))),
            "[{}] the worker's first message arrived altered ({} bytes)",
            T::NAME,
            msg.len()
        ),
        Ok(None) => panic!(
            "[{}] the worker closed its channel before greeting",
            T::NAME
        ),
        Err(e) => panic!("[{}] recv of the worker's greeting failed: {e}", T::NAME),
    }
}
