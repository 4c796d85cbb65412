//! Checks of workers that fail: crashes mid-task and mid-message, workers
//! that never connect, deadlines.

use std::time::{Duration, Instant};

use super::deadline::{checks, guarded};
use super::remote::{abort, die_while_replying, exit_with, filled, pid, sleep_then_echo};
use super::support::{Misrouted, Stalled, children};
use super::{HANDSHAKE, builder, no_new_children, pool, still_serves};
use crate::transport::Transport;
use crate::wire::env::WorkerExit;
use crate::{Error, Pool, proc};

/// A worker that calls `std::process::exit` mid-task fails that task with
/// its exit code; the pool replaces it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_exits(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_exits<T: Transport + Clone>(transport: &T) {
    guarded(&checks::WORKER_EXITS, transport, |transport: &T| {
        let pool = pool(transport, 1);
        match pool.call(proc!(exit_with(3))) {
            Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(3) => {}
            other => panic!(
                "[{}] expected WorkerDied with code 3, got {other:?}",
                T::NAME
            ),
        }
        still_serves::<T>(&pool);
    })
}

/// A worker that aborts mid-task fails that task with `SIGABRT`; the pool
/// replaces it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_aborts(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_aborts<T: Transport + Clone>(transport: &T) {
    guarded(&checks::WORKER_ABORTS, transport, |transport: &T| {
        let pool = pool(transport, 1);
        match pool.call(proc!(abort())) {
            Err(Error::WorkerDied { exit, .. }) if exit.signal() == Some(libc::SIGABRT) => {}
            other => panic!(
                "[{}] expected WorkerDied by SIGABRT, got {other:?}",
                T::NAME
            ),
        }
        still_serves::<T>(&pool);
    })
}

/// A worker killed (by `_exit` or `abort`) at moments spread over the time
/// an 8 MiB reply takes, so that some deaths land inside the message: each
/// call yields the whole reply or a death or transport error, never a
/// truncated or altered value, a decoding error or a hang.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_dies_mid_message(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_dies_mid_message<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::WORKER_DIES_MID_MESSAGE,
        transport,
        |transport: &T| {
            let name = T::NAME;
            const LEN: u64 = 8 << 20;
            // One task per worker: a worker that answered and then died is never
            // handed the next task.
            let pool = builder(transport, 1)
                .max_tasks_per_worker(1)
                .build()
                .unwrap_or_else(|e| panic!("[{name}] {e}"));
            // How long a whole reply takes, spawn included: deaths are spread over
            // that time, so some land inside the message.
            let mut took = Duration::ZERO;
            for _ in 0..2 {
                let began = Instant::now();
                let r = pool.call(proc!(filled(LEN, 0xa5)));
                r.unwrap_or_else(|e| panic!("[{name}] an 8 MiB reply: {e}"));
                took = began.elapsed();
            }
            let (mut whole, mut died, mut broken) = (0, 0, 0);
            for percent in [0, 10, 25, 40, 55, 70, 85, 100, 150] {
                let delay_us = (took.as_micros() * percent / 100) as u64;
                for abort in [false, true] {
                    match pool.call(proc!(die_while_replying(LEN, delay_us, abort))) {
                        Ok(blob) => {
                            assert!(
                                blob.0.len() == LEN as usize && blob.0.iter().all(|&b| b == 0xa5),
                                "[{name}] a reply cut short came back as {blob:?}"
                            );
                            whole += 1;
                        }
                        Err(Error::WorkerDied { .. }) => died += 1,
                        Err(Error::Transport(_)) => broken += 1,
                        Err(other) => panic!(
                            "[{name}] a reply cut short after {delay_us} µs gave {other:?}; expected the whole reply, WorkerDied or Transport"
                        ),
                    }
                }
            }
            eprintln!(
                "procs testkit [{name}] replies cut short: {whole} arrived whole, {died} worker deaths, {broken} transport errors"
            );
            still_serves::<T>(&pool);
        },
    )
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
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_exits_before_connecting(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_exits_before_connecting<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::WORKER_EXITS_BEFORE_CONNECTING,
        transport,
        |transport: &T| {
            let before = children();
            let pool = Pool::builder()
                .transport(Misrouted(transport.clone()))
                .workers(1)
                .handshake_timeout(HANDSHAKE)
                .build()
                .unwrap_or_else(|e| panic!("[{}] {e}", T::NAME));
            match pool.call(proc!(pid())) {
                Err(Error::StartupFailed { exit })
                    if exit.code() == Some(WorkerExit::NoTransport.code()) => {}
                Err(Error::Spawn(_)) => {}
                other => panic!(
                    "[{}] a worker that exited before connecting gave {other:?}; expected StartupFailed (code {}) or Spawn",
                    T::NAME,
                    WorkerExit::NoTransport.code()
                ),
            }
            drop(pool);
            no_new_children::<T>(&before);
        },
    )
}

/// A worker that never connects (and never exits) is killed at the pool's
/// handshake deadline, which must then end the parent's wait:
/// [`Error::HandshakeTimeout`], or [`Error::Spawn`] from a transport that
/// bounds its own wait. No child is left behind.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::worker_never_connects(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn worker_never_connects<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::WORKER_NEVER_CONNECTS,
        transport,
        |transport: &T| {
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
        },
    )
}

/// A task past its deadline has its worker killed, and the parent's `recv`
/// returns for it: the call yields [`Error::Timeout`] and the pool carries
/// on.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::deadline_kills(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn deadline_kills<T: Transport + Clone>(transport: &T) {
    guarded(&checks::DEADLINE_KILLS, transport, |transport: &T| {
        let pool = pool(transport, 1);
        let late = proc!(sleep_then_echo(0, 30_000)).timeout(Duration::from_millis(200));
        match pool.call(late) {
            Err(Error::Timeout { .. }) => {}
            other => panic!("[{}] expected Timeout, got {other:?}", T::NAME),
        }
        still_serves::<T>(&pool);
    })
}
