//! The acceptance test: `pmap` over 1,000 items where some panic, abort or segfault yields exactly those errors in exactly those positions, and leaves no child process, zombie or fd behind.
//!
//! Alone in its binary so that no other test's workers disturb the count of
//! child processes; it never touches the global pool.

mod support;

use support::children;

use std::time::{Duration, Instant};

use procs::{Error, Pool, remote};

const ITEMS: u32 = 1_000;
const WORKERS: usize = 2;

/// Spread out, including the first and the last item, and some back to back.
const PANICS: [u32; 6] = [0, 137, 402, 403, 733, 998];
const ABORTS: [u32; 5] = [55, 311, 501, 620, 999];
const SEGFAULTS: [u32; 5] = [1, 250, 500, 871, 872];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Panic,
    Abort,
    Segfault,
    Value(u64),
}

fn fate(i: u32) -> Fate {
    if PANICS.contains(&i) {
        Fate::Panic
    } else if ABORTS.contains(&i) {
        Fate::Abort
    } else if SEGFAULTS.contains(&i) {
        Fate::Segfault
    } else {
        Fate::Value(u64::from(i) * 3 + 1)
    }
}

#[remote]
fn chaos(i: u32) -> u64 {
    match fate(i) {
        Fate::Panic => panic!("chaos panics at {i}"),
        Fate::Abort => std::process::abort(),
        // SAFETY: resetting a handler and raising a signal touch no memory.
        Fate::Segfault => unsafe {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            libc::raise(libc::SIGSEGV);
            unreachable!("SIGSEGV is fatal")
        },
        Fate::Value(v) => v,
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd is readable")
        .count()
}

#[test]
fn mixed_failures_in_their_positions_and_nothing_left_behind() {
    assert!(
        children().is_empty(),
        "children before the test: {:?}",
        children()
    );
    let fds_before = open_fds();

    let pool = Pool::builder()
        .workers(WORKERS)
        .build()
        .expect("pool starts");
    let mut most_children = 0;
    let mut results = Vec::with_capacity(ITEMS as usize);
    for result in pool.pmap(chaos, 0..ITEMS) {
        results.push(result);
        let alive = children();
        assert!(
            alive.len() <= WORKERS,
            "{} children with {WORKERS} workers after {} results: {alive:?}",
            alive.len(),
            results.len()
        );
        most_children = most_children.max(alive.len());
    }
    assert_eq!(results.len(), ITEMS as usize);

    let mut failures = [0; 3];
    for (i, result) in (0..ITEMS).zip(&results) {
        match (fate(i), result) {
            (Fate::Value(want), Ok(got)) => assert_eq!(*got, want, "item {i}"),
            (Fate::Panic, Err(Error::Panicked { id, panic, .. })) => {
                assert_eq!(id, "mixed_failures::chaos", "item {i}");
                assert_eq!(panic.message, format!("chaos panics at {i}"));
                failures[0] += 1;
            }
            (Fate::Abort, Err(Error::WorkerDied { id, exit, .. })) => {
                assert_eq!(id, "mixed_failures::chaos", "item {i}");
                assert_eq!(exit.signal(), Some(libc::SIGABRT), "item {i}: {exit}");
                failures[1] += 1;
            }
            (Fate::Segfault, Err(Error::WorkerDied { id, exit, .. })) => {
                assert_eq!(id, "mixed_failures::chaos", "item {i}");
                assert_eq!(exit.signal(), Some(libc::SIGSEGV), "item {i}: {exit}");
                assert_eq!(exit.signal_name(), Some("SIGSEGV"));
                failures[2] += 1;
            }
            (fate, other) => panic!("item {i}: expected {fate:?}, got {other:?}"),
        }
    }
    assert_eq!(failures, [PANICS.len(), ABORTS.len(), SEGFAULTS.len()]);

    // The pool still serves after all that, failures included.
    for (i, result) in (40..60).zip(pool.pmap(chaos, 40..60)) {
        match (fate(i), result) {
            (Fate::Value(want), Ok(got)) => assert_eq!(got, want, "item {i}"),
            (Fate::Abort, Err(Error::WorkerDied { .. })) => {}
            (fate, other) => panic!("item {i}: expected {fate:?}, got {other:?}"),
        }
    }

    drop(pool);
    // The pool reaps its children when dropped; poll a little anyway, as
    // exit statuses can lag a moment behind the closing of a channel.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = children();
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left = children();
    }
    assert!(
        left.is_empty(),
        "children left after dropping the pool: {left:?}"
    );
    assert_eq!(open_fds(), fds_before, "fds leaked by the pool");
    assert!(most_children <= WORKERS);
}
