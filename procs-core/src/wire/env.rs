//! The parts of the parent–worker protocol outside messages: the variables
//! that make a re-executed binary a worker and hand it its settings, and
//! the exit codes by which a worker says why it stopped.

use std::sync::atomic::{AtomicBool, Ordering};

/// The message size limit when the pool sets none.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Names the transport a re-executed child must serve on; its presence makes
/// the process a worker.
pub(crate) const ENV_WORKER: &str = "PROCS_WORKER";
/// The message size limit the parent configured.
pub(crate) const ENV_MAX_MESSAGE: &str = "PROCS_MAX_MESSAGE";
/// The pid of the process that spawned the worker, which the worker ties
/// its life to; absent when the worker was started by hand.
pub(crate) const ENV_PARENT_PID: &str = "PROCS_PARENT_PID";

/// Exit code of a worker whose binary does not link the transport it was
/// started for.
pub(crate) const EXIT_NO_TRANSPORT: i32 = 121;
/// Exit code of a worker that could not reach its parent.
pub(crate) const EXIT_CONNECT: i32 = 122;
/// Exit code of a worker whose parent exited before the worker could ask to
/// be killed with it (or that could not ask).
pub(crate) const EXIT_ORPHANED: i32 = 123;

static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether this process is a procs worker.
pub(crate) fn in_worker() -> bool {
    // The variable covers code that runs before our constructor (another
    // constructor) in a process started as a worker.
    IN_WORKER.load(Ordering::Relaxed) || std::env::var_os(ENV_WORKER).is_some()
}

/// Marks this process as a worker: from here on it refuses to start pools.
pub(crate) fn set_in_worker() {
    IN_WORKER.store(true, Ordering::Relaxed);
}
