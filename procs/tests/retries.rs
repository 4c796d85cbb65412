//! Retries (issue 16, points 1 and 2): a call whose worker dies or that
//! times out runs again, up to its retries, on a fresh worker; one that
//! brings down a worker on every attempt is poisoned; panics are retried
//! only when asked; a cancelled call is not retried. Every execution is
//! counted by a line it appends to a file, outside the worker.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use procs::{Error, Pool, proc, remote};
use support::{TempDir, wait_for};

/// How the attempts of a call go, by their number (1-based): each variant
/// fails the first attempts (`Hang`: the first) and then returns.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
enum Plan {
    /// Abort on the first `n` attempts, then return.
    Abort(u32),
    /// Panic on the first `n` attempts, then return.
    Panic(u32),
    /// Sleep far past any deadline on the first attempt, then return.
    Hang,
    /// Sleep far past any deadline on every attempt.
    AlwaysHang,
}

/// Appends this worker's pid to `log` and returns the attempt's number.
fn count(log: &Path) -> u32 {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log opens");
    writeln!(file, "{}", std::process::id()).expect("the log is written");
    runs(log).len() as u32
}

/// The pids of the workers that ran the call, one per attempt.
fn runs(log: &Path) -> Vec<u32> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().expect("a pid"))
        .collect()
}

#[remote]
fn attempt(log: PathBuf, plan: Plan) -> u32 {
    let n = count(&log);
    match plan {
        Plan::Abort(k) if n <= k => std::process::abort(),
        Plan::Panic(k) if n <= k => panic!("attempt {n} panics"),
        Plan::Hang if n == 1 => std::thread::sleep(Duration::from_secs(300)),
        Plan::AlwaysHang => std::thread::sleep(Duration::from_secs(300)),
        _ => {}
    }
    std::process::id()
}

fn pool(retries: u32) -> Pool {
    Pool::builder()
        .workers(2)
        .retries(retries)
        .build()
        .expect("pool starts")
}

#[test]
fn a_call_whose_worker_died_runs_again_on_a_fresh_worker() {
    let dir = TempDir::new("retry-fresh");
    let log = dir.0.join("a");
    let pool = pool(2);
    let pid = pool
        .call(proc!(attempt(log.clone(), Plan::Abort(1))))
        .expect("the second attempt succeeds");
    let pids = runs(&log);
    assert_eq!(pids.len(), 2, "ran twice: {pids:?}");
    assert_eq!(pids[1], pid);
    assert_ne!(pids[0], pids[1], "the retry runs on another worker");

    // Twice transient, within two retries, in a batch of good calls.
    let logs: Vec<PathBuf> = (0..20).map(|i| dir.0.join(format!("b{i}"))).collect();
    let plans = logs.iter().enumerate().map(|(i, log)| {
        let plan = if i % 5 == 2 {
            Plan::Abort(2)
        } else {
            Plan::Abort(0)
        };
        (log.clone(), plan)
    });
    let results: Vec<_> = pool.pmap(attempt, plans).collect();
    for (i, (result, log)) in results.iter().zip(&logs).enumerate() {
        assert!(result.is_ok(), "call {i}: {result:?}");
        let expected = if i % 5 == 2 { 3 } else { 1 };
        assert_eq!(runs(log).len(), expected, "call {i}");
    }
}

#[test]
fn without_retries_a_call_runs_once() {
    let dir = TempDir::new("retry-none");
    let log = dir.0.join("a");
    let err = pool(0)
        .call(proc!(attempt(log.clone(), Plan::Abort(1))))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    assert_eq!(err.attempts(), 1);
    assert!(!err.to_string().contains("attempts"), "{err}");
    assert_eq!(runs(&log).len(), 1);
}

#[test]
fn a_call_that_always_crashes_is_poisoned_after_n_plus_one_runs() {
    let dir = TempDir::new("retry-poison");
    let pool = pool(2);
    let logs: Vec<PathBuf> = (0..6).map(|i| dir.0.join(format!("{i}"))).collect();
    // The poison call among good ones: the rest of the map goes on.
    let plans = logs.iter().enumerate().map(|(i, log)| {
        let plan = Plan::Abort(if i == 3 { u32::MAX } else { 0 });
        (log.clone(), plan)
    });
    let mut results: Vec<_> = pool.pmap(attempt, plans).collect();
    let err = results.remove(3).unwrap_err();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(runs(&logs[3]).len(), 3, "exactly n + 1 executions");

    let Error::Poisoned {
        id, attempts, last, ..
    } = &err
    else {
        panic!("not poisoned: {err:?}");
    };
    assert_eq!(id, "retries::attempt");
    assert_eq!(*attempts, 3);
    assert_eq!(err.attempts(), 3);
    assert!(matches!(**last, Error::WorkerDied { .. }), "{last:?}");
    let earlier = err.context().expect("a context").earlier_attempts();
    assert_eq!(earlier.len(), 2);
    assert!(
        earlier
            .iter()
            .all(|e| matches!(e, Error::WorkerDied { .. })),
        "{earlier:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("brought down its worker on every attempt")
            && message.contains("after 3 attempts"),
        "{message}"
    );
    let source = std::error::Error::source(&err).expect("the last error");
    assert!(source.to_string().starts_with("worker died"), "{source}");
}

#[test]
fn timeouts_are_retried() {
    let dir = TempDir::new("retry-timeout");
    let log = dir.0.join("a");
    let pid = pool(1)
        .call(proc!(attempt(log.clone(), Plan::Hang)).timeout(Duration::from_secs(2)))
        .expect("the second attempt is quick");
    assert_eq!(runs(&log).len(), 2);
    assert_eq!(runs(&log)[1], pid);
}

#[test]
fn a_call_that_always_overruns_is_poisoned_after_n_plus_one_runs() {
    // The worker reports the overrun (the deadline is timed inside it):
    // the attempts so far must survive that path too, or the call would
    // run again forever.
    let dir = TempDir::new("retry-overrun");
    let log = dir.0.join("a");
    let err = pool(2)
        .call(proc!(attempt(log.clone(), Plan::AlwaysHang)).timeout(Duration::from_millis(200)))
        .expect_err("every attempt overruns");
    assert!(
        matches!(&err, Error::Poisoned { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(runs(&log).len(), 3);
}

#[test]
fn panics_are_retried_only_when_asked() {
    let dir = TempDir::new("retry-panics");
    let log = dir.0.join("default");
    let err = pool(2)
        .call(proc!(attempt(log.clone(), Plan::Panic(1))))
        .unwrap_err();
    assert!(matches!(err, Error::Panicked { .. }), "{err:?}");
    assert_eq!(err.attempts(), 1);
    assert_eq!(runs(&log).len(), 1, "a panic is not retried by default");

    let panics = Pool::builder()
        .workers(2)
        .retries(2)
        .retry_panics(true)
        .build()
        .expect("pool starts");
    let log = dir.0.join("opted-in");
    panics
        .call(proc!(attempt(log.clone(), Plan::Panic(1))))
        .expect("the second attempt succeeds");
    assert_eq!(runs(&log).len(), 2);
    // A panic leaves the worker alive: the retry may run on the same one.

    // A call that keeps panicking reports every attempt, and is no poison.
    let log = dir.0.join("always");
    let err = panics
        .call(proc!(attempt(log.clone(), Plan::Panic(u32::MAX))))
        .unwrap_err();
    assert_eq!(runs(&log).len(), 3);
    let Error::Panicked { panic, .. } = &err else {
        panic!("not a panic: {err:?}");
    };
    assert_eq!(panic.message, "attempt 3 panics");
    assert_eq!(err.attempts(), 3);
    let earlier = err.context().expect("a context").earlier_attempts();
    assert!(
        matches!(&earlier[0], Error::Panicked { panic, .. } if panic.message == "attempt 1 panics"),
        "{earlier:?}"
    );
    assert!(err.to_string().ends_with(" (after 3 attempts)"), "{err}");

    // Per proc too.
    let log = dir.0.join("per-proc");
    pool(2)
        .call(proc!(attempt(log.clone(), Plan::Panic(1))).retry_panics(true))
        .expect("retried");
    assert_eq!(runs(&log).len(), 2);
}

#[test]
fn a_procs_retries_override_the_pools() {
    let dir = TempDir::new("retry-override");
    let log = dir.0.join("more");
    pool(0)
        .call(proc!(attempt(log.clone(), Plan::Abort(1))).retries(1))
        .expect("retried per proc");
    assert_eq!(runs(&log).len(), 2);

    let log = dir.0.join("fewer");
    let err = pool(3)
        .call(proc!(attempt(log.clone(), Plan::Abort(1))).retries(0))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    assert_eq!(runs(&log).len(), 1);
}

#[test]
fn a_cancelled_call_is_not_retried() {
    let dir = TempDir::new("retry-cancel");
    let log = dir.0.join("a");
    let pool = pool(1_000_000);
    let quick = proc!(attempt(dir.0.join("quick"), Plan::Abort(0)));
    let crashing = proc!(attempt(log.clone(), Plan::Abort(u32::MAX)));
    let mut results = pool.call([quick, crashing]);
    // Taking the first result submits both calls.
    results
        .next()
        .expect("one")
        .expect("the quick call succeeds");
    // Retrying, over and over, until the caller goes away.
    assert!(
        wait_for(Duration::from_secs(60), || runs(&log).len() >= 3),
        "retries never started"
    );
    drop(results);
    // At most the attempt under way when the call was dropped runs yet.
    let dropped_at = runs(&log).len();
    std::thread::sleep(Duration::from_secs(2));
    // The pool still serves meanwhile, and the call ran no more.
    let other = dir.0.join("other");
    pool.call(proc!(attempt(other, Plan::Abort(0))))
        .expect("the pool serves");
    let after = runs(&log).len();
    assert!(
        after <= dropped_at + 1,
        "{dropped_at} runs when dropped, {after} after"
    );
}
