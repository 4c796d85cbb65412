//! The builder's resource limits: memory, size-based recycling, CPU time.

use std::time::Duration;

use super::Builder;
use crate::pool::limits::MemoryMechanism;

impl Builder {
    /// Caps the memory of each worker, and of whatever its tasks start, at
    /// `bytes`. A task that needs more fails with
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory); its worker is
    /// replaced and the pool goes on serving.
    ///
    /// The cap is set with the first mechanism that applies (see
    /// [`memory_mechanism`](Self::memory_mechanism) to choose one):
    ///
    /// - **cgroup v2**, where this process may create child cgroups (cgroup
    ///   v2 mounted, the `memory` controller available to the process's
    ///   cgroup and enabled, or enableable, for its children, and the
    ///   cgroup writable: typically as root, or in a systemd-delegated
    ///   unit): each worker gets a cgroup of its own with `memory.max` set
    ///   to `bytes` (and no swap), removed when the worker is reaped. The
    ///   kernel counts resident memory, page cache included, of the worker
    ///   and its subprocesses, and kills them when it runs out; the pool
    ///   reads the OOM kill from the cgroup's `memory.events`.
    /// - **`RLIMIT_DATA`** otherwise, set by each worker on itself as it
    ///   starts: allocations (heap and anonymous mappings) beyond `bytes`
    ///   fail. Rust aborts on a failed allocation, and the worker reports
    ///   that abort as an out-of-memory. It counts address space the worker
    ///   has mapped, not pages it touched, and each process on its own (a
    ///   subprocess gets a limit of its own). So that std's backtrace after
    ///   a failed allocation cannot hide the cause, such a worker runs with
    ///   `RUST_BACKTRACE=0` and its former value in `RUST_LIB_BACKTRACE`
    ///   (which the panics procs reports still follow).
    ///
    /// `build` refuses a limit under 32 MiB, what a worker needs itself,
    /// and a limit on attached workers, which the pool did not start.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().memory_limit(2 << 30);
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Builder {
        self.limits.memory = Some(bytes);
        self
    }

    /// Chooses how [`memory_limit`](Self::memory_limit) caps each worker;
    /// [`MemoryMechanism::Auto`] by default. `build` fails with
    /// [`Error::InvalidSetting`](crate::Error::InvalidSetting) if
    /// [`MemoryMechanism::Cgroup`] is asked for where this process may not
    /// create cgroups, naming why.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::{MemoryMechanism, Pool};
    ///
    /// let builder = Pool::builder()
    ///     .memory_limit(1 << 30)
    ///     .memory_mechanism(MemoryMechanism::Rlimit);
    /// ```
    pub fn memory_mechanism(mut self, mechanism: MemoryMechanism) -> Builder {
        self.limits.mechanism = Some(mechanism);
        self
    }

    /// Replaces a worker whose resident memory exceeds `bytes` after a task,
    /// before it runs another: for tasks that leak (native libraries,
    /// caches that only grow). The task's result is delivered first; the
    /// parent reads the worker's size from `/proc/PID/statm` after each
    /// answer. Requests already sent to the worker along with that task
    /// (small calls travel several at a time) still run on it.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = procs_core::Pool::builder().recycle_above(512 << 20);
    /// ```
    pub fn recycle_above(mut self, bytes: u64) -> Builder {
        self.limits.recycle_above = Some(bytes);
        self
    }

    /// Limits the CPU time of each task: a task that computes for longer
    /// fails with [`Error::CpuTimeLimit`](crate::Error::CpuTimeLimit), and
    /// its worker is replaced. Unlike [`timeout`](Self::timeout), time spent
    /// waiting (sleep, I/O, locks) does not count, and the CPU time of
    /// threads the task starts does. The limit applies to each call, also
    /// when calls travel in batches.
    ///
    /// The worker watches itself with a timer on its CPU-time clock, armed
    /// as each task starts; the worker's own work between tasks is not
    /// counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = procs_core::Pool::builder().cpu_time_limit(Duration::from_secs(10));
    /// ```
    pub fn cpu_time_limit(mut self, limit: Duration) -> Builder {
        self.limits.cpu_time = Some(limit);
        self
    }
}
