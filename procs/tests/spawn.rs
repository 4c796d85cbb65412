//! Real worker processes doing ordinary work: ordering, every form of `call` and `pmap`, large payloads, explicit pools, IDs and misuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use procs::{Error, Pool, Proc, call, pmap, proc, remote};
use serde::{Deserialize, Serialize};

#[remote]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[remote]
fn square(x: u64) -> u64 {
    x * x
}

/// Sleeps `ms` milliseconds, then echoes `index`.
#[remote]
fn sleep_then_echo(index: u32, ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    index
}

#[remote]
fn greet(name: String, times: u8) -> String {
    format!("hello {name}").repeat(times.into())
}

#[remote]
fn bytes_of(n: u8) -> Vec<u8> {
    (0..n).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stats {
    name: String,
    count: u32,
    mean: f64,
    tags: Vec<String>,
}

#[remote]
fn stats(values: Vec<u32>, name: String) -> Stats {
    let count = values.len() as u32;
    let mean = f64::from(values.iter().sum::<u32>()) / f64::from(count.max(1));
    let tags = values.iter().map(|v| format!("v{v}")).collect();
    Stats {
        name,
        count,
        mean,
        tags,
    }
}

#[remote]
fn first_even(values: Vec<i64>) -> Option<i64> {
    values.into_iter().find(|v| v % 2 == 0)
}

#[remote]
fn nothing(_x: u8) {}

#[remote]
fn negate(b: bool) -> bool {
    !b
}

#[remote]
fn swap(pair: (i32, char)) -> (char, i32) {
    (pair.1, pair.0)
}

#[remote]
fn forty_two() -> u64 {
    42
}

/// A cheap, deterministic, non-linear function for checking many results.
#[remote]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8).wrapping_add(seed) ^ ((i >> 16) as u8)
        })
        .collect()
}

/// Reverses `data` and adds one to every byte.
#[remote]
fn transform(data: Vec<u8>) -> Vec<u8> {
    data.iter().rev().map(|b| b.wrapping_add(1)).collect()
}

mod outer {
    pub(crate) mod inner {
        use procs::remote;

        #[remote]
        pub(crate) fn shout(s: String) -> String {
            s.to_uppercase()
        }
    }
}

const PINNED_ID: &str = "procs-tests/spawn/pinned-v1";

#[remote(id = "procs-tests/spawn/pinned-v1")]
fn pinned(x: i32) -> i32 {
    -x
}

fn not_remote(x: u64) -> u64 {
    x + 1
}

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .build()
        .expect("pool starts")
}

#[test]
fn results_come_in_input_order_whatever_the_durations() {
    let pool = pool(3);
    // Early items sleep longest, so later ones finish first.
    let durations = [60, 5, 40, 0, 25, 0, 50, 10, 0, 30, 1, 0];
    let items: Vec<(u32, u64)> = (0..).zip(durations).collect();
    let got: Vec<u32> = pool
        .pmap(sleep_then_echo, items.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, (0..durations.len() as u32).collect::<Vec<_>>());

    // The same through `call` over an iterator.
    let procs = items.iter().map(|&(i, ms)| proc!(sleep_then_echo(i, ms)));
    let got: Vec<u32> = pool.call(procs).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..durations.len() as u32).collect::<Vec<_>>());
}

#[test]
fn call_one_proc() {
    assert_eq!(call(proc!(add(2, 3))).unwrap(), 5);
    assert_eq!(
        call(proc!(greet("Ada".into(), 2))).unwrap(),
        "hello Adahello Ada"
    );
    let p: Proc<u64> = proc!(square(12));
    assert_eq!(pool(1).call(p).unwrap(), 144);
}

#[test]
fn call_tuple_of_two() {
    let (a, b) = call((proc!(greet("Bob".into(), 1)), proc!(add(40, 2))));
    assert_eq!(a.unwrap(), "hello Bob");
    assert_eq!(b.unwrap(), 42);
}

#[test]
fn call_tuple_of_eight_different_types() {
    let (s, n, bytes, st, some, none, unit, (b, pair)) = {
        let (a, b, c, d, e, f, g, h) = call((
            proc!(greet("Cy".into(), 3)),
            proc!(add(u64::MAX - 1, 1)),
            proc!(bytes_of(5)),
            proc!(stats(vec![1, 2, 3, 6], "s".into())),
            proc!(first_even(vec![3, 5, 8, 10])),
            proc!(first_even(vec![1, 3])),
            proc!(nothing(7)),
            proc!(negate(false)),
        ));
        let pair = call(proc!(swap((-7, 'λ'))));
        (a, b, c, d, e, f, g, (h, pair))
    };
    assert_eq!(s.unwrap(), "hello Cyhello Cyhello Cy");
    assert_eq!(n.unwrap(), u64::MAX);
    assert_eq!(bytes.unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(
        st.unwrap(),
        Stats {
            name: "s".into(),
            count: 4,
            mean: 3.0,
            tags: vec!["v1".into(), "v2".into(), "v3".into(), "v6".into()],
        }
    );
    assert_eq!(some.unwrap(), Some(8));
    assert_eq!(none.unwrap(), None);
    unit.unwrap();
    assert!(b.unwrap());
    assert_eq!(pair.unwrap(), ('λ', -7));
}

#[test]
fn call_iterator_of_procs() {
    let results = call((0..20).map(|i| proc!(add(i, 100))));
    let got: Vec<u64> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (100..120).collect::<Vec<_>>());

    // An empty iterator yields nothing.
    assert_eq!(call(Vec::<Proc<u64>>::new()).count(), 0);
}

#[test]
fn pmap_single_and_multi_argument_functions() {
    let squares: Vec<u64> = pmap(square, 0..100).collect::<Result<_, _>>().unwrap();
    assert_eq!(squares, (0..100).map(|x| x * x).collect::<Vec<_>>());

    let sums: Vec<u64> = pmap(add, (0..100).map(|i| (i, 2 * i)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sums, (0..100).map(|i| 3 * i).collect::<Vec<_>>());

    let greetings: Vec<String> = pmap(greet, [("x".to_string(), 1), ("y".to_string(), 2)])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(greetings, ["hello x", "hello yhello y"]);

    assert_eq!(pmap(square, std::iter::empty()).count(), 0);
}

#[test]
fn pmap_ten_thousand_small_tasks_matches_serial() {
    let pool = pool(2);
    let got: Vec<u64> = pool.pmap(mix, 0..10_000).collect::<Result<_, _>>().unwrap();
    let want: Vec<u64> = (0..10_000).map(mix).collect();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got, want);
}

#[test]
fn sixteen_mib_argument_and_result() {
    // One call carries both ways: 16 MiB in, 16 MiB of different content out.
    const LEN: usize = 16 << 20;
    let pool = pool(1);

    let input = pattern(LEN, 7);
    let want: Vec<u8> = input.iter().rev().map(|b| b.wrapping_add(1)).collect();
    let out = pool.call(proc!(transform(input))).unwrap();
    assert_eq!(out.len(), LEN);
    assert!(out == want, "the transformed 16 MiB differ");
}

#[test]
fn one_pool_serves_many_calls() {
    let pool = pool(2);
    for i in 0..50u64 {
        match i % 3 {
            0 => assert_eq!(pool.call(proc!(add(i, i))).unwrap(), 2 * i),
            1 => {
                let (a, b) = pool.call((proc!(square(i)), proc!(negate(i % 2 == 0))));
                assert_eq!((a.unwrap(), b.unwrap()), (i * i, i % 2 != 0));
            }
            _ => {
                let got: Vec<u64> = pool
                    .pmap(square, i..i + 5)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(got, (i..i + 5).map(|x| x * x).collect::<Vec<_>>());
            }
        }
    }
    // Clones share the workers.
    let clone = pool.clone();
    assert_eq!(clone.workers(), 2);
    assert_eq!(clone.call(proc!(add(1, 1))).unwrap(), 2);
}

#[test]
fn nested_module_function() {
    let p = proc!(outer::inner::shout("quiet".into()));
    assert_eq!(p.id(), Some("spawn::outer::inner::shout"));
    assert_eq!(call(p).unwrap(), "QUIET");

    let p = proc!(self::outer::inner::shout("x".into()));
    assert_eq!(call(p).unwrap(), "X");

    let got: Vec<String> = pmap(outer::inner::shout, ["a".to_string(), "b".to_string()])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, ["A", "B"]);
}

#[test]
fn default_id_is_module_path_and_name() {
    assert_eq!(proc!(add(1, 2)).id(), Some("spawn::add"));
    assert_eq!(proc!(forty_two()).id(), Some("spawn::forty_two"));
}

#[test]
fn pinned_id() {
    let p = proc!(pinned(5));
    assert_eq!(p.id(), Some(PINNED_ID));
    assert_eq!(call(p).unwrap(), -5);

    // The same function reached by its stable ID alone.
    let by_id: Proc<i32> = Proc::by_id(PINNED_ID, (9i32,));
    assert_eq!(by_id.id(), Some(PINNED_ID));
    assert_eq!(call(by_id).unwrap(), -9);
    // And a default ID too.
    assert_eq!(
        call(Proc::<u64>::by_id("spawn::add", (3u64, 4u64))).unwrap(),
        7
    );
}

#[test]
fn unknown_id_lists_the_known_ones() {
    let p: Proc<u64> = Proc::by_id("spawn::no_such_function", (1u64,));
    match call(p) {
        Err(Error::UnknownFunction { id, known }) => {
            assert_eq!(id, "spawn::no_such_function");
            for expected in [
                "spawn::add",
                "spawn::mix",
                "spawn::outer::inner::shout",
                PINNED_ID,
            ] {
                assert!(
                    known.iter().any(|k| k == expected),
                    "{expected} not in {known:?}"
                );
            }
            assert!(known.is_sorted(), "{known:?}");
        }
        other => panic!("expected UnknownFunction, got {other:?}"),
    }
    // The pool is not disturbed.
    assert_eq!(call(proc!(add(1, 1))).unwrap(), 2);
}

#[test]
fn unknown_id_error_message() {
    let err = call(Proc::<u64>::by_id("spawn::gone", ())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`spawn::gone`"), "{msg}");
    assert!(msg.contains("`spawn::add`"), "{msg}");
}

#[test]
fn non_remote_function_is_an_error_not_a_panic() {
    let p = proc!(not_remote(1));
    assert_eq!(p.id(), None);
    match call(p) {
        Err(Error::NotRemote { name }) => assert!(name.ends_with("not_remote"), "{name}"),
        other => panic!("expected NotRemote, got {other:?}"),
    }
    let msg = call(proc!(not_remote(1))).unwrap_err().to_string();
    assert!(
        msg.contains("not_remote") && msg.contains("#[remote]"),
        "{msg}"
    );

    // In a tuple, only its own position fails.
    let (a, b) = call((proc!(add(1, 2)), proc!(not_remote(3))));
    assert_eq!(a.unwrap(), 3);
    assert!(matches!(b, Err(Error::NotRemote { .. })), "{b:?}");

    // Through pmap, every item fails with it; none is lost.
    let got: Vec<_> = pmap(not_remote, 0..3).collect();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| matches!(r, Err(Error::NotRemote { .. }))),
        "{got:?}"
    );
}

#[test]
fn zero_argument_function() {
    assert_eq!(call(proc!(forty_two())).unwrap(), 42);
    let got: Vec<u64> = pmap(forty_two, [(), (), ()])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, [42, 42, 42]);
}

#[test]
fn single_worker_pool_runs_everything() {
    let pool = pool(1);
    assert_eq!(pool.workers(), 1);
    let got: Vec<u64> = pool.pmap(square, 0..200).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..200).map(|x| x * x).collect::<Vec<_>>());
    let (a, b, c) = pool.call((proc!(add(1, 2)), proc!(forty_two()), proc!(pinned(1))));
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (3, 42, -1));
}

#[test]
fn invalid_settings_are_errors() {
    for (builder, setting) in [
        (Pool::builder().workers(0), "workers"),
        (Pool::builder().window(0), "window"),
        (Pool::builder().max_message_size(0), "max_message_size"),
        (
            Pool::builder().max_tasks_per_worker(0),
            "max_tasks_per_worker",
        ),
    ] {
        match builder.build() {
            Err(Error::InvalidSetting { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("expected InvalidSetting for {setting}, got {other:?}"),
        }
    }
    let msg = Pool::builder().workers(0).build().unwrap_err().to_string();
    assert!(msg.contains("workers"), "{msg}");
}

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
fn call_iterator_of_different_functions_with_one_return_type() {
    let procs = vec![
        proc!(add(1, 2)),
        proc!(square(4)),
        proc!(forty_two()),
        proc!(mix(0)),
    ];
    let got: Vec<u64> = call(procs).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, [3, 16, 42, mix(0)]);
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
fn many_threads_share_one_pool() {
    let pool = pool(2);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let pool = &pool;
                s.spawn(move || {
                    let got: Vec<u64> = pool
                        .pmap(add, (0..200).map(|i| (i, t * 1000)))
                        .collect::<Result<_, _>>()
                        .unwrap();
                    assert_eq!(got, (0..200).map(|i| i + t * 1000).collect::<Vec<_>>());
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
}

#[test]
fn results_outlive_the_pool_handle() {
    let pool = pool(2);
    let results = pool.pmap(square, 0..30);
    drop(pool);
    let got: Vec<u64> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..30).map(|x| x * x).collect::<Vec<_>>());
}

/// What starting a pool and calling the global one give inside a worker.
#[remote]
fn start_pools_inside_worker() -> (String, String) {
    let name = |error: Error| match error {
        Error::InsideWorker => "InsideWorker".to_owned(),
        other => format!("another error: {other}"),
    };
    let built = match Pool::builder().workers(1).build() {
        Ok(_) => "a pool started".to_owned(),
        Err(error) => name(error),
    };
    let called = match call(proc!(add(1, 2))) {
        Ok(_) => "the global pool ran a call".to_owned(),
        Err(error) => name(error),
    };
    (built, called)
}

#[test]
fn workers_never_start_pools_of_their_own() {
    let (built, called) = call(proc!(start_pools_inside_worker())).unwrap();
    assert_eq!(built, "InsideWorker");
    assert_eq!(called, "InsideWorker");
}

/// Writes this worker's pid to `path` (unless empty), then sleeps `secs`
/// seconds.
#[remote]
fn report_pid_then_sleep(path: String, secs: u64) -> u32 {
    if !path.is_empty() {
        std::fs::write(&path, std::process::id().to_string()).expect("pid file written");
    }
    std::thread::sleep(Duration::from_secs(secs));
    std::process::id()
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

/// Polls `f` every 20 ms for up to five seconds.
fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[remote]
fn worker_pid() -> u32 {
    std::process::id()
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

static INIT_RUNS: AtomicUsize = AtomicUsize::new(0);
static INIT_TAG: AtomicUsize = AtomicUsize::new(0);

#[remote]
fn warm_up(tag: u64) {
    INIT_RUNS.fetch_add(1, Ordering::SeqCst);
    INIT_TAG.store(tag as usize, Ordering::SeqCst);
}

/// How many times the initializer ran in this worker, its tag, and the pid.
#[remote]
fn init_state() -> (u64, u64, u32) {
    (
        INIT_RUNS.load(Ordering::SeqCst) as u64,
        INIT_TAG.load(Ordering::SeqCst) as u64,
        std::process::id(),
    )
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

#[test]
fn unordered_results_come_as_they_complete_each_exactly_once() {
    let pool = Pool::builder().workers(2).build().expect("pool starts");
    // The first call sleeps long enough that every other finishes first.
    let items = (0..40u32).map(|i| (i, if i == 0 { 1500 } else { 0 }));
    let results: Vec<(usize, u32)> = pool
        .pmap_unordered(sleep_then_echo, items)
        .map(|(index, result)| (index, result.expect("no failures")))
        .collect();
    assert_eq!(results.len(), 40);
    assert_ne!(results[0].0, 0, "the slow call held back the others");
    assert_eq!(results.last().map(|r| r.0), Some(0), "{results:?}");
    let mut seen = [false; 40];
    for (index, value) in results {
        assert_eq!(index as u32, value);
        assert!(
            !std::mem::replace(&mut seen[index], true),
            "index {index} twice"
        );
    }
    // Tiny calls are batched; order is gone but nothing is lost.
    let mut sums: Vec<(usize, u64)> = pool
        .pmap_unordered(add, (0..20_000u64).map(|i| (i, i)))
        .map(|(i, r)| (i, r.expect("no failures")))
        .collect();
    sums.sort_unstable();
    assert!(
        sums.iter()
            .enumerate()
            .all(|(i, &(j, s))| i == j && s == 2 * i as u64)
    );
}
