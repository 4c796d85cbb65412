//! The reliability guarantees (DESIGN.md §6, issue 3), each proved by a test that fails without its mechanism: deadlines, cancellation, shutdown and kill, no leaked fd or child, worker recycling and initializers, hostile workers and undecodable values, and what the errors say.
//!
//! Every test here counts this process's children and open fds, so the tests
//! take turns (a file-wide lock) and none touches the global pool, whose
//! workers would outlive them. Tests never assert a duration: a deadline is
//! proved by the kind of result and by the worker being gone, and every wait
//! has a bound far above what the machine needs, only to turn a hang into a
//! failure.

mod support;

use support::{children, open_fds};

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

// ---------------------------------------------------------------------------
// 1. Deadlines.

#[test]
fn deadline_kills_the_late_task_only() {
    let clean = Clean::start();
    let dir = TempDir::new("deadline");
    let pool = pool(2);
    let late = proc!(nap(LONG_MS, dir.marker("late"))).timeout(Duration::from_millis(300));
    // `before` runs across the moment the late task is killed, on the other
    // worker; `after` runs once it is gone.
    let (before, late, after) = pool.call((
        proc!(nap(800, dir.marker("before"))),
        late,
        proc!(nap(0, dir.marker("after"))),
    ));
    let late_pid = dir.started("late").expect("the late task started");
    let err = late.unwrap_err();
    let msg = err.to_string();
    match err {
        Error::Timeout { id, timeout } => {
            assert_eq!(id, "reliability::nap");
            assert_eq!(timeout, Duration::from_millis(300));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(
        msg.contains("`reliability::nap`") && msg.contains("timed out after 300ms"),
        "{msg}"
    );
    // Killed and reaped before the error was delivered, never finished.
    assert!(
        !child_pids().contains(&late_pid),
        "the late worker lives on"
    );
    assert!(!dir.done("late"));
    assert_ne!(before.unwrap(), late_pid);
    assert!(dir.done("before") && dir.done("after"));
    // A replacement took over: the pool serves, on a new worker.
    let pids: Vec<u32> = (0..4).map(|_| pool.call(proc!(pid())).unwrap()).collect();
    assert!(!pids.contains(&late_pid), "{pids:?} {late_pid}");
    let _ = after.unwrap();
    still_serves(&pool);
    drop(pool);
    clean.check();
}

#[test]
fn pool_deadline_applies_unless_the_proc_sets_its_own() {
    let clean = Clean::start();
    let dir = TempDir::new("pool-deadline");
    let pool = Pool::builder()
        .workers(2)
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let got: Vec<Result<u32, Error>> = pool
        .call(vec![
            // The pool's deadline.
            proc!(nap(LONG_MS, dir.marker("default"))),
            // A longer deadline of its own: outlives the pool's.
            proc!(nap(1_500, dir.marker("longer"))).timeout(Duration::from_secs(60)),
            // A shorter deadline of its own.
            proc!(nap(LONG_MS, dir.marker("shorter"))).timeout(Duration::from_millis(200)),
            // Quick: the pool's deadline does not touch it.
            proc!(nap(0, dir.marker("quick"))),
        ])
        .collect();
    assert_eq!(got.len(), 4);
    let timeout_of = |r: &Result<u32, Error>| match r {
        Err(Error::Timeout { id, timeout }) => {
            assert_eq!(id, "reliability::nap");
            *timeout
        }
        other => panic!("expected Timeout, got {other:?}"),
    };
    assert_eq!(timeout_of(&got[0]), Duration::from_millis(400));
    assert!(got[1].is_ok(), "{:?}", got[1]);
    assert_eq!(timeout_of(&got[2]), Duration::from_millis(200));
    assert!(got[3].is_ok(), "{:?}", got[3]);
    assert!(!dir.done("default") && !dir.done("shorter"));
    assert!(dir.done("longer") && dir.done("quick"));
    still_serves(&pool);
    drop(pool);
    clean.check();
}

// ---------------------------------------------------------------------------
// 2. Cancellation, shutdown and kill.

#[test]
fn dropping_results_kills_running_tasks_and_skips_queued_ones() {
    let clean = Clean::start();
    let dir = TempDir::new("cancel");
    let pool = pool(2);

    // Nothing runs until the iterator is polled: dropping it unpolled is free.
    drop(pool.pmap(nap, [(0, dir.marker("unpolled"))]));

    // Item 0 is quick; 1 and 2 then occupy both workers; 3.. are queued.
    let items: Vec<(u64, String)> = (0..8)
        .map(|i| (if i == 0 { 0 } else { LONG_MS }, dir.marker(&i.to_string())))
        .collect();
    let mut results = pool.pmap(nap, items);
    let first = results.next().unwrap().unwrap();
    let running = [dir.wait_started("1"), dir.wait_started("2")];
    assert!(running.iter().all(|pid| child_pids().contains(pid)));
    drop(results);

    // Killed and reaped long before they could finish.
    let gone = wait_for(Duration::from_secs(10), || {
        let alive = child_pids();
        running.iter().all(|pid| !alive.contains(pid))
    });
    assert!(
        gone,
        "cancelled tasks still run: {running:?} in {:?}",
        children()
    );

    // The pool serves again, with new workers, and the queued items of the
    // dropped call were skipped, not run.
    let pids: Vec<u32> = (0..4).map(|_| pool.call(proc!(pid())).unwrap()).collect();
    assert!(pids.iter().all(|p| !running.contains(p) && *p != first));
    for i in 0..8 {
        let name = i.to_string();
        assert_eq!(dir.started(&name).is_some(), i <= 2, "item {i} started?");
        assert_eq!(dir.done(&name), i == 0, "item {i} finished?");
    }
    assert!(dir.started("unpolled").is_none());
    still_serves(&pool);
    drop(pool);
    clean.check();
}

/// A task that a worker took just before its call was dropped, and started
/// just after, is still killed. (It used to run to its end: `Watch::begin`
/// recorded the already set cancel flag without waking the watchdog.) Here
/// the window is the initializer of the replacement worker.
#[test]
fn a_task_started_after_its_call_was_dropped_is_killed() {
    let clean = Clean::start();
    let dir = TempDir::new("cancel-race");
    let pool = Pool::builder()
        .workers(1)
        .max_tasks_per_worker(1)
        .initializer(proc!(nap(1_000, String::new())))
        .build()
        .unwrap();
    let mut results = pool.pmap(nap, [(0, dir.marker("0")), (8_000, dir.marker("1"))]);
    results.next().unwrap().unwrap();
    // The slot now retires worker 0, takes item 1 (not yet cancelled) and
    // spends a second initializing a new worker for it: drop in that second.
    std::thread::sleep(Duration::from_millis(300));
    drop(results);
    // Item 1 should never start; if it does, it must be killed promptly.
    wait_for(Duration::from_secs(3), || dir.started("1").is_some());
    if let Some(pid) = dir.started("1") {
        let killed = wait_for(Duration::from_secs(3), || !child_pids().contains(&pid));
        assert!(killed, "a task of a dropped call runs on in worker {pid}");
    }
    assert!(!dir.done("1"));
    drop(pool);
    clean.check();
}

#[test]
fn shutdown_finishes_submitted_work_then_reaps_every_worker() {
    let clean = Clean::start();
    let dir = TempDir::new("shutdown");
    let pool = pool(2);
    let items: Vec<(u64, String)> = (0..6).map(|i| (150, dir.marker(&i.to_string()))).collect();
    let mut results = pool.pmap(nap, items);
    // Polling once submits the whole call (it fits in the window).
    let first = results.next().unwrap();
    pool.shutdown();
    // Everything submitted ran to completion before shutdown returned, and
    // every worker was reaped.
    for i in 0..6 {
        assert!(dir.done(&i.to_string()), "item {i} did not finish");
    }
    assert_eq!(children(), [], "shutdown returned before reaping");
    assert!(first.is_ok(), "{first:?}");
    let rest: Vec<_> = results.collect();
    assert_eq!(rest.len(), 5);
    assert!(rest.iter().all(Result::is_ok), "{rest:?}");
    // Closed for new work; shutting down again, or killing, is harmless.
    assert!(matches!(
        pool.call(proc!(double(1))),
        Err(Error::PoolClosed)
    ));
    pool.shutdown();
    pool.kill();
    drop(pool);
    clean.check();
}

#[test]
fn kill_during_a_single_call_from_another_thread() {
    // A lone call on an idle worker runs from its caller's thread; a kill
    // must still end it with PoolClosed and reap before returning.
    let clean = Clean::start();
    let dir = TempDir::new("kill-one");
    let pool = pool(1);
    assert_eq!(pool.call(proc!(double(2))).unwrap(), 4);
    let caller = {
        let pool = pool.clone();
        let marker = dir.marker("0");
        std::thread::spawn(move || pool.call(proc!(nap(LONG_MS, marker))))
    };
    dir.wait_started("0");
    pool.kill();
    assert_eq!(children(), [], "kill returned before reaping");
    let result = caller.join().unwrap();
    assert!(matches!(result, Err(Error::PoolClosed)), "{result:?}");
    assert!(!dir.done("0"));
    drop(pool);
    clean.check();
}

#[test]
fn kill_fails_pending_work_and_reaps_before_returning() {
    let clean = Clean::start();
    let dir = TempDir::new("kill");
    let pool = pool(2);
    let items: Vec<(u64, String)> = (0..6)
        .map(|i| (if i == 0 { 0 } else { LONG_MS }, dir.marker(&i.to_string())))
        .collect();
    let mut results = pool.pmap(nap, items);
    assert!(results.next().unwrap().is_ok());
    dir.wait_started("1");
    dir.wait_started("2");
    pool.kill();
    assert_eq!(children(), [], "kill returned before reaping");
    // Running (1, 2) and queued (3..) calls all yield PoolClosed.
    let rest: Vec<_> = results.collect();
    assert_eq!(rest.len(), 5);
    assert!(
        rest.iter().all(|r| matches!(r, Err(Error::PoolClosed))),
        "{rest:?}"
    );
    assert!((1..6).all(|i| !dir.done(&i.to_string())));
    assert!(matches!(
        pool.call(proc!(double(1))),
        Err(Error::PoolClosed)
    ));
    pool.kill();
    drop(pool);
    clean.check();
}

#[test]
fn dropping_the_last_handle_reaps_every_worker() {
    let clean = Clean::start();
    let dir = TempDir::new("drop");

    // An idle pool.
    let pool = pool(2);
    still_serves(&pool);
    assert!(!children().is_empty());
    drop(pool);
    assert_eq!(children(), [], "drop returned before reaping");

    // A pool whose last handle goes while a call is running: the results
    // keep it alive; dropping them then cancels, kills and reaps.
    let pool = self::pool(2);
    let items: Vec<(u64, String)> = (0..4)
        .map(|i| (if i == 0 { 0 } else { LONG_MS }, dir.marker(&i.to_string())))
        .collect();
    let mut results = pool.pmap(nap, items);
    assert!(results.next().unwrap().is_ok());
    let running = [dir.wait_started("1"), dir.wait_started("2")];
    let clone = pool.clone();
    drop(pool);
    drop(clone);
    let alive = child_pids();
    assert!(
        running.iter().all(|p| alive.contains(p)),
        "{running:?} {alive:?}"
    );
    drop(results);
    assert_eq!(
        children(),
        [],
        "dropping the results returned before reaping"
    );
    assert!((1..4).all(|i| !dir.done(&i.to_string())));
    clean.check();
}

// ---------------------------------------------------------------------------
// 4. No leaks, after every kind of failure.

#[test]
fn no_fd_or_child_is_left_after_failures_of_every_kind() {
    let clean = Clean::start();
    let dir = TempDir::new("leaks");
    let pool = Pool::builder()
        .workers(2)
        .max_tasks_per_worker(5)
        .build()
        .unwrap();
    for round in 0..3 {
        assert!(matches!(
            pool.call(proc!(panics(round))),
            Err(Error::Panicked { .. })
        ));
        assert!(matches!(
            pool.call(proc!(aborts(round))),
            Err(Error::WorkerDied { .. })
        ));
        assert!(matches!(
            pool.call(proc!(exits(3))),
            Err(Error::WorkerDied { .. })
        ));
        let late = proc!(nap(LONG_MS, String::new())).timeout(Duration::from_millis(100));
        assert!(matches!(pool.call(late), Err(Error::Timeout { .. })));
        let wrong: Proc<String> = Proc::by_id("reliability::double", (1u32,));
        assert!(matches!(pool.call(wrong), Err(Error::Decode { .. })));
        let unknown: Proc<u32> = Proc::by_id("reliability::nowhere", ());
        assert!(matches!(
            pool.call(unknown),
            Err(Error::UnknownFunction { .. })
        ));
        // A cancelled call with running and queued tasks.
        let items = (0..6).map(|i| {
            (
                if i == 0 { 0 } else { LONG_MS },
                dir.marker(&format!("{round}-{i}")),
            )
        });
        let mut results = pool.pmap(nap, items);
        assert!(results.next().unwrap().is_ok());
        dir.wait_started(&format!("{round}-1"));
        drop(results);
        still_serves(&pool);
    }
    drop(pool);
    clean.check();

    // The same after shutdown and kill with work in flight.
    for kill in [false, true] {
        let pool = self::pool(2);
        let mut results = pool.pmap(double, 0..10);
        assert_eq!(results.next().unwrap().unwrap(), 0);
        if kill {
            pool.kill();
        } else {
            pool.shutdown();
        }
        assert_eq!(results.count(), 9);
        drop(pool);
        clean.check();
    }
}

#[test]
fn each_worker_holds_only_its_own_channel() {
    // The parent's ends of every worker's pipes are close-on-exec: a worker
    // spawned later must not inherit its siblings' channels (it would keep a
    // dead sibling's pipe open, and the parent would never see it die).
    let clean = Clean::start();
    let dir = TempDir::new("inherit");
    let meeting = dir.marker("meet");
    std::fs::create_dir_all(&meeting).unwrap();
    // What any child of this process inherits, whoever spawns it.
    let inheritable: Vec<u32> = open_fds()
        .into_keys()
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the fd's flags.
            let flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
            fd > 2 && flags >= 0 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    // Replaced after every task: the second round's workers are spawned
    // while their siblings run.
    let pool = Pool::builder()
        .workers(3)
        .max_tasks_per_worker(1)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for round in 0..2 {
        let meeting = format!("{meeting}-{round}");
        std::fs::create_dir_all(&meeting).unwrap();
        let reports: Vec<(u32, Vec<(u32, String)>)> = pool
            .pmap(fds_at_meeting, (0..3).map(|_| (meeting.clone(), 3)))
            .collect::<Result<_, _>>()
            .unwrap();
        for (pid, fds) in reports {
            let own: Vec<&String> = fds
                .iter()
                .filter(|(fd, _)| !inheritable.contains(fd))
                .map(|(_, target)| target)
                .collect();
            assert_eq!(
                own.len(),
                2,
                "worker {pid} holds {fds:?}; inheritable: {inheritable:?}"
            );
            for target in own {
                assert!(target.starts_with("pipe:"), "worker {pid} holds {fds:?}");
                assert!(!seen.contains(target), "{target} shared by two workers");
                seen.push(target.clone());
            }
        }
    }
    drop(pool);
    clean.check();
}

/// Waits until `n` workers have called it (so each call runs on its own
/// worker), then lists this worker's fds above stdio and their targets.
#[remote]
fn fds_at_meeting(dir: String, n: usize) -> (u32, Vec<(u32, String)>) {
    let me = std::process::id();
    std::fs::write(format!("{dir}/{me}"), b"").unwrap();
    let met = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(&dir).unwrap().count() >= n
    });
    assert!(met, "the other workers never came");
    let fds = open_fds().into_iter().filter(|(fd, _)| *fd > 2).collect();
    (me, fds)
}

// ---------------------------------------------------------------------------
// 5. Recycling and initializers.

#[test]
fn workers_are_replaced_after_max_tasks() {
    let clean = Clean::start();
    let pool = Pool::builder()
        .workers(1)
        .max_tasks_per_worker(3)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..10).map(|_| pool.call(proc!(pid())).unwrap()).collect();
    let chunks: Vec<&[u32]> = pids.chunks(3).collect();
    for chunk in &chunks {
        assert!(chunk.iter().all(|p| *p == chunk[0]), "{pids:?}");
    }
    for pair in chunks.windows(2) {
        assert_ne!(pair[0][0], pair[1][0], "{pids:?}");
    }
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{pids:?}");
    // Retired workers were reaped; only the fourth is alive.
    assert!(
        child_pids().iter().all(|p| *p == pids[9]),
        "{:?}",
        children()
    );

    // The count goes on across calls of any shape.
    let batch: Vec<u32> = pool
        .call((0..6).map(|_| proc!(pid())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(batch[0], pids[9]);
    assert_eq!(batch[1], pids[9]);
    assert_ne!(batch[2], pids[9]);
    assert!(batch[2..5].iter().all(|p| *p == batch[2]), "{batch:?}");
    assert_ne!(batch[5], batch[2]);
    drop(pool);
    clean.check();
}

/// A batch (adaptive by default) is split at the worker's remaining room:
/// a worker with one task left before its limit does not run hundreds. (It
/// used to: batches were sent whole.)
#[test]
fn max_tasks_per_worker_holds_when_calls_are_batched() {
    let clean = Clean::start();
    let pool = Pool::builder()
        .workers(1)
        .max_tasks_per_worker(3)
        .build()
        .unwrap();
    let pids: Vec<u32> = pool
        .pmap(pid_of, 0..3_000)
        .collect::<Result<_, _>>()
        .unwrap();
    let mut per_worker: BTreeMap<u32, usize> = BTreeMap::new();
    for pid in pids {
        *per_worker.entry(pid).or_default() += 1;
    }
    let most = per_worker.values().max().copied().unwrap_or(0);
    assert!(most <= 3, "a worker ran {most} tasks with a limit of 3");
    drop(pool);
    clean.check();
}

#[test]
fn initializer_runs_once_in_every_new_worker_before_its_first_task() {
    let clean = Clean::start();
    // Without an initializer the flag is never set.
    let plain = pool(1);
    assert_eq!(plain.call(proc!(flag_report(0))).unwrap().0, 0);
    drop(plain);

    let pool = Pool::builder()
        .workers(2)
        .max_tasks_per_worker(2)
        .initializer(proc!(set_flag(7)))
        .build()
        .unwrap();
    let reports: Vec<(u32, u32, u32)> = pool
        .pmap(flag_report, 0..12)
        .collect::<Result<_, _>>()
        .unwrap();
    let mut workers = BTreeMap::new();
    for (flag, runs, pid) in &reports {
        assert_eq!((*flag, *runs), (7, 1), "{reports:?}");
        *workers.entry(*pid).or_insert(0) += 1;
    }
    // Recycling every two tasks: six workers at least, each initialized once.
    assert!(workers.len() >= 6, "{workers:?}");
    assert!(workers.values().all(|n| *n <= 2), "{workers:?}");
    drop(pool);
    clean.check();
}

#[test]
fn failing_initializer_fails_each_task_without_hang_or_spawn_loop() {
    let clean = Clean::start();
    let dir = TempDir::new("init-fails");
    let log = dir.marker("init.log");
    let runs = || {
        std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let pool = Pool::builder()
        .workers(1)
        .initializer(proc!(init_logs_then_panics(log.clone())))
        .build()
        .unwrap();
    let results: Vec<Result<u32, Error>> = pool.pmap(double, 0..3).collect();
    assert_eq!(results.len(), 3);
    for r in &results {
        match r {
            Err(err @ Error::InitializerFailed { id, source }) => {
                assert_eq!(id, "reliability::init_logs_then_panics");
                match &**source {
                    Error::Panicked { id, panic } => {
                        assert_eq!(id, "reliability::init_logs_then_panics");
                        assert_eq!(panic.message, "initializer refuses");
                        let location = panic.location.as_ref().expect("a location");
                        assert_eq!(
                            (location.file.as_str(), location.line),
                            (file!(), INIT_PANIC_LINE)
                        );
                    }
                    other => panic!("expected a panic as the source, got {other:?}"),
                }
                // The message names the initializer; its source says how it
                // failed and where.
                let msg = err.to_string();
                assert!(
                    msg.contains("`reliability::init_logs_then_panics`"),
                    "{msg}"
                );
                let source = std::error::Error::source(err)
                    .expect("a source")
                    .to_string();
                assert!(
                    source.contains("initializer refuses")
                        && source.contains(&format!("{}:{INIT_PANIC_LINE}", file!())),
                    "{source}"
                );
            }
            other => panic!("expected InitializerFailed, got {other:?}"),
        }
    }
    // One attempt per task, plus at most the slot's eager start.
    let after_three = runs();
    assert!(
        (3..=4).contains(&after_three),
        "{after_three} initializer runs"
    );
    // Idle, the pool does not retry on its own.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(runs(), after_three);
    assert_eq!(children(), [], "a failed worker was not reaped");
    // Later calls keep answering the same way, one attempt each.
    assert!(matches!(
        pool.call(proc!(double(1))),
        Err(Error::InitializerFailed { .. })
    ));
    assert_eq!(runs(), after_three + 1);
    drop(pool);
    clean.check();
}

#[test]
fn initializer_failures_of_other_kinds_and_recovery() {
    let clean = Clean::start();
    let dir = TempDir::new("init-other");

    // An initializer past its deadline.
    let pool = Pool::builder()
        .workers(1)
        .initializer(proc!(nap(LONG_MS, String::new())).timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    match pool.call(proc!(double(1))) {
        Err(Error::InitializerFailed { id, source }) => {
            assert_eq!(id, "reliability::nap");
            assert!(
                matches!(*source, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
                "{source:?}"
            );
        }
        other => panic!("expected InitializerFailed, got {other:?}"),
    }
    drop(pool);
    clean.check();

    // An initializer that fails once: the next attempt, on a new worker,
    // serves, so at most one task pays for it.
    let pool = Pool::builder()
        .workers(1)
        .initializer(proc!(init_fails_once(dir.marker("failed"))))
        .build()
        .unwrap();
    let results: Vec<Result<u32, Error>> = pool.pmap(double, 0..4).collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed <= 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(Error::InitializerFailed { .. })))
    );
    assert_eq!(*results[3].as_ref().unwrap(), 6);
    still_serves(&pool);
    drop(pool);
    clean.check();
}

#[test]
fn unbatched_calls_run_at_most_once_even_when_neighbours_crash() {
    // By default quick calls travel in batches, and a batch whose worker
    // dies is run again call by call (see docs/reliability.md). With
    // `chunk_size(1)`, or a deadline on every call, nothing runs twice.
    let clean = Clean::start();
    let dir = TempDir::new("at-most-once");
    let aborting = vec![150, 400, 401, 990];
    for name in ["chunk_size(1)", "timeout"] {
        let builder = match name {
            "chunk_size(1)" => Pool::builder().chunk_size(1),
            _ => Pool::builder().timeout(Duration::from_secs(60)),
        };
        let log = dir.marker(name);
        let pool = builder.workers(2).build().unwrap();
        let items = (0..1_000).map(|i| (i, log.clone(), aborting.clone()));
        let results: Vec<Result<u32, Error>> = pool.pmap(log_then_maybe_abort, items).collect();
        assert_eq!(results.len(), 1_000);
        for (i, r) in (0..).zip(&results) {
            match r {
                Ok(v) => assert_eq!(*v, i, "{name}"),
                Err(Error::WorkerDied { exit, .. }) if aborting.contains(&i) => {
                    assert_eq!(exit.signal(), Some(libc::SIGABRT), "{name}");
                }
                other => panic!("{name}: call {i}: {other:?}"),
            }
        }
        let text = std::fs::read_to_string(&log).unwrap();
        let mut runs: BTreeMap<u32, usize> = BTreeMap::new();
        for line in text.lines() {
            *runs.entry(line.parse().unwrap()).or_default() += 1;
        }
        let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "{name}: calls run more than once: {twice:?}"
        );
        assert_eq!(runs.len(), 1_000, "{name}: every call ran");
        drop(pool);
        clean.check();
    }
}

// ---------------------------------------------------------------------------
// 6. Hostile and broken workers, values that do not decode.

/// A "worker" that is some other program: the pool reads its stdout as the
/// channel. Nothing it does may hang the pool or leak.
struct ForeignWorker {
    program: &'static str,
    args: &'static [&'static str],
}

struct StdoutChannel {
    stdout: ChildStdout,
    max: usize,
}

impl Channel for StdoutChannel {
    type Error = std::io::Error;

    fn send(&mut self, _msg: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("a foreign worker takes no requests"))
    }

    fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.stdout, self.max)
    }
}

impl Transport for ForeignWorker {
    type Channel = StdoutChannel;
    const NAME: &'static str = "reliability-foreign";

    fn spawn(&self, _cmd: Command, max: usize) -> Result<(StdoutChannel, Child), BoxError> {
        let mut child = Command::new(self.program)
            .args(self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        Ok((StdoutChannel { stdout, max }, child))
    }

    fn connect(_max: usize) -> Result<StdoutChannel, BoxError> {
        Err("never a worker".into())
    }
}

fn foreign_pool(program: &'static str, args: &'static [&'static str], handshake: Duration) -> Pool {
    Pool::builder()
        .workers(1)
        .transport(ForeignWorker { program, args })
        .handshake_timeout(handshake)
        .build()
        .unwrap()
}

#[test]
fn a_worker_that_never_greets_is_a_handshake_timeout() {
    let clean = Clean::start();
    let pool = foreign_pool("sleep", &["60"], Duration::from_millis(300));
    for _ in 0..2 {
        let err = pool.call(proc!(double(1))).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::HandshakeTimeout { timeout } if timeout == Duration::from_millis(300)),
            "{err:?}"
        );
        assert!(msg.contains("handshake") && msg.contains("300ms"), "{msg}");
        // The silent process was killed and reaped before the error came.
        assert_eq!(children(), []);
    }
    drop(pool);
    clean.check();
}

#[test]
fn a_worker_that_exits_before_greeting_is_a_startup_failure() {
    let clean = Clean::start();
    for (program, args, code) in [("true", &[][..], 0), ("sh", &["-c", "exit 7"][..], 7)] {
        let pool = foreign_pool(program, args, Duration::from_secs(60));
        let err = pool.call(proc!(double(1))).unwrap_err();
        let msg = err.to_string();
        match err {
            Error::StartupFailed { exit } => assert_eq!(exit.code(), Some(code)),
            other => panic!("{program}: expected StartupFailed, got {other:?}"),
        }
        assert!(msg.contains(&format!("exited with code {code}")), "{msg}");
        drop(pool);
        clean.check();
    }
}

#[test]
fn a_worker_that_greets_with_garbage_is_refused_and_killed() {
    let clean = Clean::start();
    // Each writes a bad greeting, then would sit there for a minute.
    let greetings: [&'static [&'static str]; 3] = [
        // An empty frame.
        &["-c", "head -c 8 /dev/zero; exec sleep 60"],
        // A frame of five bytes of nonsense.
        &[
            "-c",
            "printf '\\005'; head -c 7 /dev/zero; printf hello; exec sleep 60",
        ],
        // A frame that claims to be 2^63 - 1 bytes long.
        &[
            "-c",
            "printf '\\377\\377\\377\\377\\377\\377\\377\\177'; exec sleep 60",
        ],
    ];
    for args in greetings {
        // A handshake deadline far above the test's length: the refusal must
        // come from reading the greeting, not from the clock.
        let pool = foreign_pool("sh", args, Duration::from_secs(60));
        let err = pool.call(proc!(double(1))).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed(_) | Error::Transport(_) | Error::TooLarge { .. }
            ),
            "{args:?}: {err:?}"
        );
        assert_eq!(
            children(),
            [],
            "{args:?}: the foreign worker was not killed"
        );
        drop(pool);
        clean.check();
    }
}

#[test]
fn a_value_that_does_not_decode_fails_only_its_task() {
    let clean = Clean::start();
    let pool = pool(1);
    let worker = pool.call(proc!(pid())).unwrap();

    // `double` returns a u32, which does not decode as a String.
    let (a, b, c) = pool.call((
        proc!(double(1)),
        Proc::<String>::by_id("reliability::double", (5u32,)),
        proc!(double(3)),
    ));
    assert_eq!(a.unwrap(), 2);
    let err = b.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::Decode { id, payload: Payload::Result, .. } if id == "reliability::double"),
        "{err:?}"
    );
    assert!(
        msg.contains("return value") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(c.unwrap(), 6);

    // Arguments of the wrong type: the worker refuses them, for that task.
    let (d, e, f) = pool.call((
        proc!(double(4)),
        Proc::<u32>::by_id("reliability::double", ("five".to_string(),)),
        proc!(double(5)),
    ));
    assert_eq!(d.unwrap(), 8);
    let err = e.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::Decode { id, payload: Payload::Arguments, .. } if id == "reliability::double"),
        "{err:?}"
    );
    assert!(
        msg.contains("arguments") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(f.unwrap(), 10);

    // Neither cost the worker.
    assert_eq!(pool.call(proc!(pid())).unwrap(), worker);
    drop(pool);
    clean.check();
}

#[test]
fn an_unknown_id_runs_nothing_and_names_what_is_known() {
    let clean = Clean::start();
    let pool = pool(1);
    let worker = pool.call(proc!(pid())).unwrap();
    let (a, b) = pool.call((
        Proc::<u32>::by_id("reliability::nowhere", (1u32,)),
        proc!(double(2)),
    ));
    let err = a.unwrap_err();
    let msg = err.to_string();
    match err {
        Error::UnknownFunction { id, known } => {
            assert_eq!(id, "reliability::nowhere");
            assert!(
                known.iter().any(|k| k == "reliability::double"),
                "{known:?}"
            );
        }
        other => panic!("expected UnknownFunction, got {other:?}"),
    }
    assert!(
        msg.contains("`reliability::nowhere`") && msg.contains("`reliability::double`"),
        "{msg}"
    );
    assert_eq!(b.unwrap(), 4);
    assert_eq!(pool.call(proc!(pid())).unwrap(), worker);
    drop(pool);
    clean.check();
}

// ---------------------------------------------------------------------------
// 8. Error quality: what failures.rs does not cover already.

/// The pipe transport, with the workers' backtrace variables set.
struct BacktracePipe(&'static str);

impl Transport for BacktracePipe {
    type Channel = <PipeTransport as Transport>::Channel;
    // The worker is routed by name to the registered pipe transport.
    const NAME: &'static str = <PipeTransport as Transport>::NAME;

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(Self::Channel, Child), BoxError> {
        cmd.env("RUST_BACKTRACE", self.0)
            .env("RUST_LIB_BACKTRACE", self.0);
        PipeTransport::default().spawn(cmd, max)
    }

    fn connect(max: usize) -> Result<Self::Channel, BoxError> {
        PipeTransport::connect(max)
    }
}

#[test]
fn panic_backtrace_comes_back_when_the_worker_has_rust_backtrace() {
    let clean = Clean::start();
    for setting in ["1", "0"] {
        let pool = Pool::builder()
            .workers(1)
            .transport(BacktracePipe(setting))
            .build()
            .unwrap();
        match pool.call(proc!(panics(5))) {
            Err(Error::Panicked { panic, .. }) => {
                assert_eq!(panic.message, "refusing 5");
                let location = panic.location.as_ref().expect("a location");
                assert_eq!(
                    (location.file.as_str(), location.line),
                    (file!(), PANIC_LINE)
                );
                if setting == "1" {
                    let backtrace = panic.backtrace.expect("a backtrace with RUST_BACKTRACE=1");
                    if cfg!(debug_assertions) {
                        assert!(backtrace.contains("panics"), "{backtrace}");
                    }
                } else {
                    assert_eq!(panic.backtrace, None);
                }
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        drop(pool);
        clean.check();
    }
}
