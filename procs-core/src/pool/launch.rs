//! Starting, greeting and ending worker processes.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::contract::BoxError;
use crate::contract::child_watch::exited_unreaped;
use crate::contract::erased::{ErasedChannel, ProtocolFault};
use crate::error::{CallContext, Error};
use crate::exit::Exit;
use crate::pool::output::Forwarding;
use crate::pool::watch::{Killed, Watch};
use crate::remote::registry::registry;
use crate::util::backoff::Backoff;
use crate::wire::codec::{self, Hello};
use crate::wire::env::{ARG0_MARKER, ENV_MAX_MESSAGE, ENV_PARENT_PID, ENV_WORKER};

/// How long a worker whose channel closed may take to finish dying before it
/// is killed: closing fds comes a moment before the exit status is ready.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A live worker process and the parent's end of its channel.
pub(crate) struct Worker {
    pub(crate) channel: Box<dyn ErasedChannel>,
    /// `None` for an attached worker, which the pool did not start and
    /// cannot kill or reap.
    pub(crate) child: Option<Child>,
    /// Tasks it has run, for recycling.
    pub(crate) tasks: usize,
    /// Its cgroup and size, for the pool's limits.
    pub(crate) limits: crate::pool::limits::WorkerLimits,
    /// The reading of its stdout and stderr, if the pool forwards them.
    pub(crate) output: Option<Forwarding>,
    /// The channel's read count ([`Channel::reads`](crate::contract::Channel::reads))
    /// when the slot last caught up with the output.
    pub(crate) caught_up: Option<u64>,
}

/// Refuses a worker that speaks another protocol or runs another build.
pub(crate) fn check_hello(hello: Hello) -> Result<(), Error> {
    let expected = registry().fingerprint();
    if hello.protocol != codec::PROTOCOL {
        Err(Error::ProtocolMismatch {
            expected: codec::PROTOCOL,
            found: hello.protocol,
        })
    } else if hello.fingerprint != expected {
        Err(Error::BinaryMismatch {
            expected,
            found: hello.fingerprint,
        })
    } else {
        Ok(())
    }
}

/// The command that re-executes this very binary as a worker.
///
/// It carries no `pre_exec` hook, so that std can start it with
/// `posix_spawn` (a `vfork`-like clone that shares the parent's memory until
/// `exec`) instead of a full `fork`, which copies the parent's page tables:
/// the worker sets its own parent-death signal as it starts
/// (`worker::parent::die_with_parent`). Keep it that way, and keep transports from adding
/// a hook of their own where they can.
///
/// The worker leads a process group of its own
/// ([`CommandExt::process_group`], which std passes to `posix_spawn` as
/// `POSIX_SPAWN_SETPGROUP`, so it costs no hook): whatever a task starts
/// joins that group, and the pool kills the whole group with the worker
/// ([`kill_group`]). It also keeps signals meant for the parent's group,
/// such as a Ctrl-C, from reaching the workers: the parent decides.
///
/// The worker's argv[0] is the parent's followed by [`ARG0_MARKER`], so
/// `std::env::args()` in a task differs from `main`'s in its first item
/// (the other arguments are the parent's).
pub(crate) fn worker_command(transport: &str, max_message_size: usize) -> Command {
    // /proc/self/exe is this process's own image even if the file on disk was
    // replaced since (a rebuild while the program runs).
    let mut cmd = Command::new("/proc/self/exe");
    let mut arg0 = std::env::args_os().next().unwrap_or_default();
    arg0.push(ARG0_MARKER);
    cmd.arg0(arg0).process_group(0);
    cmd.env(ENV_WORKER, transport)
        .env(ENV_MAX_MESSAGE, max_message_size.to_string())
        .env(ENV_PARENT_PID, std::process::id().to_string())
        .stdin(Stdio::null());
    #[cfg(feature = "tracing")]
    crate::pool::trace::pass_level(&mut cmd);
    cmd
}

/// Retires a worker: the watchdog forgets it, its channel is closed, and it
/// is reaped, killed at once (`kill_now`) or after a grace period. Returns
/// its exit and whether it ended on its own (`None` for an attached worker,
/// which is not ours to reap), and why the watchdog killed it, if it did.
pub(crate) fn retire(
    worker: Worker,
    watch: &Watch,
    index: usize,
    kill_now: bool,
) -> (Option<(Exit, bool)>, Option<Killed>) {
    let Worker {
        channel,
        child,
        output,
        ..
    } = worker;
    let killed = watch.forget(index);
    drop(channel);
    let Some(mut child) = child else {
        return (None, killed);
    };
    let retired = if kill_now {
        (kill(&mut child), false)
    } else {
        let (exit, on_its_own) = reap(&mut child, EXIT_GRACE);
        (exit, on_its_own && killed.is_none())
    };
    // Dead and its group killed: its last words are in the pipes, which
    // end now.
    if let Some(output) = output {
        output.finish();
    }
    (Some(retired), killed)
}

/// The error of a call whose worker broke its channel: its death if it
/// exited on its own, a transport failure if it had to be killed.
pub(crate) fn lost_reason(
    id: &str,
    error: Option<BoxError>,
    retired: Option<(Exit, bool)>,
    attached: bool,
    garbage: bool,
) -> Error {
    match retired {
        Some((exit, true)) => Error::WorkerDied {
            id: id.to_owned(),
            exit,
            context: CallContext::default(),
        },
        None if attached && !garbage => Error::WorkerLost {
            id: id.to_owned(),
            context: CallContext::default(),
        },
        _ => Error::Transport(
            error.unwrap_or_else(|| "worker closed its channel but kept running".into()),
        ),
    }
}

/// Whether a channel error means the peer sent what it never should have
/// (its channel's `Channel::fault` said so): the worker is alive and
/// untrusted, so it is killed without grace.
pub(crate) fn is_protocol_error(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    ProtocolFault::is(error)
}

/// SIGKILLs the process group that worker `pid` leads, then the worker
/// itself (a task may have moved it to another group).
///
/// `pid` must be an unreaped child of this process: its pid, and so the
/// group id, cannot have been reused by anyone else while it (even as a
/// zombie) exists. So a worker's group is killed before the worker is
/// reaped, never after. A descendant that left the group (`setsid`,
/// `setpgid`) escapes.
pub(crate) fn kill_group(pid: u32) {
    let pid = pid as libc::pid_t;
    // SAFETY: kill(2) has no memory effects; see above for why the ids name
    // only the worker and its group.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Waits up to `grace` for `child` to exit on its own, then kills it;
/// `true` if it exited on its own. Either way its group is killed before
/// it is reaped: the processes its tasks started may outlive it.
pub(crate) fn reap(child: &mut Child, grace: Duration) -> (Exit, bool) {
    let deadline = Instant::now() + grace;
    let mut backoff = Backoff::new(
        Duration::ZERO,
        Duration::from_micros(50),
        Duration::from_millis(20),
    );
    loop {
        match exited_unreaped(child.id()) {
            Ok(true) => {
                kill_group(child.id());
                return (wait(child), true);
            }
            Ok(false) if Instant::now() < deadline => backoff.wait(),
            // Not our child to wait for (SIGCHLD ignored, so the kernel
            // reaped it): its pid may be reused, so it is not signalled.
            Err(error) if error.raw_os_error() == Some(libc::ECHILD) => {
                return (wait(child), false);
            }
            _ => return (kill(child), false),
        }
    }
}

/// Kills `child` and its group, then reaps it.
pub(crate) fn kill(child: &mut Child) -> Exit {
    kill_group(child.id());
    wait(child)
}

fn wait(child: &mut Child) -> Exit {
    match child.wait() {
        Ok(status) => status.into(),
        // wait only fails if the child was already reaped, which this module
        // never does twice; report it as killed.
        Err(_) => <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(
            libc::SIGKILL,
        )
        .into(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn hello(protocol: u32, fingerprint: u64) -> Hello {
        Hello {
            protocol,
            fingerprint,
            pid: 1,
        }
    }

    #[test]
    fn handshake_refuses_other_protocols_and_builds() {
        let ours = registry().fingerprint();
        assert!(check_hello(hello(codec::PROTOCOL, ours)).is_ok());
        let err = check_hello(hello(codec::PROTOCOL + 1, ours)).unwrap_err();
        assert!(
            matches!(err, Error::ProtocolMismatch { found, .. } if found == codec::PROTOCOL + 1)
        );
        let err = check_hello(hello(codec::PROTOCOL, ours ^ 1)).unwrap_err();
        assert!(
            matches!(err, Error::BinaryMismatch { expected, found } if expected == ours && found == ours ^ 1)
        );
        assert!(err.to_string().contains("different build"));
    }
}
