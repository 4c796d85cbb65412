//! Checks of what a peer that breaks the rules can do: messages over the
//! receiver's limit, and processes a worker leaves behind.

use super::deadline::{checks, guarded};
use super::link::{expect_hello, spawn_with_limits};
use super::remote::exit_leaving_a_grandchild;
use super::support::{ScratchDir, eventually};
use super::{MAX_MESSAGE, PATIENCE, pool, still_serves};
use crate::proc;
use crate::transport::{Channel, Fault, Transport};
use crate::wire::codec::{self, Task};
use crate::wire::detached::Lens;
use crate::wire::env::WorkerExit;
use crate::{Error, Pool};

/// The limit each side is given in [`hostile_sizes`]: below what the peer
/// is about to send.
const SMALL: usize = 128;

/// A message over the receiver's `max_message_size` is refused by the
/// receiver's own `recv`, before it is allocated, whatever the sender
/// checked: the worker's `recv` refuses a request over its limit (the
/// worker then exits with the protocol code, 125, without replying), and
/// the parent's `recv` refuses a reply over its limit with an error that
/// [`Channel::fault`] calls [`Fault::Protocol`]. Both peers here send
/// what a well-behaved one never would: procs checks sizes before sending,
/// so only this check sees a transport that ignores its limit.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::hostile_sizes(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn hostile_sizes<T: Transport + Clone>(transport: &T) {
    guarded(&checks::HOSTILE_SIZES, transport, |transport: &T| {
        let name = T::NAME;
        // The worker's limit: a request with a 4 KiB function name.
        let (mut channel, mut child) = spawn_with_limits(transport, SMALL, MAX_MESSAGE);
        expect_hello::<T>(&mut channel);
        let mut request = Vec::new();
        codec::encode_request(&mut request, &"x".repeat(4096), std::iter::empty());
        let sent = channel.send(&request);
        let answered = sent.is_ok() && matches!(channel.recv(), Ok(Some(_)));
        let mut status = None;
        if !answered {
            eventually(PATIENCE, || {
                status = child.try_wait().ok().flatten();
                status.is_some()
            });
        }
        drop(channel);
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            !answered,
            "[{name}] the worker's `recv` accepted a {}-byte message with a limit of {SMALL} bytes: `recv` must check the length against `max_message_size` before allocating",
            request.len()
        );
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(WorkerExit::Protocol.code()),
            "[{name}] a worker sent a message over its limit ended with {status:?}; its `recv` must fail (exit code {})",
            WorkerExit::Protocol.code()
        );

        // The parent's limit: the worker answers a call of an unknown
        // function with the names of all it knows, far over 128 bytes.
        let (mut channel, mut child) = spawn_with_limits(transport, MAX_MESSAGE, SMALL);
        expect_hello::<T>(&mut channel);
        let task = Task {
            seq: 0,
            args: &[],
            detached: Lens::NONE,
        };
        codec::encode_request(&mut request, "procs-testkit-unknown", [task].into_iter());
        channel
            .send(&request)
            .unwrap_or_else(|e| panic!("[{name}] send of a small request failed: {e}"));
        let received = channel.recv();
        drop(channel);
        let _ = child.kill();
        let _ = child.wait();
        match received {
            Err(e) if <T::Channel as Channel>::fault(&e) == Fault::Protocol => {}
            Err(e) => panic!(
                "[{name}] the parent's `recv` refused an oversized reply with `{e}`, which `Channel::fault` does not call `Fault::Protocol`: the pool would not know the peer broke the protocol"
            ),
            Ok(Some(msg)) => panic!(
                "[{name}] the parent's `recv` accepted a {}-byte message with a limit of {SMALL} bytes: `recv` must check the length against `max_message_size` before allocating",
                msg.len()
            ),
            Ok(None) => panic!(
                "[{name}] the parent's `recv` returned Ok(None) for a reply over its limit; expected the transport's size error"
            ),
        }
    })
}

/// A process started by a task does not hold the worker's link: when the
/// worker exits and leaves a process it started running, the pool still
/// sees the worker's death ([`Error::WorkerDied`]). A transport whose
/// worker end is inheritable in the worker (not close-on-exec after
/// `connect`) fails it: the grandchild keeps the link open.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::grandchild_holds_nothing(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn grandchild_holds_nothing<T: Transport + Clone>(transport: &T) {
    guarded(
        &checks::GRANDCHILD_HOLDS_NOTHING,
        transport,
        |transport: &T| {
            let name = T::NAME;
            let dir = ScratchDir::new();
            let pid_file = dir.path().join("grandchild");
            let pool: Pool = pool(transport, 1);
            let path = pid_file.to_str().expect("utf-8 temp dir").to_owned();
            let outcome = pool.call(proc!(exit_leaving_a_grandchild(path, 7)));
            let grandchild: Option<i32> = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.parse().ok());
            if let Some(pid) = grandchild {
                // SAFETY: kill only sends a signal; the pid is the sleeper the
                // task started (reaped by init at worst, never reused this soon).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            match outcome {
                Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(7) => {}
                other => panic!(
                    "[{name}] a worker that exited with code 7, leaving a process it started running, gave {other:?}; expected WorkerDied"
                ),
            }
            still_serves::<T>(&pool);
        },
    )
}

/// A worker that exits with data from the parent still unread makes the
/// parent's `send` and `recv` return, with an error or `Ok(None)`, never a
/// message and never a hang. Over TCP such an exit resets the connection
/// (and a reset discards what the worker sent but the parent had not read
/// yet); over a Unix socket `recv` sees `ECONNRESET`. A `recv` that takes a
/// reset for "no data yet" and waits on fails it.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::reset_ends_recv(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn reset_ends_recv<T: Transport + Clone>(transport: &T) {
    guarded(&checks::RESET_ENDS_RECV, transport, |transport: &T| {
        let name = T::NAME;
        let (mut channel, mut child) = spawn_with_limits(transport, MAX_MESSAGE, MAX_MESSAGE);
        expect_hello::<T>(&mut channel);
        let task = Task {
            seq: 0,
            args: &[],
            detached: Lens::NONE,
        };
        let mut request = Vec::new();
        codec::encode_request(&mut request, "procs-testkit-exit-soon", [task].into_iter());
        channel
            .send(&request)
            .unwrap_or_else(|e| panic!("[{name}] send of a small request failed: {e}"));
        // A request the worker never reads: 1 MiB, so that most of it is
        // still in the worker's socket when it exits. This `send` may fail.
        let mut unread = Vec::new();
        let task = Task {
            seq: 1,
            args: &[],
            detached: Lens::NONE,
        };
        codec::encode_request(&mut unread, &"x".repeat(1 << 20), [task].into_iter());
        let _ = channel.send(&unread);
        let received = channel.recv();
        drop(channel);
        let status = child.wait();
        if let Ok(Some(msg)) = received {
            panic!(
                "[{name}] `recv` returned a {}-byte message from a worker that exited without replying",
                msg.len()
            );
        }
        assert_eq!(
            status.ok().and_then(|s| s.code()),
            Some(3),
            "[{name}] the worker did not exit as its task did"
        );
    })
}
