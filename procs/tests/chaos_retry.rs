//! The chaos test's retry run (issue 16, point 6): the chaos test's 20,000
//! tasks, in a pool with `retries(2)`. Tasks whose failure is transient
//! (they crash, die or oversleep on their first attempt only, decided by a
//! file outside the worker) yield `Ok`; those that always crash or always
//! oversleep are poisoned after three attempts; panics are not retried. Every
//! task yields exactly one result, in order, and afterwards no zombie, no
//! extra fd, and the pool still serves.
//!
//! Alone in its binary: it counts this process's children and fds. Set
//! `PROCS_CHAOS_SEED` to try another mix; a failure prints the seed.

mod support;

use support::{TempDir, children, open_fds};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use procs::{Error, Pool, proc, remote};
use serde::{Deserialize, Serialize};

const TASKS: u32 = 20_000;
const WORKERS: usize = 4;
const RETRIES: u32 = 2;
/// The deadline of an oversleeping task, which sleeps far longer.
const DEADLINE: Duration = Duration::from_millis(200);
const OVERSLEEP: Duration = Duration::from_secs(5);
/// Far beyond the test's length: a hang fails the test instead of stalling.
const HANG: Duration = Duration::from_secs(300);
const DEFAULT_SEED: u64 = 0x5eed_c4a0_5000_0016;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Fate {
    Value,
    Panic,
    /// The first attempt fails this way, the next returns the value.
    Once(Failure),
    /// Every attempt fails this way.
    Always(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Failure {
    Abort,
    Segfault,
    Exit3,
    Oversleep,
}

fn value(i: u32) -> u64 {
    mix(u64::from(i))
}

/// splitmix64's finalizer: a bijection on `u64`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fail(failure: Failure) {
    match failure {
        Failure::Abort => std::process::abort(),
        // SAFETY: resetting a handler and raising a signal touch no memory.
        Failure::Segfault => unsafe {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            libc::raise(libc::SIGSEGV);
        },
        Failure::Exit3 => std::process::exit(3),
        Failure::Oversleep => std::thread::sleep(OVERSLEEP),
    }
}

#[remote]
fn chaos(i: u32, fate: Fate, marks: String) -> u64 {
    match fate {
        Fate::Value => {}
        Fate::Panic => panic!("chaos {i}"),
        Fate::Once(failure) => {
            // Outside the worker: the first attempt creates the mark.
            let first = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(Path::new(&marks).join(i.to_string()))
                .is_ok();
            if first {
                fail(failure);
            }
        }
        Fate::Always(failure) => fail(failure),
    }
    value(i)
}

/// xorshift64*: enough randomness for picking fates, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Per 10,000: 100 panic, 20 fail once in each of four ways, 20 always
/// abort, 10 always segfault, 10 always exit and 10 always oversleep.
fn plan(seed: u64) -> Vec<Fate> {
    let mut rng = Rng(mix(seed).max(1));
    (0..TASKS)
        .map(|_| match rng.next() % 10_000 {
            0..100 => Fate::Panic,
            100..120 => Fate::Once(Failure::Abort),
            120..140 => Fate::Once(Failure::Segfault),
            140..160 => Fate::Once(Failure::Exit3),
            160..180 => Fate::Once(Failure::Oversleep),
            180..200 => Fate::Always(Failure::Abort),
            200..210 => Fate::Always(Failure::Segfault),
            210..220 => Fate::Always(Failure::Exit3),
            220..230 => Fate::Always(Failure::Oversleep),
            _ => Fate::Value,
        })
        .collect()
}

/// Whether `error` is what one attempt failing with `failure` yields.
fn failed_with(failure: Failure, error: &Error) -> bool {
    match (failure, error) {
        (Failure::Abort, Error::WorkerDied { exit, .. }) => exit.signal() == Some(libc::SIGABRT),
        (Failure::Segfault, Error::WorkerDied { exit, .. }) => exit.signal() == Some(libc::SIGSEGV),
        (Failure::Exit3, Error::WorkerDied { exit, .. }) => exit.code() == Some(3),
        (Failure::Oversleep, Error::Timeout { timeout, .. }) => *timeout == DEADLINE,
        _ => false,
    }
}

fn check(i: u32, fate: Fate, result: &Result<u64, Error>) -> Result<(), String> {
    let ok = match (fate, result) {
        (Fate::Value | Fate::Once(_), Ok(v)) => *v == value(i),
        (Fate::Panic, Err(err @ Error::Panicked { panic, .. })) => {
            panic.message == format!("chaos {i}") && err.attempts() == 1
        }
        (
            Fate::Always(failure),
            Err(
                err @ Error::Poisoned {
                    id, attempts, last, ..
                },
            ),
        ) => {
            let earlier = err.context().map_or(&[][..], |c| c.earlier_attempts());
            id == "chaos_retry::chaos"
                && *attempts == RETRIES + 1
                && failed_with(failure, last)
                && earlier.len() == RETRIES as usize
                && earlier.iter().all(|e| failed_with(failure, e))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("task {i}: expected {fate:?}, got {result:?}"))
    }
}

#[test]
fn twenty_thousand_tasks_of_chaos_with_retries() {
    let seed = std::env::var("PROCS_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let fates = plan(seed);
    let mut planned = BTreeMap::new();
    for fate in &fates {
        *planned.entry(*fate).or_insert(0) += 1;
    }
    for failure in [
        Failure::Abort,
        Failure::Segfault,
        Failure::Exit3,
        Failure::Oversleep,
    ] {
        for fate in [Fate::Once(failure), Fate::Always(failure)] {
            let n = planned.get(&fate).copied().unwrap_or(0);
            assert!(n >= 5, "seed {seed}: only {n} {fate:?} in {planned:?}");
        }
    }

    assert_eq!(children(), [], "children before the test");
    let marks = TempDir::new("chaos-retry");
    let marks_path = marks.0.to_str().expect("a UTF-8 path").to_owned();
    let fds_before = open_fds();
    let started = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(HANG);
        eprintln!("chaos_retry: seed {seed:#x}: no end after {HANG:?}; giving up");
        std::process::exit(1);
    });

    let pool = Pool::builder()
        .workers(WORKERS)
        .retries(RETRIES)
        .build()
        .expect("pool starts");
    let procs = fates.iter().enumerate().map(|(i, &fate)| {
        let p = proc!(chaos(i as u32, fate, marks_path.clone()));
        match fate {
            Fate::Once(Failure::Oversleep) | Fate::Always(Failure::Oversleep) => {
                p.timeout(DEADLINE)
            }
            _ => p,
        }
    });
    let mut got = BTreeMap::new();
    let mut i = 0u32;
    for result in pool.call(procs) {
        assert!(i < TASKS, "seed {seed}: more results than tasks");
        let fate = fates[i as usize];
        if let Err(wrong) = check(i, fate, &result) {
            panic!("seed {seed}: {wrong}");
        }
        *got.entry(fate).or_insert(0) += 1;
        i += 1;
    }
    assert_eq!(i, TASKS, "seed {seed}: every task yields one result");
    assert_eq!(got, planned, "seed {seed}");
    let chaos_time = started.elapsed();

    // Each transient task ran twice: the mark of its first attempt is there.
    let transient = fates.iter().filter(|f| matches!(f, Fate::Once(_))).count();
    assert_eq!(
        std::fs::read_dir(&marks.0).expect("the marks").count(),
        transient
    );

    let after: Vec<u64> = pool
        .pmap(chaos, (0..100).map(|i| (i, Fate::Value, String::new())))
        .collect::<Result<_, _>>()
        .expect("the pool still serves");
    assert_eq!(after, (0..100).map(value).collect::<Vec<_>>());
    let alive = children();
    assert!(alive.len() <= WORKERS, "{alive:?}");
    assert!(
        alive.iter().all(|(_, state)| *state != 'Z'),
        "zombies: {alive:?}"
    );
    drop(pool);
    assert_eq!(children(), [], "children left after dropping the pool");
    assert_eq!(open_fds(), fds_before, "fds leaked");
    eprintln!(
        "chaos_retry: seed {seed:#x}, {TASKS} tasks on {WORKERS} workers in {chaos_time:.2?}: {got:?}"
    );
}
