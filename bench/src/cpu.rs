//! CPU time per kind of thread, read from `/proc`: the calling thread, the
//! pools' slot threads (`procs-worker-N`) and their worker processes (the
//! children those threads spawned). Times vary with the machine's load much
//! less than wall-clock rates do, which makes them the figure to compare
//! when changing the per-call path.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// CPU seconds used so far, per kind of thread.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cpu {
    caller: f64,
    /// Per slot thread id, and per worker pid: a thread or worker that went
    /// away between two snapshots is left out of both.
    slots: HashMap<String, f64>,
    workers: HashMap<String, f64>,
}

impl Cpu {
    /// Reads the current figures; missing entries (a thread that just
    /// ended) are skipped.
    pub(crate) fn now() -> Cpu {
        let mut cpu = Cpu::default();
        // SAFETY: gettid has no preconditions.
        let caller = unsafe { libc::gettid() };
        cpu.caller = seconds(&format!("/proc/self/task/{caller}/stat")).unwrap_or(0.0);
        for (tid, path) in slot_threads() {
            if let Some(s) = seconds(&path.join("stat").to_string_lossy()) {
                cpu.slots.insert(tid, s);
            }
            for pid in children(&path) {
                if let Some(s) = seconds(&format!("/proc/{pid}/stat")) {
                    cpu.workers.insert(pid, s);
                }
            }
        }
        cpu
    }

    /// What was used since `before`, per call, as "caller …, slots …,
    /// workers … per call".
    pub(crate) fn per_call_since(&self, before: &Cpu, calls: u64) -> String {
        let sum = |now: &HashMap<String, f64>, then: &HashMap<String, f64>| -> f64 {
            now.iter()
                .filter_map(|(id, s)| then.get(id).map(|t| s - t))
                .sum()
        };
        let per = |s: f64| nanos(s / calls.max(1) as f64);
        format!(
            "CPU per call: caller {}, slot threads {}, workers {} (all together, from /proc)",
            per(self.caller - before.caller),
            per(sum(&self.slots, &before.slots)),
            per(sum(&self.workers, &before.workers)),
        )
    }
}

/// The pids of the worker processes of this process's pools.
pub(crate) fn worker_pids() -> Vec<String> {
    slot_threads()
        .into_iter()
        .flat_map(|(_, path)| children(&path))
        .collect()
}

/// The pools' slot threads (`procs-worker-N`): thread id and `/proc` path.
fn slot_threads() -> Vec<(String, PathBuf)> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter(|task| {
            fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with("procs-worker-"))
        })
        .map(|task| (task.file_name().to_string_lossy().into_owned(), task.path()))
        .collect()
}

/// The processes a thread started (each slot thread spawns its workers).
fn children(thread: &Path) -> Vec<String> {
    fs::read_to_string(thread.join("children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A short time, in ns below 10 µs.
fn nanos(seconds: f64) -> String {
    match seconds {
        s if s < 10e-6 => format!("{:.0} ns", s * 1e9),
        s => crate::stats::time(s),
    }
}

/// User plus system time of a thread or process, from its `stat` file.
fn seconds(stat: &str) -> Option<f64> {
    let text = fs::read_to_string(stat).ok()?;
    // `pid (comm) state ...`: comm may hold spaces, so split after it.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}
