//! Recycling and initializers: workers replaced after their task limit, initializers run once per worker.

use super::*;

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
                    Error::Panicked { id, panic, .. } => {
                        assert_eq!(id, "reliability::init_logs_then_panics");
                        assert_eq!(panic.message, "initializer refuses");
                        let location = panic.location.as_ref().expect("a location");
                        assert_eq!(
                            (location.file.as_str(), location.line),
                            (REMOTES_FILE, INIT_PANIC_LINE)
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
                        && source.contains(&format!("{}:{INIT_PANIC_LINE}", REMOTES_FILE)),
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
    // `chunk_size(1)` nothing runs twice, deadline or not (calls with a
    // deadline batch like others: `timed_batches.rs`).
    let clean = Clean::start();
    let dir = TempDir::new("at-most-once");
    let aborting = vec![150, 400, 401, 990];
    for name in ["chunk_size(1)", "chunk_size(1) and timeout"] {
        let builder = match name {
            "chunk_size(1)" => Pool::builder().chunk_size(1),
            _ => Pool::builder()
                .chunk_size(1)
                .timeout(Duration::from_secs(60)),
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
