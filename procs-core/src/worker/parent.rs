//! A spawned worker's tie to its parent: it must not outlive it.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::wire::env::{ARG0_MARKER, COMM_LEN, COMM_MARKER, WorkerExit};

/// Worker side of the pool's `launch::worker_command`: asks the kernel to signal this
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
/// the pool's `worker_command` makes it) asks for [`parent_death_signal`], whose
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
        WorkerExit::Orphaned.exit();
    }
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } as u32 != parent {
        WorkerExit::Orphaned.exit();
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
/// once it sees the exit (the pool's `launch::reap`).
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

/// Worker side of the pool's argv[0] marker: names the worker's main
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
