//! What the process tests share: this process's children and open fds, as
//! `/proc` shows them.
#![allow(dead_code, reason = "each test binary uses its own subset")]

use std::collections::BTreeMap;

/// This process's children, zombies included, as `(pid, state)`.
pub(crate) fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    pids()
        .filter_map(|pid| {
            stat(pid)
                .filter(|&(_, ppid)| ppid == me)
                .map(|(state, _)| (pid, state))
        })
        .collect()
}

/// Every process in `/proc`.
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// `(state, ppid)` of a process, if it exists.
pub(crate) fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Open fds of this process and what they point to.
pub(crate) fn open_fds() -> BTreeMap<u32, String> {
    let mut fds = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd is readable") {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.display().to_string();
            // Skip the fd of the listing itself.
            if target != format!("/proc/{}/fd", std::process::id()) {
                fds.insert(fd, target);
            }
        }
    }
    fds
}

/// Live processes (zombies left out) whose command line holds `marker`,
/// wherever they were reparented: how the tests find the processes a task
/// started (`sleep` with the marker as its argv[0]).
pub(crate) fn marked(marker: &str) -> Vec<u32> {
    pids()
        .filter(|&pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let holds = cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == marker.as_bytes());
            holds && stat(pid).is_some_and(|(state, _)| state != 'Z')
        })
        .collect()
}

/// Waits up to `bound` for `done`, polling: for what the kernel does on its
/// own time (delivering a signal, reaping by PID 1). Never a measurement.
pub(crate) fn wait_for(bound: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + bound;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// SIGKILLs whatever still carries `marker` when dropped, so that a failing
/// test leaves no `sleep 300` behind.
pub(crate) struct Sweep(pub(crate) String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in marked(&self.0) {
            // SAFETY: kill(2) has no memory effects; a pid that died and was
            // reused since the scan would need a whole pid-space wrap-around.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// A fresh directory for a test's files, removed when dropped, failed test
/// or not.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("procs-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A helper process the test started, killed and reaped if the test fails
/// before it does.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
