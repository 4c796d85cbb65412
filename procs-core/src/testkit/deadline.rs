//! Every check runs under a deadline of its own: on a thread, which the
//! caller waits for with a timeout. A broken transport makes the kit fail
//! with the check's name, what it was waiting for and the likely cause;
//! it never hangs.
//!
//! A check that runs past its deadline is left running on its thread (a
//! thread blocked in a transport's `accept` or `read` cannot be stopped from
//! outside), the checks after it refuse to start, and the test fails at
//! once: the process ends when the test harness is done.

use std::sync::{Condvar, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use crate::transport::Transport;

/// A check's deadline and what to say when it passes.
#[derive(Debug)]
pub(super) struct Check {
    pub(super) name: &'static str,
    /// At scale 1 (see [`ENV_SCALE`]).
    pub(super) within: Duration,
    /// What the check was waiting for, as "waiting for ...".
    pub(super) waiting_for: &'static str,
    /// The transport bug that usually makes it wait forever.
    pub(super) cause: &'static str,
}

/// Multiplies every deadline, for very slow machines (a float, e.g. `3`).
pub(super) const ENV_SCALE: &str = "PROCS_TESTKIT_DEADLINE_SCALE";

struct State {
    busy: bool,
    /// The check that ran past its deadline and still holds the kit.
    stuck: Option<&'static str>,
}

static STATE: Mutex<State> = Mutex::new(State {
    busy: false,
    stuck: None,
});
static FREED: Condvar = Condvar::new();

/// The kit, held by one check at a time: the checks count this process's
/// children and descriptors, which another check would disturb.
struct Held;

impl Drop for Held {
    fn drop(&mut self) {
        lock().busy = false;
        FREED.notify_all();
    }
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn acquire(transport: &str, check: &Check) -> Held {
    let mut state = lock();
    loop {
        if let Some(stuck) = state.stuck {
            panic!(
                "[{transport}] {}: not run: the earlier check `{stuck}` ran past its deadline and is still running; read its failure first",
                check.name
            );
        }
        if !state.busy {
            state.busy = true;
            return Held;
        }
        state = FREED.wait(state).unwrap_or_else(PoisonError::into_inner);
    }
}

fn scaled(within: Duration) -> Duration {
    let scale = std::env::var(ENV_SCALE)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    within.mul_f64(scale)
}

/// Runs `body` on a thread of its own, holding the kit, and waits for it
/// at most the check's deadline; a panic in `body` is the check's failure.
///
/// # Panics
///
/// When `body` panics, when it runs past the deadline, or when an earlier
/// check is stuck.
pub(super) fn guarded<T: Transport + Clone>(check: &'static Check, transport: &T, body: fn(&T)) {
    let held = acquire(T::NAME, check);
    let transport = transport.clone();
    let (done, finished) = mpsc::channel::<()>();
    let thread = thread::Builder::new()
        .name(format!("procs-testkit-{}", check.name))
        .spawn(move || {
            let _held = held;
            body(&transport);
            let _ = done.send(());
        })
        .expect("cannot start a check's thread");
    let within = scaled(check.within);
    match finished.recv_timeout(within) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            lock().stuck = Some(check.name);
            FREED.notify_all();
            panic!(
                "[{}] {}: did not finish within {within:?}: waiting for {}; likely cause: {} (the check is left running on its thread; {ENV_SCALE} scales every deadline)",
                T::NAME,
                check.name,
                check.waiting_for,
                check.cause
            );
        }
    }
}

/// Every check's deadline and diagnosis.
pub(super) mod checks {
    use super::Check;
    use std::time::Duration;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    const BLOCKING_SPAWN: &str = "`spawn` or the first `recv` waits for a connection without watching the child (a worker that exits or is killed before it connects never connects; see `procs_core::transport::ChildWatch`)";
    const HELD_END: &str = "the parent (or another child) holds the worker's end of the link, so the parent's `recv` never sees the worker's death; close it after `spawn` and create every descriptor close-on-exec";

    pub(in crate::testkit) static HELLO_ARRIVES_WHOLE: Check = Check {
        name: "hello_arrives_whole",
        within: secs(30),
        waiting_for: "`spawn` to return and the worker's greeting to arrive on the channel it returned",
        cause: "`spawn` waits for the worker to connect and `connect` for the parent, or `recv` waits for more bytes than the worker sent (framing)",
    };
    pub(in crate::testkit) static END_REACHES_THE_WORKER: Check = Check {
        name: "end_reaches_the_worker",
        within: secs(30),
        waiting_for: "the worker to exit after the parent dropped its end of the channel",
        cause: "dropping the parent's channel does not close the link (a clone of the parent's end kept, or inherited by the worker)",
    };
    pub(in crate::testkit) static KILL_ENDS_RECV: Check = Check {
        name: "kill_ends_recv",
        within: secs(40),
        waiting_for: "the parent's `recv` to return after the worker was killed",
        cause: HELD_END,
    };
    pub(in crate::testkit) static ROUND_TRIPS: Check = Check {
        name: "round_trips",
        within: secs(120),
        waiting_for: "hundreds of small calls to return",
        cause: "a message lost or split across `recv`s, or `send` blocking until the peer's next `send`",
    };
    pub(in crate::testkit) static ORDERING: Check = Check {
        name: "ordering",
        within: secs(120),
        waiting_for: "calls of mixed durations and sizes to return",
        cause: "a message lost, or `send` and `recv` deadlocking on full buffers",
    };
    pub(in crate::testkit) static EMPTY_PAYLOADS: Check = Check {
        name: "empty_payloads",
        within: secs(60),
        waiting_for: "calls with empty arguments and results to return",
        cause: "an empty message is never delivered, or is taken for the end of the link",
    };
    pub(in crate::testkit) static LARGE_PAYLOADS: Check = Check {
        name: "large_payloads",
        within: secs(300),
        waiting_for: "64 MiB messages to cross each way",
        cause: "a large message is never reassembled, or both sides block in `send` on full buffers",
    };
    pub(in crate::testkit) static MANY_WORKERS: Check = Check {
        name: "many_workers",
        within: secs(90),
        waiting_for: "eight workers to run at once",
        cause: "`spawn` serializes workers (waits for one to finish connecting before the next), or a shared endpoint mixes up links",
    };
    pub(in crate::testkit) static NO_INHERITED_LINKS: Check = Check {
        name: "no_inherited_links",
        within: secs(180),
        waiting_for: "workers (and replacement workers) to report their descriptors",
        cause: HELD_END,
    };
    pub(in crate::testkit) static MESSAGE_LIMITS: Check = Check {
        name: "message_limits",
        within: secs(120),
        waiting_for: "calls with oversized arguments or results to fail",
        cause: "a refused message leaves the link waiting for bytes that never come",
    };
    pub(in crate::testkit) static HOSTILE_SIZES: Check = Check {
        name: "hostile_sizes",
        within: secs(60),
        waiting_for: "an oversized message to be refused by the receiving side",
        cause: "`recv` ignores its `max_message_size`, or waits for the rest of a message it should have refused",
    };
    pub(in crate::testkit) static RESET_ENDS_RECV: Check = Check {
        name: "reset_ends_recv",
        within: secs(30),
        waiting_for: "the parent's `send` and `recv` to return after the worker exited with data unread (a reset, over TCP)",
        cause: "`recv` (or `send`) takes a reset or an end for \"no data yet\" and waits for more",
    };
    pub(in crate::testkit) static IMPOSTOR_REFUSED: Check = Check {
        name: "impostor_refused",
        within: secs(90),
        waiting_for: "the first call on a pool whose worker sent impostors to the endpoint first",
        cause: "the parent's first `recv` took an impostor's connection and then waits on it, or an impostor that was refused stalls the accept loop",
    };
    pub(in crate::testkit) static WORKER_EXITS: Check = Check {
        name: "worker_exits",
        within: secs(60),
        waiting_for: "a call whose worker exits mid-task to fail",
        cause: HELD_END,
    };
    pub(in crate::testkit) static WORKER_ABORTS: Check = Check {
        name: "worker_aborts",
        within: secs(60),
        waiting_for: "a call whose worker aborts mid-task to fail",
        cause: HELD_END,
    };
    pub(in crate::testkit) static GRANDCHILD_HOLDS_NOTHING: Check = Check {
        name: "grandchild_holds_nothing",
        within: secs(30),
        waiting_for: "a call whose worker exited, leaving a process it started running, to fail",
        cause: "the worker's end of the link is inheritable in the worker: `connect` must make what it picks up close-on-exec, or every process the user's code starts holds the link",
    };
    pub(in crate::testkit) static WORKER_DIES_MID_MESSAGE: Check = Check {
        name: "worker_dies_mid_message",
        within: secs(300),
        waiting_for: "calls whose worker dies while replying to fail or return",
        cause: "`recv` waits for the rest of a message cut short (a reset or an end inside a frame must be an error)",
    };
    pub(in crate::testkit) static WORKER_EXITS_BEFORE_CONNECTING: Check = Check {
        name: "worker_exits_before_connecting",
        within: secs(15),
        waiting_for: "a call on a pool whose worker exits before connecting (code 121) to fail",
        cause: BLOCKING_SPAWN,
    };
    pub(in crate::testkit) static WORKER_NEVER_CONNECTS: Check = Check {
        name: "worker_never_connects",
        within: secs(30),
        waiting_for: "a call on a pool whose worker never connects to fail at the 300 ms handshake deadline",
        cause: BLOCKING_SPAWN,
    };
    pub(in crate::testkit) static DEADLINE_KILLS: Check = Check {
        name: "deadline_kills",
        within: secs(40),
        waiting_for: "a call past its 200 ms deadline to fail",
        cause: HELD_END,
    };
    pub(in crate::testkit) static KILL_AND_REAP: Check = Check {
        name: "kill_and_reap",
        within: secs(60),
        waiting_for: "`Pool::kill` and dropping a pool to return",
        cause: HELD_END,
    };
    pub(in crate::testkit) static NO_LEAKED_DESCRIPTORS: Check = Check {
        name: "no_leaked_descriptors",
        within: secs(120),
        waiting_for: "many workers to be spawned and retired",
        cause: HELD_END,
    };
}
