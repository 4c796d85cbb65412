//! Replay (issue 16, point 5): the error of a failed call runs that call
//! again in the calling process, with the arguments the worker got.

use std::panic::{AssertUnwindSafe, catch_unwind};

use procs::{Error, Payload, Pool, proc, remote};

#[remote]
fn refuses(x: u32) -> u32 {
    panic!("refusing {x}")
}

/// Crashes in any process but the test's, and returns what a worker would.
#[remote]
fn only_at_home(home: u32, bytes: Vec<u8>, scale: u64) -> u64 {
    if std::process::id() != home {
        std::process::abort();
    }
    bytes.iter().map(|&b| u64::from(b)).sum::<u64>() * scale
}

fn pool() -> Pool {
    Pool::builder().workers(2).build().expect("pool starts")
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn a_replayed_call_panics_here_as_it_did_in_the_worker() {
    let pool = pool();
    // Alone (the calling thread may run it on an idle worker) and in a
    // batch (through a slot): both record the call.
    let alone = pool.call(proc!(refuses(7))).unwrap_err();
    let batch: Vec<_> = pool.pmap(refuses, [8, 9]).collect();
    for (err, x) in [(alone, 7)]
        .into_iter()
        .chain(batch.into_iter().map(Result::unwrap_err).zip([8, 9]))
    {
        let Error::Panicked { panic, .. } = &err else {
            panic!("not a panic: {err:?}");
        };
        assert_eq!(panic.message, format!("refusing {x}"));
        let payload = catch_unwind(AssertUnwindSafe(|| err.replay::<u32>()))
            .expect_err("the replay panics in this process");
        assert_eq!(panic_message(payload), format!("refusing {x}"));
    }
}

#[test]
fn a_replayed_call_returns_what_the_worker_would_have() {
    let pool = pool();
    let home = std::process::id();
    // Large enough to travel as a detached buffer.
    let bytes = vec![3u8; 200_000];
    let expected = 3 * 200_000 * 5;
    let err = pool
        .call(proc!(only_at_home(home, bytes.clone(), 5)))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    assert_eq!(err.replay::<u64>().expect("replays"), expected);
    // Replay does not use the error up.
    assert_eq!(err.replay::<u64>().expect("replays again"), expected);

    // A poisoned call replays too.
    let retrying = Pool::builder().workers(2).retries(1).build().unwrap();
    let items = (0..3u64).map(|scale| (home, vec![1u8; 10], scale));
    let results: Vec<_> = retrying.pmap(only_at_home, items).collect();
    for (scale, result) in results.into_iter().enumerate() {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
        assert_eq!(err.replay::<u64>().unwrap(), 10 * scale as u64);
    }

    // The wrong return type is a decode error, not garbage.
    let err = err.replay::<String>().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decode {
                payload: Payload::Result,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_error_without_a_call_is_not_replayable() {
    let err = Error::PoolClosed.replay::<u32>().unwrap_err();
    assert!(matches!(err, Error::NotReplayable), "{err:?}");
    assert_eq!(err.to_string(), "this error carries no call to replay");
}
