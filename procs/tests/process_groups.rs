//! A task's processes die with it (issue 12, points 4 and 5), and workers
//! are recognisable (issue 11, point 6).
//!
//! Each worker leads its own process group; a timeout, a cancel,
//! `Pool::kill`, a pool drop, a worker crash and the parent's SIGKILL end
//! the whole group. A task here starts `sleep 300` under a marker argv[0]
//! unique to the test, and the test then looks for that marker in every
//! `/proc/*/cmdline`, wherever the `sleep` was reparented. Tests that need a
//! parent of their own re-run this binary pointed at one helper test, which
//! does nothing unless its environment variable is set.

mod support;

use support::{KillOnDrop, Sweep, TempDir, marked, wait_for};

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use procs::{Error, Pool, proc, remote};
use serde::{Deserialize, Serialize};

/// How long the kernel gets to deliver a kill and the tests to see it:
/// far above what it needs, only to turn a hang into a failure.
const BOUND: Duration = Duration::from_secs(5);
/// How long a hanging task sleeps: far past any test.
const HANG: Duration = Duration::from_secs(60);

const ROLE_ORPHAN: &str = "PROCS_TEST_GROUP_ORPHAN";
const ROLE_SIGINT: &str = "PROCS_TEST_GROUP_SIGINT";

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Then {
    /// Return at once, leaving the child behind in the worker's group.
    Return,
    /// Sleep far past the test.
    Hang,
    /// Crash the worker.
    Abort,
}

/// Starts `sleep 300` with `marker` as its argv[0], waits until it runs,
/// then does what `then` says; returns the child's pid.
#[remote]
fn start_child(marker: String, then: Then) -> u32 {
    let child = Command::new("sleep")
        .arg0(&marker)
        .arg("300")
        .stdin(Stdio::null())
        .spawn()
        .expect("sleep starts");
    let pid = child.id();
    // Never waited for: the child must outlive this task for the test to
    // mean anything. It is in this worker's process group.
    std::mem::forget(child);
    assert!(
        wait_for(BOUND, || marked(&marker).contains(&pid)),
        "the child never showed up"
    );
    match then {
        Then::Return => {}
        Then::Hang => std::thread::sleep(HANG),
        Then::Abort => std::process::abort(),
    }
    pid
}

#[remote]
fn worker_pid() -> u32 {
    std::process::id()
}

/// A marker unique to this test in this run.
fn marker(test: &str) -> String {
    format!("procs-group-test-{test}-{}", std::process::id())
}

/// Waits until the task's child has started.
fn wait_started(marker: &str) {
    assert!(
        wait_for(BOUND, || !marked(marker).is_empty()),
        "the task never started its child `{marker}`"
    );
}

/// Requires every process carrying `marker` to be gone within [`BOUND`].
fn assert_gone(marker: &str, case: &str) {
    let gone = wait_for(BOUND, || marked(marker).is_empty());
    assert!(
        gone,
        "{case}: the task's child outlived its worker: {:?}",
        marked(marker)
    );
}

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .chunk_size(1)
        .build()
        .expect("pool starts")
}

#[test]
fn a_timeout_kills_what_the_task_started() {
    let marker = marker("timeout");
    let _sweep = Sweep(marker.clone());
    let pool = pool(1);
    // The deadline only has to outlast the spawn of a `sleep`; had the
    // child not started by then, `start_child` would not have been killed
    // with it and the check below would fail rather than pass.
    let result =
        pool.call(proc!(start_child(marker.clone(), Then::Hang)).timeout(Duration::from_secs(2)));
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert_gone(&marker, "timeout");
    assert!(
        pool.call(proc!(worker_pid())).is_ok(),
        "the pool still serves"
    );
}

#[test]
fn a_cancel_kills_what_the_task_started() {
    let marker = marker("cancel");
    let _sweep = Sweep(marker.clone());
    let pool = pool(2);
    let quiet = marker.clone() + "-none";
    let mut results = pool.pmap(
        start_child,
        [(quiet.clone(), Then::Return), (marker.clone(), Then::Hang)],
    );
    results
        .next()
        .expect("a result")
        .expect("the quick task returns");
    wait_started(&marker);
    drop(results);
    assert_gone(&marker, "cancel");
    // The quick task's child lingers in its idle worker's group until the
    // pool retires that worker.
    drop(pool);
    assert_gone(&quiet, "cancel (the idle worker)");
}

#[test]
fn pool_kill_kills_what_the_tasks_started() {
    let marker = marker("kill");
    let _sweep = Sweep(marker.clone());
    let pool = pool(1);
    let running = {
        let pool = pool.clone();
        let marker = marker.clone();
        std::thread::spawn(move || pool.call(proc!(start_child(marker, Then::Hang))))
    };
    wait_started(&marker);
    pool.kill();
    let result = running.join().expect("the caller returns");
    assert!(matches!(result, Err(Error::PoolClosed)), "{result:?}");
    assert_gone(&marker, "Pool::kill");
}

#[test]
fn dropping_the_pool_kills_what_its_tasks_left_behind() {
    let marker = marker("drop");
    let _sweep = Sweep(marker.clone());
    let pool = pool(1);
    // The task returns; its child lives on in the idle worker's group.
    let pid = pool
        .call(proc!(start_child(marker.clone(), Then::Return)))
        .expect("the task returns");
    assert_eq!(marked(&marker), [pid], "the child outlives its task");
    drop(pool);
    assert_gone(&marker, "pool drop");
}

#[test]
fn a_crash_kills_what_the_task_started() {
    let marker = marker("crash");
    let _sweep = Sweep(marker.clone());
    let pool = pool(1);
    let result = pool.call(proc!(start_child(marker.clone(), Then::Abort)));
    assert!(
        matches!(&result, Err(Error::WorkerDied { exit, .. }) if exit.signal() == Some(libc::SIGABRT)),
        "{result:?}"
    );
    assert_gone(&marker, "crash");
}

/// Re-runs this binary as a helper that runs only the test `name`, with
/// `role` set to `dir`; in a process group of its own, so that what the
/// test sends to the helper's group never reaches the test harness.
fn helper(name: &str, role: &str, dir: &Path) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(role, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("the helper starts");
    // Read its report on a thread, so that a helper that hangs fails the
    // test instead of stalling it.
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (KillOnDrop(child), lines)
}

/// Waits for the helper to print `what` (libtest may have written
/// `test NAME ... ` before it on the same line).
fn expect_line(lines: &mpsc::Receiver<String>, what: &str) {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the helper never said `{what}`"));
        if line.ends_with(what) {
            return;
        }
    }
}

/// The orphaned parent's part: a pool of two workers, one running a task
/// that started a child and hangs, one idle with the child of a task that
/// returned; prints `group-orphan: ready`, then waits to be killed.
#[test]
fn orphan_parent() {
    let Some(dir) = std::env::var_os(ROLE_ORPHAN) else {
        return;
    };
    let tag = dir.to_string_lossy().rsplit('-').next().unwrap().to_owned();
    let pool = pool(2);
    let idle = format!("procs-group-test-orphan-idle-{tag}");
    pool.call(proc!(start_child(idle, Then::Return)))
        .expect("the task returns");
    let busy = format!("procs-group-test-orphan-busy-{tag}");
    let busy_pool = pool.clone();
    let busy_marker = busy.clone();
    std::thread::spawn(move || busy_pool.call(proc!(start_child(busy_marker, Then::Hang))));
    wait_started(&busy);
    println!("group-orphan: ready");
    std::thread::sleep(HANG);
}

#[test]
fn the_parents_sigkill_kills_what_its_tasks_started() {
    let dir = TempDir::new("group-orphan");
    let tag = std::process::id();
    let idle = format!("procs-group-test-orphan-idle-{tag}");
    let busy = format!("procs-group-test-orphan-busy-{tag}");
    let _sweep = (Sweep(idle.clone()), Sweep(busy.clone()));
    let (mut parent, lines) = helper("orphan_parent", ROLE_ORPHAN, &dir.0);
    expect_line(&lines, "group-orphan: ready");
    assert_eq!(marked(&idle).len(), 1, "the idle worker's child runs");
    assert_eq!(marked(&busy).len(), 1, "the busy worker's child runs");
    parent.0.kill().unwrap();
    parent.0.wait().unwrap();
    assert_gone(&busy, "parent SIGKILL, busy worker");
    assert_gone(&idle, "parent SIGKILL, idle worker");
}

static SIGINTS: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINTS.store(true, Ordering::SeqCst);
}

/// Waits for `dir/go`, having said it started; returns its pid.
#[remote]
fn wait_for_go(dir: String) -> u32 {
    std::fs::write(format!("{dir}/started"), b"").unwrap();
    let go = Path::new(&dir).join("go");
    assert!(wait_for(Duration::from_secs(60), || go.exists()), "no go");
    std::process::id()
}

/// The Ctrl-C'd parent's part: catches SIGINT (a handler, not `SIG_IGN`,
/// which workers would inherit through `exec`), runs a call that waits for
/// the test's go, says when SIGINT came, and prints `sigint: ok` if the
/// call succeeded.
#[test]
fn sigint_parent() {
    let Some(dir) = std::env::var_os(ROLE_SIGINT) else {
        return;
    };
    let dir = dir.into_string().expect("a UTF-8 path");
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    let pool = pool(1);
    let seen = dir.clone();
    std::thread::spawn(move || {
        if wait_for(Duration::from_secs(60), || SIGINTS.load(Ordering::SeqCst)) {
            std::fs::write(format!("{seen}/sigint"), b"").unwrap();
        }
    });
    let worker = pool
        .call(proc!(wait_for_go(dir)))
        .expect("the call survives Ctrl-C");
    assert_ne!(worker, std::process::id());
    println!("sigint: ok");
}

#[test]
fn ctrl_c_reaches_the_parent_not_its_workers() {
    let dir = TempDir::new("group-sigint");
    let (mut parent, lines) = helper("sigint_parent", ROLE_SIGINT, &dir.0);
    assert!(
        wait_for(Duration::from_secs(60), || dir.0.join("started").exists()),
        "the call never started"
    );
    // What a terminal does on Ctrl-C: SIGINT to the foreground group, here
    // the helper's.
    let group = parent.0.id() as libc::pid_t;
    // SAFETY: kill(2) has no memory effects; the group is the unreaped
    // helper's own.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGINT) }, 0);
    assert!(
        wait_for(BOUND, || dir.0.join("sigint").exists()),
        "the parent never got the SIGINT"
    );
    std::fs::write(dir.0.join("go"), b"").unwrap();
    expect_line(&lines, "sigint: ok");
    let status = parent.0.wait().unwrap();
    assert!(status.success(), "the helper failed: {status}");
}

#[test]
fn a_worker_shows_the_program_name_and_a_marker() {
    let pool = pool(1);
    let pid = pool.call(proc!(worker_pid())).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap();
    let ours = std::env::args_os().next().unwrap();
    let expected = format!("{} [procs worker]", ours.to_string_lossy());
    assert_eq!(String::from_utf8_lossy(argv0), expected);

    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let ours = std::fs::read_to_string("/proc/self/comm").unwrap();
    let comm = comm.trim_end();
    // This binary's name, cut to leave room for the marker in 15 bytes.
    let name = ours.trim_end();
    let expected = format!("{}[w]", &name[..name.len().min(12)]);
    assert_eq!(comm, expected);
    assert!(comm.len() <= 15);
}

/// The process group `pid` is in, from `/proc/PID/stat`.
fn process_group(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces.
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// The transports keep the group `worker_command` asks for, including the
/// ones whose `pre_exec` hook makes std `fork` instead of `posix_spawn`.
#[test]
fn every_transport_starts_workers_as_group_leaders() {
    fn leads<T: procs::transport::Transport>(transport: T) {
        let pool = Pool::builder()
            .workers(1)
            .transport(transport)
            .build()
            .unwrap();
        let pid = pool.call(proc!(worker_pid())).unwrap();
        assert_eq!(process_group(pid), pid, "{}", T::NAME);
    }
    #[cfg(feature = "pipe")]
    leads(procs::PipeTransport::default());
    #[cfg(feature = "ipc")]
    leads(procs::IpcTransport::default());
}
