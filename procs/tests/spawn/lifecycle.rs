//! Results as handles: dropped, outliving their pool, consumed lazily; recycling, initializers and shutdown.

use super::*;

#[test]
fn dropping_results_half_way_leaves_the_pool_usable() {
    let pool = pool(2);
    let mut results = pool.pmap(sleep_then_echo, (0..200).map(|i| (i, 2)));
    for want in 0..10 {
        assert_eq!(results.next().unwrap().unwrap(), want);
    }
    drop(results);

    let got: Vec<u64> = pool.pmap(square, 0..50).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..50).map(|x| x * x).collect::<Vec<_>>());

    // Dropped before taking anything, then used again.
    drop(pool.pmap(square, 0..1000));
    assert_eq!(pool.call(proc!(add(20, 22))).unwrap(), 42);
}
#[test]
fn endless_input_is_consumed_with_bounded_look_ahead() {
    const WINDOW: usize = 4;
    let pool = Pool::builder().workers(2).window(WINDOW).build().unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let input = (0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let mut results = pool.pmap(square, input);
    for taken in 1..=30u64 {
        assert_eq!(results.next().unwrap().unwrap(), (taken - 1) * (taken - 1));
        let pulled = pulled.load(Ordering::Relaxed);
        assert!(
            pulled <= taken as usize + WINDOW,
            "pulled {pulled} items after taking {taken} with a window of {WINDOW}"
        );
    }
    drop(results);
    assert_eq!(pool.call(proc!(add(1, 2))).unwrap(), 3);
}
#[test]
fn results_size_hint_counts_down() {
    let pool = pool(2);
    let mut results = pool.pmap(square, 0..40);
    assert_eq!(results.size_hint(), (40, Some(40)));
    for left in (0..40).rev() {
        results.next().unwrap().unwrap();
        assert_eq!(results.size_hint(), (left, Some(left)));
    }
    assert!(results.next().is_none());
    assert!(
        results.next().is_none(),
        "a finished iterator stays finished"
    );
}
#[test]
fn results_outlive_the_pool_handle() {
    let pool = pool(2);
    let results = pool.pmap(square, 0..30);
    drop(pool);
    let got: Vec<u64> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..30).map(|x| x * x).collect::<Vec<_>>());
}
#[test]
fn dropping_results_kills_in_flight_work() {
    let path = std::env::temp_dir().join(format!("procs-spawn-in-flight-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let arg = path.to_str().expect("a UTF-8 temp dir").to_owned();
    let pool = pool(1);
    // The first item returns at once; the second then runs for a long time
    // and is the only one to write the pid file.
    let mut results = pool.pmap(report_pid_then_sleep, [(String::new(), 0), (arg, 15)]);
    let first_pid = results.next().unwrap().unwrap();
    let pid = poll(|| std::fs::read_to_string(&path).ok()?.parse::<u32>().ok())
        .expect("the long task started");
    assert_eq!(pid, first_pid, "one worker runs both tasks");
    let _ = std::fs::remove_file(&path);

    drop(results);
    // The worker running the abandoned task is killed and reaped.
    let gone = poll(|| (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(()));
    assert!(gone.is_some(), "worker {pid} still runs the abandoned task");
    assert_eq!(pool.call(proc!(add(1, 2))).unwrap(), 3);
}
#[test]
fn workers_are_recycled_after_max_tasks() {
    let pool = Pool::builder()
        .workers(1)
        .max_tasks_per_worker(3)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..12)
        .map(|_| pool.call(proc!(worker_pid())).unwrap())
        .collect();
    for (n, chunk) in pids.chunks(3).enumerate() {
        assert!(
            chunk.iter().all(|&p| p == chunk[0]),
            "worker {n} ran {chunk:?}"
        );
    }
    let mut distinct = pids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{pids:?}");
    assert!(!distinct.contains(&std::process::id()));
}
#[test]
fn initializer_runs_once_in_every_new_worker() {
    let pool = Pool::builder()
        .workers(1)
        .max_tasks_per_worker(2)
        .initializer(proc!(warm_up(7)))
        .build()
        .unwrap();
    let states: Vec<(u64, u64, u32)> = pool
        .call((0..6).map(|_| proc!(init_state())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        states.iter().all(|&(runs, tag, _)| (runs, tag) == (1, 7)),
        "{states:?}"
    );
    let mut pids: Vec<u32> = states.iter().map(|s| s.2).collect();
    pids.dedup();
    assert_eq!(pids.len(), 3, "{states:?}");
    // The parent never runs the initializer.
    assert_eq!(INIT_RUNS.load(Ordering::SeqCst), 0);
}
#[test]
fn shutdown_finishes_submitted_calls_then_refuses_new_ones() {
    let pool = Pool::builder().workers(2).window(32).build().unwrap();
    let pid = pool.call(proc!(worker_pid())).unwrap();
    let mut results = pool.pmap(sleep_then_echo, (0..20).map(|i| (i, 5)));
    // The first `next` submits the whole window.
    assert_eq!(results.next().unwrap().unwrap(), 0);
    pool.shutdown();
    let rest: Vec<u32> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(rest, (1..20).collect::<Vec<_>>());

    assert!(
        poll(|| (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())).is_some(),
        "worker {pid} outlived shutdown"
    );
    assert!(matches!(
        pool.call(proc!(add(1, 2))),
        Err(Error::PoolClosed)
    ));
    let after: Vec<_> = pool.pmap(square, 0..3).collect();
    assert_eq!(after.len(), 3);
    assert!(
        after.iter().all(|r| matches!(r, Err(Error::PoolClosed))),
        "{after:?}"
    );
    pool.shutdown(); // idempotent
}
