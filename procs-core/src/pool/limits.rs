//! The pool's side of the resource limits: which mechanism caps a worker's
//! memory, handing the limits to each new worker, recycling a worker that
//! grew too large, and telling a worker killed by a limit from one that
//! crashed. The worker's side is `worker::limits`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::Error;
use crate::pool::cgroup::{self, Cgroup};
use crate::pool::launch::Worker;
use crate::wire::env::{ENV_CPU_TIME_LIMIT, ENV_MEMORY_LIMIT, WorkerExit};

/// The smallest memory limit a worker is given: what the worker itself
/// needs (under `RLIMIT_DATA`, its task thread's stack alone takes the main
/// thread's 8 MiB; then its buffers and the allocator's arenas), with room
/// to spare for a task.
pub(crate) const MIN_MEMORY_LIMIT: u64 = 32 << 20;

/// How [`Builder::memory_limit`](crate::Builder::memory_limit) caps each
/// worker.
///
/// # Examples
///
/// ```
/// use procs_core::{MemoryMechanism, Pool};
///
/// // Never create cgroups, even where the process could.
/// let builder = Pool::builder()
///     .memory_limit(512 << 20)
///     .memory_mechanism(MemoryMechanism::Rlimit);
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryMechanism {
    /// A cgroup per worker where the process may create one, else the
    /// rlimit.
    #[default]
    Auto,
    /// A cgroup v2 per worker with `memory.max` set to the limit; `build`
    /// fails with [`Error::InvalidSetting`] where the process may not create
    /// one.
    Cgroup,
    /// `RLIMIT_DATA`, set by each worker on itself as it starts.
    Rlimit,
}

/// The limits as the builder was given them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LimitSettings {
    pub(crate) memory: Option<u64>,
    pub(crate) mechanism: Option<MemoryMechanism>,
    pub(crate) recycle_above: Option<u64>,
    pub(crate) cpu_time: Option<Duration>,
}

/// The limits of a pool, checked, with the memory mechanism chosen.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    memory: Option<(u64, Option<&'static Path>)>,
    recycle_above: Option<u64>,
    cpu_time: Option<Duration>,
}

/// What the pool keeps per worker for its limits.
#[derive(Debug, Default)]
pub(crate) struct WorkerLimits {
    /// The worker's own cgroup, under the cgroup mechanism.
    cgroup: Option<Cgroup>,
    /// The worker's task count when its size was last read.
    measured_at: usize,
    /// Whether it was over `recycle_above` then.
    pub(crate) bloated: bool,
}

impl LimitSettings {
    /// Checks the settings and picks the memory mechanism; `attached` says
    /// whether the pool's workers are attached (started by someone else).
    pub(crate) fn resolve(self, attached: bool) -> Result<Limits, Error> {
        let invalid = |setting, problem| Error::InvalidSetting { setting, problem };
        let any = self.memory.is_some() || self.recycle_above.is_some() || self.cpu_time.is_some();
        if attached && any {
            let problem = "attached workers cannot be limited or replaced by the pool";
            let setting = match (self.memory, self.recycle_above) {
                (Some(_), _) => "memory_limit",
                (_, Some(_)) => "recycle_above",
                _ => "cpu_time_limit",
            };
            return Err(invalid(setting, problem));
        }
        if self.memory.is_some_and(|bytes| bytes < MIN_MEMORY_LIMIT) {
            let problem = "must be at least 32 MiB, what a worker needs to start and serve";
            return Err(invalid("memory_limit", problem));
        }
        if self.mechanism.is_some() && self.memory.is_none() {
            let problem = "has no effect without `memory_limit`";
            return Err(invalid("memory_mechanism", problem));
        }
        if self.recycle_above == Some(0) {
            return Err(invalid("recycle_above", "must be at least 1 byte"));
        }
        if self.cpu_time == Some(Duration::ZERO) {
            return Err(invalid("cpu_time_limit", "must be more than zero"));
        }
        let memory = match (self.memory, self.mechanism.unwrap_or_default()) {
            (None, _) => None,
            (Some(bytes), MemoryMechanism::Rlimit) => Some((bytes, None)),
            (Some(bytes), MemoryMechanism::Auto) => Some((bytes, cgroup::available().ok())),
            (Some(bytes), MemoryMechanism::Cgroup) => match cgroup::available() {
                Ok(parent) => Some((bytes, Some(parent))),
                Err(problem) => return Err(invalid("memory_mechanism", problem)),
            },
        };
        Ok(Limits {
            memory,
            recycle_above: self.recycle_above,
            cpu_time: self.cpu_time,
        })
    }
}

impl Limits {
    /// Whether any limit is set. A limited pool runs every call through its
    /// slots, which watch the workers' size and tell a limit from a crash.
    pub(crate) fn any(&self) -> bool {
        self.memory.is_some() || self.recycle_above.is_some() || self.cpu_time.is_some()
    }

    /// Hands the limits the worker applies itself to a new worker.
    pub(crate) fn configure(&self, cmd: &mut Command) {
        if let Some((bytes, None)) = self.memory {
            cmd.env(ENV_MEMORY_LIMIT, bytes.to_string());
        }
        if let Some(limit) = self.cpu_time {
            cmd.env(ENV_CPU_TIME_LIMIT, limit.as_nanos().to_string());
        }
    }

    /// Confines the new worker `pid` to a cgroup of its own, under the
    /// cgroup mechanism; it has run nothing but its start-up so far.
    pub(crate) fn confine(&self, pid: u32) -> std::io::Result<WorkerLimits> {
        let cgroup = match self.memory {
            Some((bytes, Some(parent))) => {
                let cgroup = Cgroup::create(parent, bytes)?;
                cgroup.enter(pid)?;
                Some(cgroup)
            }
            _ => None,
        };
        Ok(WorkerLimits {
            cgroup,
            ..WorkerLimits::default()
        })
    }

    /// Reads the size of `worker` after its tasks, if `recycle_above` is
    /// set, and marks it for replacement if it grew too large.
    pub(crate) fn measure(&self, worker: &mut Worker) {
        let (Some(above), Some(child)) = (self.recycle_above, &worker.child) else {
            return;
        };
        if worker.limits.measured_at == worker.tasks {
            return;
        }
        worker.limits.measured_at = worker.tasks;
        worker.limits.bloated = resident(child.id()).is_some_and(|rss| rss > above);
    }

    /// Turns the death of a worker that a limit ended into that limit's
    /// error; `oom_killed` says whether its cgroup saw an OOM kill.
    pub(crate) fn classify(&self, error: Error, oom_killed: bool) -> Error {
        let Error::WorkerDied { id, exit, context } = error else {
            return error;
        };
        let code = exit.code();
        match (self.memory, self.cpu_time) {
            (Some((limit, Some(_))), _) if oom_killed => Error::OutOfMemory { id, limit, context },
            (Some((limit, None)), _) if code == Some(WorkerExit::OutOfMemory.code()) => {
                Error::OutOfMemory { id, limit, context }
            }
            (_, Some(limit)) if code == Some(WorkerExit::CpuTimeLimit.code()) => {
                Error::CpuTimeLimit { id, limit, context }
            }
            _ => Error::WorkerDied { id, exit, context },
        }
    }
}

impl WorkerLimits {
    /// Takes the worker's cgroup out, to be read and removed once the worker
    /// is reaped.
    pub(crate) fn take_cgroup(&mut self) -> Option<Cgroup> {
        self.cgroup.take()
    }
}

/// The resident memory of process `pid`, in bytes.
fn resident(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf(3) has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod test {
    use super::*;

    fn settings() -> LimitSettings {
        LimitSettings::default()
    }

    fn problem(settings: LimitSettings, attached: bool) -> &'static str {
        match settings.resolve(attached) {
            Err(Error::InvalidSetting { setting, .. }) => setting,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let tiny = LimitSettings {
            memory: Some(1 << 20),
            ..settings()
        };
        assert_eq!(problem(tiny, false), "memory_limit");
        let zero = LimitSettings {
            memory: Some(0),
            ..settings()
        };
        assert_eq!(problem(zero, false), "memory_limit");
        let alone = LimitSettings {
            mechanism: Some(MemoryMechanism::Rlimit),
            ..settings()
        };
        assert_eq!(problem(alone, false), "memory_mechanism");
        let recycle = LimitSettings {
            recycle_above: Some(0),
            ..settings()
        };
        assert_eq!(problem(recycle, false), "recycle_above");
        let cpu = LimitSettings {
            cpu_time: Some(Duration::ZERO),
            ..settings()
        };
        assert_eq!(problem(cpu, false), "cpu_time_limit");
        let attached = LimitSettings {
            cpu_time: Some(Duration::from_secs(1)),
            ..settings()
        };
        assert_eq!(problem(attached, true), "cpu_time_limit");
    }

    fn died(code: i32) -> Error {
        use std::os::unix::process::ExitStatusExt;
        Error::WorkerDied {
            id: "app::f".into(),
            exit: std::process::ExitStatus::from_raw(code << 8).into(),
            context: crate::error::CallContext::default(),
        }
    }

    #[test]
    fn a_death_by_a_limit_is_told_from_a_crash() {
        let limit = Duration::from_secs(1);
        let rlimit = Limits {
            memory: Some((LIMIT, None)),
            cpu_time: Some(limit),
            ..Limits::default()
        };
        let oom = WorkerExit::OutOfMemory.code();
        let cpu = WorkerExit::CpuTimeLimit.code();
        assert!(matches!(
            rlimit.classify(died(oom), false),
            Error::OutOfMemory { limit: LIMIT, .. }
        ));
        assert!(matches!(
            rlimit.classify(died(cpu), false),
            Error::CpuTimeLimit { limit: l, .. } if l == limit
        ));
        assert!(matches!(
            rlimit.classify(died(3), false),
            Error::WorkerDied { .. }
        ));
        // Under a cgroup, only the cgroup's OOM kill counts.
        let cgroup = Limits {
            memory: Some((LIMIT, Some(Path::new("/sys/fs/cgroup")))),
            ..Limits::default()
        };
        assert!(matches!(
            cgroup.classify(died(3), true),
            Error::OutOfMemory { .. }
        ));
        assert!(matches!(
            cgroup.classify(died(oom), false),
            Error::WorkerDied { .. }
        ));
        // Without the limit, the codes are plain exits.
        let none = Limits::default();
        assert!(matches!(
            none.classify(died(oom), false),
            Error::WorkerDied { .. }
        ));
        assert!(matches!(
            none.classify(died(cpu), false),
            Error::WorkerDied { .. }
        ));
    }

    const LIMIT: u64 = 64 << 20;

    #[test]
    fn resident_memory_of_this_process_is_read() {
        assert!(resident(std::process::id()).is_some_and(|rss| rss > 0));
    }
}
