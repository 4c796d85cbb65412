//! A cgroup v2 per worker, for the memory limit where the process may make
//! one: the kernel then counts every page of the worker and of whatever its
//! tasks start, and kills the group's processes (OOM) when they need more.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where cgroup v2 may be mounted: alone (unified), or beside v1 (hybrid).
const MOUNTS: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

/// Tells workers' cgroups apart within this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The cgroup under which this process may make worker cgroups with a
/// memory limit, or why it may not; found once per process.
pub(crate) fn available() -> Result<&'static Path, &'static str> {
    static FOUND: OnceLock<Result<PathBuf, &'static str>> = OnceLock::new();
    match FOUND.get_or_init(find) {
        Ok(dir) => Ok(dir),
        Err(problem) => Err(problem),
    }
}

fn find() -> Result<PathBuf, &'static str> {
    let own = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|table| unified_path(&table))
        .ok_or("this process is in no cgroup v2 hierarchy")?;
    let root = MOUNTS
        .iter()
        .map(Path::new)
        .find(|mount| mount.join("cgroup.controllers").exists())
        .ok_or("cgroup v2 is not mounted")?;
    let dir = root.join(own.trim_start_matches('/'));
    let has_memory = |file: &str| {
        fs::read_to_string(dir.join(file))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "memory"))
    };
    if !has_memory("cgroup.controllers") {
        return Err("the cgroup v2 memory controller is not available to this process's cgroup");
    }
    // Enabling it fails where this cgroup holds processes and is not the
    // root (cgroup v2's "no internal processes" rule): the process must
    // then run in a leaf of a delegated subtree of its own.
    if !has_memory("cgroup.subtree_control")
        && fs::write(dir.join("cgroup.subtree_control"), "+memory").is_err()
    {
        return Err("the memory controller cannot be enabled for this process's child cgroups");
    }
    let probe = Cgroup::create(&dir, u64::MAX)
        .map_err(|_| "this process may not create child cgroups with a memory limit")?;
    drop(probe);
    Ok(dir)
}

/// The path of this process in the unified hierarchy (`0::/path`).
fn unified_path(table: &str) -> Option<String> {
    table
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_owned)
}

/// A worker's cgroup, removed when dropped (after the worker is reaped).
#[derive(Debug)]
pub(crate) struct Cgroup {
    path: PathBuf,
}

impl Cgroup {
    /// Makes a cgroup under `parent` whose processes may use `limit` bytes
    /// of memory, swap excluded.
    pub(crate) fn create(parent: &Path, limit: u64) -> io::Result<Cgroup> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("procs-{}-{n}", std::process::id()));
        fs::create_dir(&path).map_err(|error| {
            let path = path.display();
            io::Error::new(
                error.kind(),
                format!("cannot create cgroup {path}: {error}"),
            )
        })?;
        let cgroup = Cgroup { path };
        let max = if limit == u64::MAX {
            "max".to_owned()
        } else {
            limit.to_string()
        };
        fs::write(cgroup.path.join("memory.max"), max)?;
        // Best effort: without swap accounting the limit still holds, but
        // a task over it may swap instead of failing. The group is killed
        // as one, so that a task's helpers do not outlive an OOM kill.
        let _ = fs::write(cgroup.path.join("memory.swap.max"), "0");
        let _ = fs::write(cgroup.path.join("memory.oom.group"), "1");
        Ok(cgroup)
    }

    /// Moves process `pid` (and what it starts from now on) into the cgroup.
    pub(crate) fn enter(&self, pid: u32) -> io::Result<()> {
        fs::write(self.path.join("cgroup.procs"), pid.to_string()).map_err(|error| {
            let path = self.path.display();
            io::Error::new(
                error.kind(),
                format!("cannot move the worker into its cgroup {path}: {error}"),
            )
        })
    }

    /// Whether the kernel killed a process of the cgroup for want of memory.
    pub(crate) fn oom_killed(&self) -> bool {
        fs::read_to_string(self.path.join("memory.events"))
            .ok()
            .is_some_and(|events| oom_kills(&events) > 0)
    }
}

/// The `oom_kill` count of a `memory.events` file.
fn oom_kills(events: &str) -> u64 {
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // A killed process leaves its cgroup a moment after its parent
        // reaps it (its group's other processes even later): retry briefly.
        for _ in 0..50 {
            match fs::remove_dir(&self.path) {
                Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_unified_line_names_the_cgroup() {
        let table = "4:memory:/old\n0::/user.slice/app.service\n";
        assert_eq!(
            unified_path(table).as_deref(),
            Some("/user.slice/app.service")
        );
        assert_eq!(unified_path("4:memory:/old\n"), None);
    }

    #[test]
    fn oom_kills_are_counted_from_memory_events() {
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kills(events), 1);
        assert_eq!(oom_kills("low 0\noom 0\n"), 0);
    }
}
