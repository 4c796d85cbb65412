//! Calls as futures and results as streams: the executor's thread is never
//! blocked, results cross `.await`s in spawned tasks, and dropping a future
//! or a stream kills what it started. The same scenarios run under tokio's
//! current-thread and multi-thread runtimes and under `futures::executor`.

mod support;

use std::future::{Future, poll_fn};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use futures_core::Stream;
use procs::{CallFuture, Error, Pool, Results, call_async, proc, remote};
use support::stat;

#[remote]
fn square(x: u64) -> u64 {
    x * x
}

#[remote]
fn describe(n: u32, word: String) -> String {
    format!("{word} #{n}")
}

#[remote]
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Writes its worker's pid to `marker`, then sleeps far longer than any
/// test: it ends only if it is killed.
#[remote]
fn mark_then_hang(marker: String) -> u32 {
    std::fs::write(&marker, std::process::id().to_string()).expect("marker");
    std::thread::sleep(Duration::from_secs(300));
    0
}

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .build()
        .expect("pool starts")
}

/// The next item of a stream, without a combinator crate.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = next(&mut stream).await {
        items.push(item);
    }
    items
}

/// The ordinary scenarios, run by every executor below.
async fn scenarios(pool: &Pool) {
    assert_eq!(pool.call_async(proc!(square(7))).await.unwrap(), 49);
    let (a, b) = pool
        .call_async((proc!(square(3)), proc!(describe(2, "call".into()))))
        .await;
    assert_eq!((a.unwrap(), b.unwrap()), (9, "call #2".to_owned()));
    let ordered: Vec<u64> = collect(pool.call_async((0..50).map(|i| proc!(square(i)))))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ordered, (0..50).map(|i| i * i).collect::<Vec<_>>());
    let mapped = collect(pool.pmap(square, 0..1000u64)).await;
    assert_eq!(mapped.len(), 1000);
    assert_eq!(*mapped[999].as_ref().unwrap(), 998_001);
    let mut unordered = collect(pool.pmap_unordered(square, 0..100u64)).await;
    unordered.sort_by_key(|(index, _)| *index);
    assert!(
        unordered
            .iter()
            .enumerate()
            .all(|(i, (index, r))| *index == i && *r.as_ref().unwrap() == (i * i) as u64)
    );
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn futures_and_streams_under_tokio_current_thread() {
    let pool = pool(2);
    current_thread().block_on(scenarios(&pool));
}

#[test]
fn futures_and_streams_under_tokio_multi_thread() {
    let pool = pool(2);
    multi_thread().block_on(scenarios(&pool));
}

#[test]
fn futures_and_streams_under_futures_executor() {
    let pool = pool(2);
    futures_executor::block_on(scenarios(&pool));
}

#[test]
fn the_free_functions_run_on_the_global_pool() {
    let value = futures_executor::block_on(call_async(proc!(square(12))));
    assert_eq!(value.unwrap(), 144);
}

/// A ticker on the same current-thread runtime keeps ticking while four
/// calls of 500 ms are awaited: awaiting leaves the thread to other tasks.
#[test]
fn awaiting_calls_never_blocks_the_executor_thread() {
    let pool = pool(2);
    current_thread().block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                let mut interval = tokio::time::interval(Duration::from_millis(10));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    interval.tick().await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        // Let the ticker start before the calls.
        tokio::task::yield_now().await;
        let started = Instant::now();
        let (a, b, c, d) = pool
            .call_async((
                proc!(nap(500)),
                proc!(nap(500)),
                proc!(nap(500)),
                proc!(nap(500)),
            ))
            .await;
        // Read before yielding again: ticks the ticker could only catch up
        // on now would not count.
        let during = ticks.load(Ordering::Relaxed);
        let elapsed = started.elapsed();
        ticker.abort();
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()), (500, 500, 500, 500));
        let possible = elapsed.as_millis() as usize / 10;
        assert!(
            during * 2 >= possible,
            "the ticker ticked {during} times in {elapsed:?} (at most {possible} possible): the calls blocked the executor"
        );
    });
}

/// `Results` is `Send`: it moves into a spawned task and is held across
/// `.await`s there.
#[test]
fn results_move_into_a_spawned_task_across_awaits() {
    let pool = pool(2);
    multi_thread().block_on(async {
        let mut results: Results<'static, u64> = pool.pmap(square, 0..20u64);
        let task = tokio::spawn(async move {
            let mut sum = 0;
            while let Some(r) = next(&mut results).await {
                tokio::task::yield_now().await;
                sum += r.unwrap();
            }
            sum
        });
        assert_eq!(task.await.unwrap(), (0..20u64).map(|i| i * i).sum::<u64>());
    });
    fn send<T: Send>(_: &T) {}
    send(&pool.call_async(proc!(square(1))));
    send(&pool.pmap_unordered(square, 0..2u64));
}

/// A fresh marker path for `mark_then_hang`.
fn marker(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("procs-async-{}-{tag}-{n}", std::process::id()))
}

/// The pid the task wrote, once it has started.
fn started(marker: &PathBuf) -> Option<u32> {
    std::fs::read_to_string(marker).ok()?.parse().ok()
}

/// Whether `pid` is gone: neither running nor a zombie left unreaped.
fn gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if stat(pid).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Under a tokio runtime, a `timeout` around a call drops it mid-call: the
/// worker that ran it is killed and reaped (not left as a zombie).
fn timeout_kills_the_call(runtime: tokio::runtime::Runtime) {
    let pool = pool(1);
    let path = marker("timeout");
    let pid = runtime.block_on(async {
        let call = pool.call_async(proc!(mark_then_hang(path.display().to_string())));
        let mut call = Box::pin(call);
        // Polled until the task has started in its worker.
        let pid = loop {
            let waited = tokio::time::timeout(Duration::from_millis(20), &mut call).await;
            assert!(waited.is_err(), "the hanging call returned: {waited:?}");
            if let Some(pid) = started(&path) {
                break pid;
            }
        };
        let dropped = tokio::time::timeout(Duration::from_millis(50), call).await;
        assert!(dropped.is_err());
        pid
    });
    assert!(
        gone(pid, Duration::from_secs(10)),
        "worker {pid} still exists"
    );
    // The pool replaced its worker and goes on.
    assert_eq!(pool.call(proc!(square(5))).unwrap(), 25);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn dropping_a_future_mid_call_kills_its_worker_under_current_thread() {
    timeout_kills_the_call(current_thread());
}

#[test]
fn dropping_a_future_mid_call_kills_its_worker_under_multi_thread() {
    timeout_kills_the_call(multi_thread());
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// With no runtime at all: a future polled by hand until its task started,
/// then dropped; a stream likewise.
#[test]
fn dropping_a_future_or_stream_mid_call_kills_its_worker_by_hand() {
    let pool = pool(1);
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);

    let path = marker("hand");
    let mut call: CallFuture<Result<u32, Error>> =
        pool.call_async(proc!(mark_then_hang(path.display().to_string())));
    let pid = wait_started(&path, || {
        assert!(Pin::new(&mut call).poll(&mut cx).is_pending())
    });
    drop(call);
    assert!(
        gone(pid, Duration::from_secs(10)),
        "worker {pid} still exists"
    );

    let path = marker("stream");
    let mut stream = pool
        .call_async(std::iter::once(path.display().to_string()).map(|m| proc!(mark_then_hang(m))));
    let pid = wait_started(&path, || {
        assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending())
    });
    drop(stream);
    assert!(
        gone(pid, Duration::from_secs(10)),
        "worker {pid} still exists"
    );
    assert_eq!(pool.call(proc!(square(6))).unwrap(), 36);
}

fn wait_started(path: &PathBuf, mut poll: impl FnMut()) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        poll();
        if let Some(pid) = started(path) {
            let _ = std::fs::remove_file(path);
            return pid;
        }
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}
