//! No orphans (issue 3, point 3): when a parent with a pool is SIGKILLed, all its workers exit within moments, the idle ones (EOF on their channel) and the busy ones (`PR_SET_PDEATHSIG`) alike.
//!
//! The parent is this test binary re-executed to run only `orphan_parent`,
//! which starts a pool, prints its workers' pids and waits to be killed.
//! Without `PROCS_TEST_ORPHAN_PARENT` set, `orphan_parent` does nothing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procs::{Pool, proc, remote};
use support::{KillOnDrop, TempDir};

mod support;

const ROLE: &str = "PROCS_TEST_ORPHAN_PARENT";
const WORKERS: usize = 3;

/// Writes this worker's pid into `dir`, waits until `n` workers have done
/// so (each task then runs on its own worker), and returns the pid.
#[remote]
fn meet(dir: String, n: usize) -> u32 {
    let me = std::process::id();
    std::fs::write(format!("{dir}/{me}"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&dir).unwrap().count() < n {
        assert!(Instant::now() < deadline, "the other workers never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    me
}

/// Announces its pid on `marker`, then sleeps far past the test.
#[remote]
fn busy(marker: String) -> u32 {
    std::fs::write(&marker, std::process::id().to_string()).unwrap();
    std::thread::sleep(Duration::from_secs(120));
    std::process::id()
}

/// The parent's part, run in a re-executed copy of this binary: a pool of
/// three workers, two idle and one running a long task. Prints
/// `orphan-parent: worker <pid>` for each, `... busy <pid>` for the busy one,
/// then `... ready`.
#[test]
fn orphan_parent() {
    let Some(dir) = std::env::var_os(ROLE) else {
        return;
    };
    let dir = dir.into_string().expect("a UTF-8 path");
    let pool = Pool::builder()
        .workers(WORKERS)
        .build()
        .expect("pool starts");
    let meeting = format!("{dir}/meet");
    std::fs::create_dir_all(&meeting).unwrap();
    let pids: Vec<u32> = pool
        .pmap(meet, (0..WORKERS).map(|_| (meeting.clone(), WORKERS)))
        .collect::<Result<_, _>>()
        .expect("every worker reports");
    for pid in &pids {
        println!("orphan-parent: worker {pid}");
    }
    let marker = format!("{dir}/busy");
    let busy_pool = pool.clone();
    let busy_marker = marker.clone();
    std::thread::spawn(move || busy_pool.call(proc!(busy(busy_marker))));
    let deadline = Instant::now() + Duration::from_secs(30);
    let busy = loop {
        if let Some(pid) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the busy task never started");
        std::thread::sleep(Duration::from_millis(5));
    };
    println!("orphan-parent: busy {busy}");
    println!("orphan-parent: ready");
    // Wait to be killed; give up long after any test would have.
    std::thread::sleep(Duration::from_secs(120));
}

/// `(state, ppid, start time)` of a process, if it exists.
fn stat(pid: u32) -> Option<(char, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state (3), ppid (4), ... starttime (22).
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, ppid, start))
}

#[test]
fn workers_exit_when_their_parent_is_killed() {
    let dir = TempDir::new("orphans");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "orphan_parent",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, &dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the parent starts");
    let mut parent = KillOnDrop(child);
    let parent_pid = parent.0.id();

    // Read the parent's report on a thread, so that a parent that hangs
    // fails the test instead of stalling it.
    let stdout = parent.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut workers = Vec::new();
    let mut busy = None;
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the parent reports its workers");
        // libtest may have written `test orphan_parent ... ` on the same line.
        let Some((_, report)) = line.split_once("orphan-parent: ") else {
            continue;
        };
        if let Some(pid) = report.strip_prefix("worker ") {
            workers.push(pid.parse::<u32>().unwrap());
        } else if let Some(pid) = report.strip_prefix("busy ") {
            busy = Some(pid.parse::<u32>().unwrap());
        } else if report == "ready" {
            break;
        }
    }
    let busy = busy.expect("a busy worker");
    assert_eq!(workers.len(), WORKERS, "{workers:?}");
    assert!(workers.contains(&busy), "{busy} not in {workers:?}");

    // They are the parent's children, alive; remember when each started, so
    // that a recycled pid is not mistaken for one of them.
    let identities: Vec<(u32, u64)> = workers
        .iter()
        .map(|&pid| {
            let (state, ppid, start) = stat(pid).expect("the worker exists");
            assert_eq!(ppid, parent_pid, "worker {pid} is not the parent's");
            assert_ne!(state, 'Z', "worker {pid} is already dead");
            (pid, start)
        })
        .collect();

    let killed = Instant::now();
    parent.0.kill().unwrap();
    parent.0.wait().unwrap();
    // A worker counts as gone once it is dead: reaped, or a zombie waiting
    // for its new parent to reap it.
    let alive = || -> Vec<u32> {
        identities
            .iter()
            .filter(|(pid, start)| {
                stat(*pid).is_some_and(|(state, _, started)| started == *start && state != 'Z')
            })
            .map(|(pid, _)| *pid)
            .collect()
    };
    let mut left = alive();
    while !left.is_empty() && killed.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
        left = alive();
    }
    assert!(
        left.is_empty(),
        "workers alive {:?} after their parent was killed: {left:?} (busy: {busy})",
        killed.elapsed()
    );
    eprintln!(
        "orphans: {} workers (1 busy) gone {:.0?} after their parent was killed",
        workers.len(),
        killed.elapsed()
    );
}

/// A worker whose parent died before the worker could ask to die with it
/// is reparented; it must notice and exit before doing anything, instead of
/// living on with no parent-death signal to stop it. Simulated by naming a
/// parent that is not the one that spawned it.
#[test]
fn a_worker_whose_parent_is_already_gone_exits_before_connecting() {
    // A transport this build links, or the worker refuses to start (121).
    let transport = if cfg!(feature = "pipe") {
        "pipe"
    } else {
        "ipc"
    };
    let worker = |parent: u32| {
        Command::new(std::env::current_exe().unwrap())
            .env("PROCS_WORKER", transport)
            .env("PROCS_PARENT_PID", parent.to_string())
            .stdin(Stdio::null())
            .status()
            .expect("the worker starts")
    };
    // procs' exit codes (procs-core/src/wire/env.rs): 123 gave up on a vanished parent, 122
    // could not connect (this test passes no endpoint).
    let orphaned = worker(std::os::unix::process::parent_id());
    assert_eq!(orphaned.code(), Some(123), "{orphaned}");
    let spawned_by_us = worker(std::process::id());
    assert_eq!(spawned_by_us.code(), Some(122), "{spawned_by_us}");
}
