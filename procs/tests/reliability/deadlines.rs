//! Deadlines: a task past its own or the pool's deadline is killed, alone.

use super::*;

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
        Error::Timeout { id, timeout, .. } => {
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
        Err(Error::Timeout { id, timeout, .. }) => {
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
