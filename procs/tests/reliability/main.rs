//! The reliability guarantees (DESIGN.md §6, issue 3), each proved by a test that fails without its mechanism: deadlines, cancellation, shutdown and kill, no leaked fd or child, worker recycling and initializers, hostile workers and undecodable values, and what the errors say.
//!
//! Every test here counts this process's children and open fds, so the tests
//! take turns (a file-wide lock) and none touches the global pool, whose
//! workers would outlive them. Tests never assert a duration: a deadline is
//! proved by the kind of result and by the worker being gone, and every wait
//! has a bound far above what the machine needs, only to turn a hang into a
//! failure.

#[path = "../support/mod.rs"]
mod support;

use support::{children, open_fds};

mod cancel;
mod deadlines;
mod errors;
mod hostile;
mod leaks;
mod recycling;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use procs::transport::{Channel, Transport, frame};
use procs::{BoxError, Error, Payload, PipeTransport, Pool, Proc, proc, remote};

// ---------------------------------------------------------------------------
// Remote functions.

/// Where the remote functions below are, for tests that check a reported
/// panic location.
const REMOTES_FILE: &str = file!();

#[remote]
fn double(x: u32) -> u32 {
    2 * x
}

#[remote]
fn pid() -> u32 {
    std::process::id()
}

#[remote]
fn pid_of(_i: u32) -> u32 {
    std::process::id()
}

/// Appends `i` to `log`, then aborts if `i` is in `abort_at`.
#[remote]
fn log_then_maybe_abort(i: u32, log: String, abort_at: Vec<u32>) -> u32 {
    append_line(&log, &i.to_string());
    if abort_at.contains(&i) {
        std::process::abort();
    }
    i
}

/// Writes `<marker>.started` (holding the pid), sleeps `ms`, writes
/// `<marker>.done`; returns the pid. An empty marker writes nothing.
#[remote]
fn nap(ms: u64, marker: String) -> u32 {
    let me = std::process::id();
    if !marker.is_empty() {
        write_atomically(&format!("{marker}.started"), &me.to_string());
    }
    std::thread::sleep(Duration::from_millis(ms));
    if !marker.is_empty() {
        write_atomically(&format!("{marker}.done"), &me.to_string());
    }
    me
}

/// The line of the `panic!` in `panics`, which must stay right below.
const PANIC_LINE: u32 = line!() + 3;
#[remote]
fn panics(x: u32) -> u32 {
    panic!("refusing {x}")
}

#[remote]
fn aborts(_x: u32) -> u32 {
    std::process::abort()
}

#[remote]
fn exits(code: i32) -> u32 {
    std::process::exit(code)
}

/// Set by the initializer `set_flag` in the worker that runs it.
static FLAG: AtomicU32 = AtomicU32::new(0);
/// How many times `set_flag` ran in this process.
static INIT_RUNS: AtomicU32 = AtomicU32::new(0);

#[remote]
fn set_flag(value: u32) {
    INIT_RUNS.fetch_add(1, Ordering::SeqCst);
    FLAG.store(value, Ordering::SeqCst);
}

/// `(FLAG, INIT_RUNS, pid)` as this worker sees them.
#[remote]
fn flag_report(_i: u32) -> (u32, u32, u32) {
    (
        FLAG.load(Ordering::SeqCst),
        INIT_RUNS.load(Ordering::SeqCst),
        std::process::id(),
    )
}

/// An initializer that logs each run (one line in `log`) and then panics.
#[remote]
fn init_logs_then_panics(log: String) {
    append_line(&log, &std::process::id().to_string());
    refuse_to_initialize()
}

/// The line of the `panic!` in `refuse_to_initialize`, right below.
const INIT_PANIC_LINE: u32 = line!() + 2;
fn refuse_to_initialize() -> ! {
    panic!("initializer refuses")
}

fn append_line(path: &str, line: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    // One write, so that lines appended by several workers never interleave.
    file.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// An initializer that fails the first time only (`marker` remembers).
#[remote]
fn init_fails_once(marker: String) {
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"failed once").unwrap();
        panic!("first initializer run fails");
    }
}

// ---------------------------------------------------------------------------
// The process's state: children, fds, and a lock so tests take turns.

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the file-wide lock and what the process looked like before the test.
struct Clean {
    fds: BTreeMap<u32, String>,
    _serial: MutexGuard<'static, ()>,
}

impl Clean {
    /// Takes the lock, checks no child is left from before, and records the
    /// open fds.
    fn start() -> Clean {
        let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        // A previous test that failed may have left children being reaped.
        let left = wait_for(Duration::from_secs(10), || children().is_empty());
        assert!(left, "children before the test: {:?}", children());
        Clean {
            fds: open_fds(),
            _serial: serial,
        }
    }

    /// Asserts, at once, that no child (zombies included) and no new fd is
    /// left: callers drop, shut down or kill their pools first, which reap
    /// before they return.
    fn check(&self) {
        assert_eq!(children(), [], "children left behind");
        let now = open_fds();
        let leaked: Vec<_> = now
            .iter()
            .filter(|(fd, _)| !self.fds.contains_key(fd))
            .collect();
        assert!(leaked.is_empty(), "fds leaked: {leaked:?}");
        assert_eq!(
            now.len(),
            self.fds.len(),
            "fds before {:?}, after {now:?}",
            self.fds
        );
    }
}

fn child_pids() -> Vec<u32> {
    children().into_iter().map(|(pid, _)| pid).collect()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh directory for the markers tasks write; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "procs-reliability-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    /// The marker prefix of task `name` (see `nap`).
    fn marker(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    fn started(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(format!("{}.started", self.marker(name))).ok()?;
        text.parse().ok()
    }

    fn done(&self, name: &str) -> bool {
        std::fs::metadata(format!("{}.done", self.marker(name))).is_ok()
    }

    /// Waits (boundedly) for task `name` to start; returns its worker's pid.
    fn wait_started(&self, name: &str) -> u32 {
        let mut pid = None;
        let started = wait_for(Duration::from_secs(20), || {
            pid = self.started(name);
            pid.is_some()
        });
        assert!(started, "task {name} never started");
        pid.expect("checked")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_atomically(path: &str, contents: &str) {
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .build()
        .expect("pool starts")
}

fn still_serves(pool: &Pool) {
    let got: Vec<u32> = pool.pmap(double, 0..6).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, [0, 2, 4, 6, 8, 10]);
}

/// A sleep far longer than any test may take: a task given it finishes only
/// if the mechanism under test failed to kill it.
const LONG_MS: u64 = 20_000;
