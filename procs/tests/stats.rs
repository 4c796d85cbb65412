//! `Pool::stats` counts a known mix of successes and failures exactly: each
//! call once, under its outcome, with the workers that died replaced.

use std::time::Duration;

use procs::{Pool, proc, remote};

#[remote]
fn fate(i: u32) -> u32 {
    match i % 10 {
        3 => panic!("call {i} panics"),
        7 if i < 20 => std::process::abort(),
        _ => i,
    }
}

#[remote]
fn sleeps(millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

#[test]
fn counts_a_known_mix_of_outcomes() {
    // One worker: each death is followed by a replacement, since calls
    // remain (with more, a slot whose worker died last starts the next one
    // only when it has a call for it). Calls travel alone: a batch that
    // kills its worker is run again call by call, which costs a second
    // worker.
    let pool = Pool::builder()
        .workers(1)
        .chunk_size(1)
        .build()
        .expect("pool starts");
    let fresh = pool.stats();
    assert_eq!((fresh.queued, fresh.running, fresh.done()), (0, 0, 0));

    // 0..30: 3, 13, 23 panic; 7 and 17 abort their worker; 25 succeed.
    let results: Vec<_> = pool.pmap(fate, 0..30).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 25);
    // One deadline, well past by the time the call would return.
    let late = pool.call(proc!(sleeps(60_000)).timeout(Duration::from_millis(300)));
    assert!(
        matches!(late, Err(procs::Error::Timeout { .. })),
        "{late:?}"
    );
    // Also counted: a call that waits for the killed worker's replacement.
    assert_eq!(pool.call(proc!(sleeps(1))).expect("sleeps"), 1);

    let stats = pool.stats();
    assert_eq!(stats.succeeded, 26, "{stats:#?}");
    assert_eq!(stats.failed.panicked, 3, "{stats:#?}");
    assert_eq!(stats.failed.died, 2, "{stats:#?}");
    assert_eq!(stats.failed.timed_out, 1, "{stats:#?}");
    assert_eq!(stats.failed.other, 0, "{stats:#?}");
    assert_eq!(stats.cancelled, 0, "{stats:#?}");
    assert_eq!((stats.queued, stats.running), (0, 0), "{stats:#?}");
    assert_eq!(stats.done(), 32, "{stats:#?}");
    // Two aborts and a kill on the deadline each cost a worker.
    assert_eq!(stats.workers_replaced, 3, "{stats:#?}");
    assert_eq!(stats.workers_started, 4, "{stats:#?}");
    assert_eq!(stats.workers_alive, 1, "{stats:#?}");
    assert_eq!(stats.workers.len(), 1, "{stats:#?}");
    for worker in &stats.workers {
        assert!(worker.resident_bytes.is_some_and(|b| b > 0), "{stats:#?}");
    }
}

/// Waits until `path` exists, then removes it.
#[remote]
fn wait_for(path: String) -> bool {
    while std::fs::remove_file(&path).is_err() {
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[test]
fn a_running_call_is_seen_running() {
    let pool = Pool::builder().workers(1).build().expect("pool starts");
    let go = std::env::temp_dir().join(format!("procs-stats-{}", std::process::id()));
    let go = go.to_str().expect("a UTF-8 temp dir").to_owned();
    std::thread::scope(|scope| {
        let call = scope.spawn(|| pool.call(proc!(wait_for(go.clone()))));
        // The call cannot end before the file exists: wait until the worker
        // has it (on the calling thread's direct path, the worker being idle).
        // Bounded (a minute) so that a miscount fails instead of hanging.
        let mut stats = pool.stats();
        for _ in 0..12_000 {
            if stats.running != 0 || call.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            stats = pool.stats();
        }
        // Let the call end whatever was seen, so the scope can.
        std::fs::write(&go, b"").expect("temp dir is writable");
        assert_eq!(
            (stats.queued, stats.running, stats.done()),
            (0, 1, 0),
            "{stats:#?}"
        );
        assert_eq!(stats.workers_alive, 1, "{stats:#?}");
        assert!(call.join().expect("no panic").expect("waits"));
    });
    let stats = pool.stats();
    assert_eq!((stats.running, stats.succeeded), (0, 1), "{stats:#?}");
}

/// Aborts its worker on the first run for `marker` (the marker file does
/// not exist yet), succeeds on the next.
#[remote]
fn dies_once(marker: std::path::PathBuf) -> u32 {
    if std::fs::File::create_new(&marker).is_ok() {
        std::process::abort();
    }
    1
}

#[test]
fn a_retried_call_counts_once_under_its_final_outcome() {
    let dir = std::env::temp_dir().join(format!("procs-stats-retry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pool = Pool::builder()
        .workers(1)
        .retries(1)
        .build()
        .expect("pool starts");
    let markers: Vec<_> = (0..3).map(|i| dir.join(format!("call-{i}"))).collect();
    let results: Vec<_> = pool.pmap(dies_once, markers).collect();
    assert!(
        results.iter().all(|r| r.as_ref().is_ok_and(|&v| v == 1)),
        "{results:?}"
    );

    let stats = pool.stats();
    assert_eq!(stats.succeeded, 3, "{stats:#?}");
    assert_eq!(stats.failed.total(), 0, "{stats:#?}");
    assert_eq!((stats.queued, stats.running), (0, 0), "{stats:#?}");
    assert_eq!(stats.done(), 3, "{stats:#?}");
    std::fs::remove_dir_all(&dir).ok();
}
