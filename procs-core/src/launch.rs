//! Starting, greeting and ending worker processes.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::codec::{self, Hello};
use crate::entry::{ENV_MAX_MESSAGE, ENV_PARENT_PID, ENV_WORKER, EXIT_ORPHANED};
use crate::erased::ErasedChannel;
use crate::error::Error;
use crate::exit::Exit;
use crate::registry::registry;
use crate::watch::{Killed, Watch};

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

/// What a worker's argv[0] adds to the parent's, so that `ps` and `top`
/// tell workers from their parent.
pub(crate) const ARG0_MARKER: &str = " [procs worker]";
/// What a worker's thread name (`/proc/PID/comm`, which OOM reports show)
/// adds to the program's name.
const COMM_MARKER: &str = "[w]";
/// The longest thread name the kernel keeps, without its NUL.
const COMM_LEN: usize = 15;

/// The command that re-executes this very binary as a worker.
///
/// It carries no `pre_exec` hook, so that std can start it with
/// `posix_spawn` (a `vfork`-like clone that shares the parent's memory until
/// `exec`) instead of a full `fork`, which copies the parent's page tables:
/// the worker sets its own parent-death signal as it starts
/// ([`die_with_parent`]). Keep it that way, and keep transports from adding
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
    cmd
}

/// How a link broke during an exchange with its worker.
pub(crate) enum Broke {
    /// The channel failed, or closed (`None`).
    Link(Option<BoxError>),
    /// The worker sent something that is not an answer to the request.
    Garbage,
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
    let Worker { channel, child, .. } = worker;
    let killed = watch.forget(index);
    drop(channel);
    let Some(mut child) = child else {
        return (None, killed);
    };
    if kill_now {
        return (Some((kill(&mut child), false)), killed);
    }
    let (exit, on_its_own) = reap(&mut child, EXIT_GRACE);
    (Some((exit, on_its_own && killed.is_none())), killed)
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
        },
        None if attached && !garbage => Error::WorkerLost { id: id.to_owned() },
        _ => Error::Transport(
            error.unwrap_or_else(|| "worker closed its channel but kept running".into()),
        ),
    }
}

/// Whether a channel error means the peer sent what it never should have:
/// the worker is alive and untrusted, so it is killed without grace.
pub(crate) fn is_protocol_error(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::InvalidData)
}

/// Worker side of [`worker_command`]: asks the kernel to signal this
/// process when the thread that spawned it exits, and to take the worker's
/// process group with it; then makes sure that thread's process is still
/// the parent; exits at once if not.
///
/// A worker calls it first thing, before it connects. The parent may die
/// between the spawn and the `prctl`: the worker is then reparented (to init
/// or a subreaper), `getppid()` no longer names `parent`, and no signal would
/// ever come.
///
/// `PR_SET_PDEATHSIG` signals one process, not its group, and a task's
/// children do not inherit it. So a worker that leads its own group (as
/// [`worker_command`] makes it) asks for [`parent_death_signal`], whose
/// handler SIGKILLs the whole group, the worker included, and kills its
/// group as it exits ([`kill_group_at_exit`]); one that does not (started by
/// hand into someone else's group) asks for SIGKILL, which ends it alone, as
/// it must not kill a group it does not own.
pub(crate) fn die_with_parent(parent: u32) {
    // SAFETY: getpid and getpgrp have no preconditions.
    let leads_group = unsafe { libc::getpgrp() == libc::getpid() };
    let signal = if leads_group && catch_parent_death().is_ok() {
        PARENT.store(parent as libc::pid_t, Ordering::Relaxed);
        // SAFETY: the hook is an `extern "C" fn()` that lives as long as
        // the program. If it cannot be registered, the parent-death signal
        // still covers all but the race it closes.
        unsafe { libc::atexit(kill_group_at_exit) };
        parent_death_signal()
    } else {
        libc::SIGKILL
    };
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag on this process.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } != 0 {
        eprintln!(
            "procs worker: cannot set the parent-death signal: {}",
            io::Error::last_os_error()
        );
        std::process::exit(EXIT_ORPHANED);
    }
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } as u32 != parent {
        std::process::exit(EXIT_ORPHANED);
    }
}

/// The signal a worker that leads its group gets when its parent dies.
///
/// A real-time signal from the top of the range: libraries that take one
/// count up from `SIGRTMIN`, and its default action, should a task reset it
/// (or `exec`), still ends the worker. A task that ignores it, blocks it in
/// every thread or installs its own handler for it keeps its descendants,
/// or itself, alive after the parent's death.
pub(crate) fn parent_death_signal() -> libc::c_int {
    libc::SIGRTMAX()
}

/// The parent a worker that leads its group was spawned by.
static PARENT: AtomicI32 = AtomicI32::new(0);

/// Run by `exit` in a worker that leads its group: SIGKILLs the rest of the
/// group, which the parent would otherwise have to.
///
/// It closes a race of the parent's death: the parent's descriptors close
/// (the worker's channel ends) a moment before the kernel sends the
/// parent-death signal, and an idle worker that sees the end of its channel
/// may exit in that moment, before the signal can reach it; the processes
/// its tasks left in its group would then outlive everything. So the worker
/// first moves itself into the parent's group (same session, so allowed
/// while that group exists), which keeps its exit status its own, then kills
/// the group it led. If it cannot, and the parent is gone, it kills the
/// group with itself in it; if the parent lives, the parent kills the group
/// once it sees the exit ([`reap`]).
extern "C" fn kill_group_at_exit() {
    let parent = PARENT.load(Ordering::Relaxed);
    // SAFETY: these calls only read or change this process's ids and send
    // signals; none touches memory. A process forked by a task without
    // `exec` runs this hook too, but does not lead the group and returns.
    unsafe {
        let me = libc::getpid();
        if libc::getpgrp() != me {
            return;
        }
        let parents_group = libc::getpgid(parent);
        if parents_group > 0 && libc::setpgid(0, parents_group) == 0 {
            libc::kill(-me, libc::SIGKILL);
        } else if libc::getppid() != parent {
            libc::kill(0, libc::SIGKILL);
        }
    }
}

/// Installs the handler of [`parent_death_signal`] and unblocks it: the
/// worker inherits the signal mask of the parent's spawning thread, which
/// may block it, and a blocked parent-death signal would never end anything.
fn catch_parent_death() -> io::Result<()> {
    extern "C" fn on_parent_death(_: libc::c_int) {
        // SAFETY: getpid, getpgrp and kill(2) are async-signal-safe. Pid 0
        // is this process's group, signalled only while the worker leads it
        // (a task may have moved it into another, which is not ours to
        // kill), so nothing outside the worker and what it started is hit.
        unsafe {
            let me = libc::getpid();
            let whom = if libc::getpgrp() == me { 0 } else { me };
            libc::kill(whom, libc::SIGKILL);
        }
    }
    let signal = parent_death_signal();
    // SAFETY: the sigaction and sigset are initialised by sigemptyset and
    // sigfillset before use; the handler only calls kill(2), which is
    // async-signal-safe; the worker is still single-threaded here, so
    // sigprocmask is its whole mask.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_parent_death as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigfillset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        if libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Worker side of [`worker_command`]'s argv[0]: names the worker's main
/// thread, which is what `top`, `ps -o comm` and the kernel's OOM reports
/// show, after the program with [`COMM_MARKER`] (instead of `exe`, the name
/// of the `/proc/self/exe` link it was started through).
pub(crate) fn name_worker() {
    let Some(name) = comm_name() else { return };
    let Ok(name) = std::ffi::CString::new(name) else {
        return;
    };
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of which it keeps
    // at most 16 bytes; `name` lives across the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

/// The program's file name from this worker's argv[0], cut on a character
/// boundary so that the marker fits in the kernel's 15 bytes.
fn comm_name() -> Option<String> {
    let arg0 = std::env::args_os().next()?;
    let arg0 = arg0.to_string_lossy();
    let program = arg0.strip_suffix(ARG0_MARKER).unwrap_or(&arg0);
    let base = program.rsplit('/').next().unwrap_or(program);
    let room = COMM_LEN - COMM_MARKER.len();
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}{COMM_MARKER}", &base[..end]))
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
    let mut pause = Duration::from_micros(50);
    loop {
        match has_exited(child.id()) {
            Ok(true) => {
                kill_group(child.id());
                return (wait(child), true);
            }
            Ok(false) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            // Not our child to wait for (SIGCHLD ignored, so the kernel
            // reaped it): its pid may be reused, so it is not signalled.
            Err(error) if error.raw_os_error() == Some(libc::ECHILD) => {
                return (wait(child), false);
            }
            _ => return (kill(child), false),
        }
    }
}

/// Whether child `pid` has exited, without reaping it (`WNOWAIT`): as a
/// zombie it keeps its pid, and so its group id, from being reused while
/// its group is killed.
fn has_exited(pid: u32) -> io::Result<bool> {
    // SAFETY: siginfo_t is plain data, for which all zeroes is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid siginfo_t that outlives the call.
    if unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // With WNOHANG, a child that has not changed state leaves si_pid zero.
    // SAFETY: waitid filled `info` (or left it zeroed).
    Ok(unsafe { info.si_pid() } != 0)
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
