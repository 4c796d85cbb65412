//! A spawned worker's tie to its parent: it must not outlive it.

use std::io;

use crate::wire::env::WorkerExit;

/// Worker side of the pool's `launch::worker_command`: asks the kernel to SIGKILL this process
/// when the thread that spawned it exits, then makes sure that thread's
/// process is still the parent; exits at once if not.
///
/// A worker calls it first thing, before it connects. The parent may die
/// between the spawn and the `prctl`: the worker is then reparented (to init
/// or a subreaper), `getppid()` no longer names `parent`, and no signal would
/// ever come.
pub(crate) fn die_with_parent(parent: u32) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag on this process.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
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
