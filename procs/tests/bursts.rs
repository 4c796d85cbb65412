//! A stream of short calls sent one per message (`chunk_size(1)`) runs in
//! *bursts* once the pool knows its calls are short: the calling thread
//! sends the requests to idle workers and reads their answers itself, with
//! no slot thread in between. Each call still travels alone, so a worker's
//! death fails only the call it was running: the calls behind it in its
//! pipe never started and run on another worker, and none runs twice.
//!
//! A caller that retires a worker it borrowed tells the worker's slot,
//! which starts a replacement without waiting for a job: the rest of a
//! stream, running on lent workers, never sends that slot one.
//!
//! Every call of the failure test records its run by creating a file of its
//! own with `create_new`, which fails on a second run: an execution count
//! that lives outside the workers.

mod support;

use support::{TempDir, wait_for};

use std::path::Path;
use std::time::Duration;

use procs::{Error, Pool, proc, remote};

#[remote]
fn inc(x: u64) -> u64 {
    x + 1
}

/// Records this run of call `i` in `dir`, refusing a second run, then
/// returns `i`, or ends the worker with status 7 when `die` says so.
#[remote]
fn record_or_die(dir: String, i: u32, die: bool) -> u32 {
    let path = Path::new(&dir).join(i.to_string());
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("call {i} ran twice: {error}"));
    if die {
        std::process::exit(7);
    }
    i
}

fn one_per_message() -> Pool {
    Pool::builder()
        .workers(2)
        .chunk_size(1)
        .build()
        .expect("pool starts")
}

#[test]
fn short_calls_one_per_message_come_back_in_order_and_counted() {
    let pool = one_per_message();
    let mut calls = 0;
    for n in [1u64, 7, 1000, 20_000] {
        let got: Vec<u64> = pool
            .pmap(inc, 0..n)
            .collect::<Result<_, _>>()
            .expect("every call succeeds");
        assert_eq!(got, (1..=n).collect::<Vec<_>>());
        calls += n;
    }
    let mut unordered: Vec<(usize, u64)> = pool
        .pmap_unordered(inc, 0..5000u64)
        .map(|(index, result)| (index, result.expect("the call succeeds")))
        .collect();
    unordered.sort_unstable();
    assert_eq!(
        unordered,
        (0..5000).map(|i| (i as usize, i + 1)).collect::<Vec<_>>()
    );
    calls += 5000;
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.running), (0, 0), "{stats:?}");
    assert_eq!(stats.succeeded, calls, "{stats:?}");
    assert_eq!(stats.failed.total(), 0, "{stats:?}");
}

#[test]
fn a_stream_abandoned_between_bursts_leaves_the_pool_usable() {
    let pool = one_per_message();
    for taken in [0, 1, 100, 3000] {
        let mut results = pool.pmap(inc, 0..10_000u64);
        for i in 0..taken {
            assert_eq!(results.next().map(Result::ok), Some(Some(i + 1)));
        }
    }
    let sum: u64 = pool
        .pmap(inc, 0..1000u64)
        .sum::<Result<u64, Error>>()
        .expect("every call succeeds");
    assert_eq!(sum, 1000 * 1001 / 2);
}

#[test]
fn a_worker_dying_in_a_burst_fails_only_its_call_and_none_runs_twice() {
    let dir = TempDir::new("bursts-deaths");
    let pool = one_per_message();
    // Well after the stream has learned that its calls are short; two
    // deaths in a row (the second on the replacement, or on the other
    // worker), and one alone.
    let deaths = [3000, 3001, 7777];
    let path = dir.0.display().to_string();
    let args = (0..10_000u32).map(|i| (path.clone(), i, deaths.contains(&i)));
    let results: Vec<Result<u32, Error>> = pool.pmap(record_or_die, args).collect();
    assert_eq!(results.len(), 10_000);
    for (i, result) in (0..).zip(&results) {
        if deaths.contains(&i) {
            assert!(
                matches!(result, Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(7)),
                "call {i}: {result:?}"
            );
        } else {
            assert_eq!(result.as_ref().ok(), Some(&i), "call {i}: {result:?}");
        }
        assert!(dir.0.join(i.to_string()).exists(), "call {i} never ran");
    }
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.running), (0, 0), "{stats:?}");
    assert_eq!(stats.failed.died, 3, "{stats:?}");
    assert_eq!(stats.succeeded, 10_000 - 3, "{stats:?}");
    // The last death's replacement may still be starting.
    assert_back_to_full_size(&pool, 3);
}

/// Returns `i`, or ends the worker with status 7 if `i` is `last`.
#[remote]
fn exit_at(i: u32, last: u32) -> u32 {
    if i == last {
        std::process::exit(7);
    }
    i
}

#[test]
fn a_worker_dying_in_a_bursts_last_call_is_replaced_after_the_stream() {
    let pool = one_per_message();
    // Short calls, so the stream runs in bursts by its end; nothing runs
    // after the last call, so no job goes to its worker's slot.
    let last = 20_000;
    let results: Vec<Result<u32, Error>> =
        pool.pmap(exit_at, (0..=last).map(|i| (i, last))).collect();
    assert!(results[..last as usize].iter().all(Result::is_ok));
    assert!(
        matches!(&results[last as usize], Err(Error::WorkerDied { .. })),
        "{:?}",
        results[last as usize]
    );
    assert_back_to_full_size(&pool, 1);
}

#[test]
fn a_worker_dying_in_a_callers_hands_is_replaced_without_another_call() {
    let dir = TempDir::new("bursts-replaced");
    let pool = one_per_message();
    let path = dir.0.display().to_string();
    // Idle for a while after a first call, the slots lend their workers,
    // and the call runs on the calling thread (under heavy load it may
    // still go through a slot; either way nothing else is sent that would
    // need a worker).
    assert_eq!(pool.call(proc!(inc(1))).expect("inc runs"), 2);
    std::thread::sleep(Duration::from_millis(100));
    let died = pool.call(proc!(record_or_die(path, 0, true)));
    assert!(
        matches!(died, Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(7)),
        "{died:?}"
    );
    assert_back_to_full_size(&pool, 1);
}

/// Waits for `pool`'s two workers to be alive again after `replaced`
/// deaths, and fails if they do not come back.
fn assert_back_to_full_size(pool: &Pool, replaced: u64) {
    let full = wait_for(Duration::from_secs(60), || {
        let stats = pool.stats();
        stats.workers_alive == 2 && stats.workers_replaced >= replaced
    });
    let stats = pool.stats();
    assert!(full, "{stats:?}");
    assert_eq!(stats.workers_replaced, replaced, "{stats:?}");
}

/// Creates `dir/started`, then waits up to two minutes for `dir/stop`;
/// whether it came.
#[remote]
fn wait_for_stop(dir: String) -> bool {
    let dir = Path::new(&dir);
    std::fs::write(dir.join("started"), "").expect("the marker is written");
    wait_for(Duration::from_secs(120), || dir.join("stop").exists())
}

#[test]
fn a_long_call_on_a_lent_worker_holds_up_no_queued_call() {
    let dir = TempDir::new("bursts-held");
    let pool = one_per_message();
    assert_eq!(pool.call(proc!(inc(1))).expect("inc runs"), 2);
    std::thread::sleep(Duration::from_millis(100));
    let path = dir.0.display().to_string();
    std::thread::scope(|s| {
        // On a lent worker, from this thread: its slot waits for jobs
        // meanwhile, and must not keep one it cannot run.
        let long = s.spawn(|| pool.call(proc!(wait_for_stop(path))));
        assert!(wait_for(Duration::from_secs(60), || dir
            .0
            .join("started")
            .exists()));
        // A deadline keeps these off the direct path: through the queue,
        // to either slot.
        for x in 0..20u64 {
            let call = proc!(inc(x)).timeout(Duration::from_secs(600));
            assert_eq!(pool.call(call).expect("inc runs"), x + 1);
        }
        std::fs::write(dir.0.join("stop"), "").expect("the marker is written");
        let stopped = long.join().expect("no panic").expect("the call runs");
        assert!(stopped, "the queued calls waited for the long one");
    });
}
