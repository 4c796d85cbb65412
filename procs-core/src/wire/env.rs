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
/// The worker's memory limit in bytes, which it applies to itself as
/// `RLIMIT_DATA`; absent when the pool sets none or caps the worker with a
/// cgroup instead.
pub(crate) const ENV_MEMORY_LIMIT: &str = "PROCS_MEMORY_LIMIT";
/// The CPU time each task may use, in nanoseconds; absent when unlimited.
pub(crate) const ENV_CPU_TIME_LIMIT: &str = "PROCS_CPU_TIME_LIMIT";

/// The most verbose level the parent's subscribers want (feature
/// `tracing`): what the worker's collector passes on. Absent or `off`, the
/// worker collects nothing.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) const ENV_TRACE_LEVEL: &str = "PROCS_TRACE_LEVEL";

/// What a worker's argv[0] adds to the parent's, so that `ps` and `top`
/// tell workers from their parent.
pub(crate) const ARG0_MARKER: &str = " [procs worker]";
/// What a worker's thread name (`/proc/PID/comm`, which OOM reports show)
/// adds to the program's name.
pub(crate) const COMM_MARKER: &str = "[w]";
/// The longest thread name the kernel keeps, without its NUL.
pub(crate) const COMM_LEN: usize = 15;

/// Why a worker ended on its own outside any task: its exit code, distinct
/// for each reason. The one list of procs' exit codes; the MPI transport
/// keeps its own (118 and 119) beside them, and nothing else of procs exits
/// with a code in 116..=125. A task that exits with one of these codes itself
/// is reported as if procs had (`exit(120)` reads as a stack overflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkerExit {
    /// A task used up its CPU time limit (`worker::limits`).
    CpuTimeLimit = 116,
    /// An allocation failed under the worker's memory limit
    /// (`worker::limits`).
    OutOfMemory = 117,
    /// A task overflowed its stack (the worker's own handler, as std's
    /// runtime would in `main`, printed Rust's message first).
    StackOverflow = 120,
    /// The binary does not link the transport it was started for.
    NoTransport = 121,
    /// The worker could not reach its parent.
    Connect = 122,
    /// The parent exited before the worker could ask to be killed with it
    /// (or the worker could not ask).
    Orphaned = 123,
    /// The channel broke or carried something that is not procs protocol.
    /// (124 is skipped: `timeout(1)` exits with it.)
    Protocol = 125,
}

impl WorkerExit {
    /// The process exit code.
    pub(crate) const fn code(self) -> i32 {
        self as i32
    }

    /// Ends the process with this reason's code.
    pub(crate) fn exit(self) -> ! {
        std::process::exit(self.code())
    }
}

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
