//! What the process tests share: this process's children and open fds, as
//! `/proc` shows them.
#![allow(dead_code, reason = "each test binary uses its own subset")]

use std::collections::BTreeMap;

/// This process's children, zombies included, as `(pid, state)`.
pub(crate) fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable") {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((state, ppid)) = stat(pid) {
            if ppid == me {
                found.push((pid, state));
            }
        }
    }
    found
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
