//! Timeouts inside batches (issue 14, point 2): calls with a deadline travel
//! in batches like others, and each is still held to its own deadline, from
//! when it starts. A call that overruns yields `Timeout` at its position; the
//! batch-mates that finished yield their results; those that never started
//! run on another worker; nobody runs twice.
//!
//! Every call records its run by creating a file of its own with
//! `create_new`, which fails on a second run: an execution count that lives
//! outside the workers. Tests take turns (they count children) and never use
//! the global pool. No test asserts a duration; the deadlines are generous
//! against the calls that must meet them.

mod support;

use support::{TempDir, children, wait_for};

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use procs::{Error, Pool, proc, remote};

/// Longer than any test: the sleep of a call that must overrun.
const OVERSLEEP_MS: u64 = 60_000;

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the test's turn, once the children of a previous test are reaped.
fn turn() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        wait_for(Duration::from_secs(10), || children().is_empty()),
        "children before the test: {:?}",
        children()
    );
    guard
}

/// `run_once`'s sleep that stops the worker instead, watchdog thread
/// included, as a debugger would.
const STOP: u64 = u64::MAX;

/// Records this run of call `i` in `dir` (refusing a second run), sleeps
/// `ms` (or stops, for [`STOP`]), and returns the worker's pid.
#[remote]
fn run_once(dir: String, i: u32, ms: u64) -> u32 {
    let me = std::process::id();
    let path = Path::new(&dir).join(i.to_string());
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("call {i} ran twice: {error}"));
    std::io::Write::write_all(&mut file, me.to_string().as_bytes()).expect("write the pid");
    drop(file);
    if ms == STOP {
        // SAFETY: raise(3) has no memory effects.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    std::thread::sleep(Duration::from_millis(ms));
    me
}

/// The pid call `i` recorded, if it ran.
fn ran_on(dir: &TempDir, i: u32) -> Option<u32> {
    let text = std::fs::read_to_string(dir.0.join(i.to_string())).ok()?;
    Some(text.parse().expect("a pid"))
}

fn args(dir: &TempDir, i: u32, late: u32) -> (String, u32, u64) {
    let ms = if i == late { OVERSLEEP_MS } else { 0 };
    (dir.0.display().to_string(), i, ms)
}

/// Checks the outcome of 8 calls in batches of 4 where call `late`
/// overran `timeout`.
fn check_overrun(dir: &TempDir, results: &[Result<u32, Error>], late: u32, timeout: Duration) {
    assert_eq!(results.len(), 8);
    let killed = ran_on(dir, late).expect("the late call started");
    let batch = late / 4 * 4..late / 4 * 4 + 4;
    for (i, result) in (0..).zip(results) {
        match result {
            Err(Error::Timeout { timeout: t, .. }) if i == late => assert_eq!(*t, timeout),
            Ok(pid) if batch.contains(&i) && i < late => {
                // A batch-mate that finished before it, on the same worker:
                // its answer came with the overrun report.
                assert_eq!(*pid, killed, "call {i} ran in the late call's batch");
            }
            Ok(pid) if batch.contains(&i) => {
                // Never started there: queued again, run on another worker.
                assert_ne!(*pid, killed, "call {i} ran after the overrun");
            }
            Ok(_) => {}
            other => panic!("call {i}: {other:?}"),
        }
        assert_eq!(
            ran_on(dir, i),
            result.as_ref().ok().copied().or(Some(killed))
        );
    }
    let files = std::fs::read_dir(&dir.0).unwrap().count();
    assert_eq!(files, 8, "every call ran exactly once");
    assert!(
        wait_for(Duration::from_secs(10), || {
            !children().iter().any(|&(pid, _)| pid == killed)
        }),
        "the late call's worker was killed and reaped"
    );
}

/// The pool serves after an overrun, on a replacement worker.
fn still_serves(pool: &Pool, dir: &TempDir) {
    let items = (100..110).map(|i| args(dir, i, u32::MAX));
    let results: Vec<_> = pool.pmap(run_once, items).collect();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// 8 calls in batches of 4 on a pool with a deadline, call `late` overrunning it.
fn pool_deadline_overrun(name: &str, late: u32) {
    let _turn = turn();
    let dir = TempDir::new(name);
    let timeout = Duration::from_millis(1_500);
    let pool = Pool::builder()
        .workers(2)
        .chunk_size(4)
        .timeout(timeout)
        .build()
        .unwrap();
    let results: Vec<_> = pool
        .pmap(run_once, (0..8).map(|i| args(&dir, i, late)))
        .collect();
    check_overrun(&dir, &results, late, timeout);
    still_serves(&pool, &dir);
    drop(pool);
    assert_eq!(children(), [], "children left behind");
}

#[test]
fn a_pool_deadline_inside_a_batch_times_out_only_its_call() {
    pool_deadline_overrun("timed-batch-pool", 2);
}

#[test]
fn a_deadline_on_the_first_call_of_a_batch_times_out_only_that_call() {
    // The first call of the second batch: nothing of its batch is answered
    // when the worker reports the overrun.
    pool_deadline_overrun("timed-batch-first", 4);
}

#[test]
fn a_proc_deadline_inside_a_batch_times_out_only_its_call() {
    let _turn = turn();
    let dir = TempDir::new("timed-batch-proc");
    let timeout = Duration::from_millis(1_500);
    let pool = Pool::builder().workers(2).chunk_size(4).build().unwrap();
    let late = 1;
    let procs = (0..8).map(|i| {
        let (dir, i, ms) = args(&dir, i, late);
        proc!(run_once(dir, i, ms)).timeout(timeout)
    });
    let results: Vec<_> = pool.call(procs).collect();
    check_overrun(&dir, &results, late, timeout);
    still_serves(&pool, &dir);
    drop(pool);
    assert_eq!(children(), [], "children left behind");
}

/// `run_once` with a result large enough to travel as a message of its own.
#[remote]
fn bytes_once(dir: String, i: u32, ms: u64) -> Vec<u8> {
    run_once(dir, i, ms);
    vec![i as u8; 100_000]
}

#[test]
fn finished_batch_mates_keep_their_large_results() {
    let _turn = turn();
    let dir = TempDir::new("timed-batch-large");
    let timeout = Duration::from_millis(1_500);
    let pool = Pool::builder()
        .workers(1)
        .chunk_size(4)
        .timeout(timeout)
        .build()
        .unwrap();
    let late = 2;
    let results: Vec<_> = pool
        .pmap(bytes_once, (0..4).map(|i| args(&dir, i, late)))
        .collect();
    for (i, result) in (0..).zip(&results) {
        match result {
            Err(Error::Timeout { .. }) if i == late => {}
            Ok(bytes) => assert_eq!(*bytes, vec![i as u8; 100_000], "call {i}"),
            other => panic!("call {i}: {other:?}"),
        }
    }
    let killed = ran_on(&dir, late).expect("the late call started");
    assert_eq!(
        ran_on(&dir, 0),
        Some(killed),
        "call 0 ran in the late call's batch"
    );
    assert_ne!(
        ran_on(&dir, 3),
        Some(killed),
        "call 3 ran after the overrun"
    );
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        4,
        "every call ran once"
    );
    drop(pool);
    assert_eq!(children(), [], "children left behind");
}

#[test]
fn each_call_of_a_batch_has_its_own_deadline_and_batch_mates_share_a_worker() {
    let _turn = turn();
    let dir = TempDir::new("timed-batch-each");
    // Four calls of 800 ms in one batch: together past the deadline, each
    // well within it.
    let timeout = Duration::from_secs(2);
    let pool = Pool::builder()
        .workers(2)
        .chunk_size(4)
        .timeout(timeout)
        .build()
        .unwrap();
    let path = dir.0.display().to_string();
    let results: Vec<u32> = pool
        .pmap(run_once, (0..8).map(|i| (path.clone(), i, 800)))
        .collect::<Result<_, _>>()
        .expect("every call met its own deadline");
    // Batched: each batch ran on one worker (alone, calls 0 and 1 would
    // have started at once on the two workers).
    assert!(
        results[..4].iter().all(|&pid| pid == results[0]),
        "{results:?}"
    );
    assert!(
        results[4..].iter().all(|&pid| pid == results[4]),
        "{results:?}"
    );
    drop(pool);
    assert_eq!(children(), [], "children left behind");
}

#[test]
fn a_worker_that_cannot_report_fails_its_batch_and_runs_nothing_twice() {
    let _turn = turn();
    let dir = TempDir::new("timed-batch-stopped");
    let timeout = Duration::from_millis(300);
    let pool = Pool::builder()
        .workers(1)
        .chunk_size(3)
        .timeout(timeout)
        .build()
        .unwrap();
    let path = dir.0.display().to_string();
    let items = (0..3).map(|i| (path.clone(), i, if i == 1 { STOP } else { 0 }));
    let results: Vec<_> = pool.pmap(run_once, items).collect();
    // The parent's backstop killed the stopped worker: it cannot tell which
    // calls ran, so all fail rather than run again.
    for (i, result) in results.iter().enumerate() {
        assert!(
            matches!(result, Err(Error::Timeout { timeout: t, .. }) if *t == timeout),
            "call {i}: {result:?}"
        );
    }
    assert!(ran_on(&dir, 0).is_some() && ran_on(&dir, 1).is_some());
    assert_eq!(ran_on(&dir, 2), None, "call 2 never started");
    still_serves(&pool, &dir);
    drop(pool);
    assert_eq!(children(), [], "children left behind");
}
