//! Cancellation, shutdown and kill: nothing runs for a caller that left, and no worker outlives its pool.

use super::*;

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
