//! Real worker processes doing ordinary work: ordering, every form of `call` and `pmap`, large payloads, explicit pools, IDs and misuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use procs::{Error, Pool, Proc, call, pmap, proc, remote};
use serde::{Deserialize, Serialize};

mod calls;
mod ids;
mod lifecycle;

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
