//! Checks of one channel driven by hand, without a pool: the greeting,
//! and both ways a link ends.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::deadline::{checks, guarded};
use super::support::{eventually, worker_command};
use super::{MAX_MESSAGE, PATIENCE};
use crate::transport::{Channel, Transport};
use crate::wire::codec::{self, Message};

/// `spawn` starts a worker whose `connect` reaches the parent, and the
/// worker's first message (its greeting) arrives whole.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::hello_arrives_whole(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn hello_arrives_whole<T: Transport + Clone>(transport: &T) {
    guarded(&checks::HELLO_ARRIVES_WHOLE, transport, |transport: &T| {
        let (mut channel, mut child) = spawn_by_hand(transport);
        expect_hello::<T>(&mut channel);
        drop(channel);
        let _ = child.kill();
        let _ = child.wait();
    })
}

/// Dropping the parent's end of a channel makes the worker's `recv` return
/// `Ok(None)`: the worker loop then exits with code 0. A worker that is
/// killed instead, or exits with code 123 (its `recv` failed), fails it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::end_reaches_the_worker(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn end_reaches_the_worker<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::END_REACHES_THE_WORKER,
        transport,
        |transport: &T| {
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
        },
    )
}

/// Killing the worker makes the parent's blocked `recv` return (`Ok(None)`
/// or an error), so the parent must not hold the worker's end open; a `send`
/// after that returns too.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::kill_ends_recv(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn kill_ends_recv<T: Transport + Clone>(transport: &T) {
    guarded(&checks::KILL_ENDS_RECV, transport, |transport: &T| {
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
    })
}

fn spawn_by_hand<T: Transport>(transport: &T) -> (T::Channel, std::process::Child) {
    spawn_with_limits(transport, MAX_MESSAGE, MAX_MESSAGE)
}

/// Spawns a worker by hand, giving the worker and the parent each their
/// own message size limit.
pub(super) fn spawn_with_limits<T: Transport>(
    transport: &T,
    worker_limit: usize,
    parent_limit: usize,
) -> (T::Channel, std::process::Child) {
    transport
        .spawn(worker_command::<T>(worker_limit), parent_limit)
        .unwrap_or_else(|e| panic!("[{}] spawn failed: {e}", T::NAME))
}

pub(super) fn expect_hello<T: Transport>(channel: &mut T::Channel) {
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
