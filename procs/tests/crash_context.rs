//! The error of a call that crashed, panicked or timed out carries the last
//! of what it wrote to stderr (`Error::stderr_tail`), its last line in the
//! message: on the direct path (a lone call) and through a slot (a batch),
//! for a segfault, a C `abort()`, a Rust panic and a deadline.

use std::time::Duration;

use procs::{Error, Output, Pool, pmap, proc, remote};

#[remote]
fn segfault_after(words: String) {
    eprintln!("{words}");
    segfault();
}

/// Dies of SIGSEGV. Rust's own SIGSEGV handler (stack overflow detection)
/// would return from a raised signal, so the default action comes back
/// first.
fn segfault() {
    // SAFETY: signal(2) and raise(3) have no memory effects here; the
    // process dies of the signal.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV is fatal")
}

#[remote]
fn abort_after(words: String) {
    eprint!("{words}\nthe very last, unfinished");
    // SAFETY: abort(3) takes nothing and never returns.
    unsafe { libc::abort() };
}

#[remote]
fn panic_after(words: String) {
    eprintln!("{words}");
    panic!("gave up after saying so");
}

#[remote]
fn hang_after(words: String) {
    eprintln!("{words}");
    std::thread::sleep(Duration::from_secs(600));
}

#[remote]
fn complain(words: String) {
    eprintln!("{words}");
}

/// Crashes on 2, after saying so.
#[remote]
fn crash_on_two(x: u32) -> u32 {
    eprintln!("working on {x}");
    if x == 2 {
        segfault();
    }
    x
}

fn pool() -> Pool {
    Pool::builder().workers(1).build().unwrap()
}

#[test]
fn a_segfaults_error_ends_with_its_last_stderr_line() {
    let pool = pool();
    pool.call(proc!(complain("said by an earlier call".to_owned())))
        .unwrap();
    let err = pool
        .call(proc!(segfault_after("dbg: pointer is 0x0".to_owned())))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    let tail = err.stderr_tail().expect("a stderr tail");
    assert_eq!(tail, "dbg: pointer is 0x0\n");
    assert!(
        err.to_string()
            .ends_with("; last stderr line: \"dbg: pointer is 0x0\""),
        "{err}"
    );
}

#[test]
fn an_aborts_error_holds_what_it_wrote_last() {
    let err = pool()
        .call(proc!(abort_after("assertion `n > 0` failed".to_owned())))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    let tail = err
        .stderr_tail()
        .unwrap_or_else(|| panic!("no stderr tail: {err:?}"));
    assert!(tail.starts_with("assertion `n > 0` failed\n"), "{tail}");
    assert!(
        err.to_string()
            .ends_with("; last stderr line: \"the very last, unfinished\""),
        "{err}"
    );
}

#[test]
fn a_panics_error_holds_what_it_wrote_before() {
    // The panic's own message is the error's (the worker's hook records it
    // instead of printing it).
    let err = pool()
        .call(proc!(panic_after("about to panic".to_owned())))
        .unwrap_err();
    assert!(matches!(err, Error::Panicked { .. }), "{err:?}");
    assert_eq!(err.stderr_tail(), Some("about to panic\n"));
    let shown = err.to_string();
    assert!(
        shown.contains("gave up after saying so")
            && shown.ends_with("; last stderr line: \"about to panic\""),
        "{shown}"
    );
}

#[test]
fn a_timeouts_error_holds_what_it_wrote() {
    let pool = Pool::builder()
        .workers(1)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = pool
        .call(proc!(hang_after("waiting for the lock".to_owned())))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(err.stderr_tail(), Some("waiting for the lock\n"));
    assert!(
        err.to_string()
            .ends_with("; last stderr line: \"waiting for the lock\""),
        "{err}"
    );
}

#[test]
fn a_crash_in_a_batch_blames_its_own_stderr() {
    let pool = Pool::builder().workers(1).chunk_size(4).build().unwrap();
    let results: Vec<_> = pool.pmap(crash_on_two, 0..4).collect();
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    for (x, result) in results.into_iter().enumerate() {
        match result {
            Ok(y) => assert_eq!(y as usize, x),
            Err(err) => {
                assert_eq!(x, 2, "{err}");
                assert_eq!(err.stderr_tail(), Some("working on 2\n"), "{err}");
            }
        }
    }
}

#[test]
fn the_global_pool_forwards_too() {
    let err = procs::call(proc!(segfault_after("global pool".to_owned()))).unwrap_err();
    assert_eq!(err.stderr_tail(), Some("global pool\n"));
    let results: Vec<_> = pmap(crash_on_two, 1..3).collect();
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.stderr_tail(), Some("working on 2\n"));
}

#[test]
fn inherited_output_leaves_no_tail() {
    let pool = Pool::builder()
        .workers(1)
        .output(Output::Inherit)
        .build()
        .unwrap();
    let err = pool
        .call(proc!(segfault_after("not forwarded".to_owned())))
        .unwrap_err();
    assert!(matches!(err, Error::WorkerDied { .. }), "{err:?}");
    assert_eq!(err.stderr_tail(), None);
    assert!(!err.to_string().contains("stderr"), "{err}");
}
