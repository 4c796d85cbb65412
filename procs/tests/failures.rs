//! Tasks that fail in every way a worker can (panic, abort, segfault, `exit`, SIGKILL, bad IDs and types): each yields its own error with the details, and the pool keeps serving.

use std::time::Duration;

use procs::{Error, Payload, Pool, Proc, call, pmap, proc, remote};

/// The line of the `panic!` in `panics`, which must stay right below.
const PANIC_LINE: u32 = line!() + 3;
#[remote]
fn panics(x: u32) -> u32 {
    panic!("refusing to handle {x}")
}

#[remote]
fn panics_with_static_str(_x: u8) -> u8 {
    panic!("static message")
}

#[remote]
fn panics_with_any(_x: u8) -> u8 {
    std::panic::panic_any(42_i32)
}

#[remote]
fn aborts(_x: u32) -> u32 {
    std::process::abort()
}

#[remote]
fn segfaults(_x: u32) -> u32 {
    // A real invalid access (not a raised signal): address 8 is non-null and
    // aligned, so no debug precondition check turns it into a panic first.
    // SAFETY: none, on purpose: the write faults and the worker dies, which
    // is what the test is about.
    unsafe { (8 as *mut u8).write_volatile(1) };
    unreachable!("the write above faults")
}

#[remote]
fn raises_sigsegv(_x: u32) -> u32 {
    // SAFETY: resetting a handler and raising a signal touch no memory.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV is fatal")
}

#[remote]
fn exits(code: i32) -> u32 {
    std::process::exit(code)
}

#[remote]
fn sigkills_itself(_x: u32) -> u32 {
    // SAFETY: kill(2) on our own pid touches no memory.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    loop {
        std::thread::park();
    }
}

#[remote]
fn byte_count(data: Vec<u8>) -> u64 {
    data.len() as u64
}

#[remote]
fn zeros(len: u64) -> Vec<u8> {
    vec![0; len as usize]
}

#[remote]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[remote]
fn double(x: u32) -> u32 {
    2 * x
}

fn pool(workers: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .build()
        .expect("pool starts")
}

/// Asserts that the pool still serves after a failure.
fn still_serves(pool: &Pool) {
    assert_eq!(pool.call(proc!(double(21))).unwrap(), 42);
    let got: Vec<u32> = pool.pmap(double, 0..8).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, [0, 2, 4, 6, 8, 10, 12, 14]);
}

/// Runs `p` on `pool`, expecting the worker to die; returns the exit and the
/// error's message.
fn worker_died(pool: &Pool, p: Proc<u32>, want_id: &str) -> (procs::Exit, String) {
    let err = pool.call(p).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::WorkerDied { id, exit, .. } => {
            assert_eq!(id, want_id);
            assert!(msg.contains(&format!("`{want_id}`")), "{msg}");
            (exit, msg)
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
}

#[test]
fn panic_reports_message_and_location() {
    let pool = pool(1);
    let err = pool.call(proc!(panics(7))).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::Panicked { id, panic, .. } => {
            assert_eq!(id, "failures::panics");
            assert_eq!(panic.message, "refusing to handle 7");
            let location = panic.location.expect("the panic has a location");
            assert_eq!(location.file, file!());
            assert_eq!(location.line, PANIC_LINE);
            assert!(
                msg.contains("`failures::panics`")
                    && msg.contains("refusing to handle 7")
                    && msg.contains(&format!("{}:{}", file!(), PANIC_LINE)),
                "{msg}"
            );
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    still_serves(&pool);
}

#[test]
fn panic_payloads_of_every_kind() {
    let pool = pool(1);
    match pool.call(proc!(panics_with_static_str(0))) {
        Err(Error::Panicked { panic, .. }) => assert_eq!(panic.message, "static message"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    match pool.call(proc!(panics_with_any(0))) {
        Err(Error::Panicked { id, panic, .. }) => {
            assert_eq!(id, "failures::panics_with_any");
            assert!(!panic.message.is_empty());
            assert!(panic.location.is_some());
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    still_serves(&pool);
}

#[test]
fn panics_do_not_cost_the_worker() {
    // Many panics in a row on one worker; each is reported, none kills it.
    let pool = pool(1);
    let got: Vec<_> = pool.pmap(panics, 0..20).collect();
    for (i, r) in got.iter().enumerate() {
        match r {
            Err(Error::Panicked { panic, .. }) => {
                assert_eq!(panic.message, format!("refusing to handle {i}"));
            }
            other => panic!("expected Panicked at {i}, got {other:?}"),
        }
    }
    still_serves(&pool);
}

#[test]
fn abort_is_sigabrt() {
    let pool = pool(1);
    let (exit, msg) = worker_died(&pool, proc!(aborts(1)), "failures::aborts");
    assert_eq!(exit.signal(), Some(libc::SIGABRT));
    assert_eq!(exit.signal(), Some(6));
    assert_eq!(exit.signal_name(), Some("SIGABRT"));
    assert_eq!(exit.code(), None);
    assert!(msg.contains("SIGABRT") && msg.contains('6'), "{msg}");
    still_serves(&pool);
}

#[test]
fn segfault_is_sigsegv() {
    let pool = pool(1);
    for (p, id) in [
        (proc!(segfaults(1)), "failures::segfaults"),
        (proc!(raises_sigsegv(1)), "failures::raises_sigsegv"),
    ] {
        let (exit, msg) = worker_died(&pool, p, id);
        assert_eq!(exit.signal(), Some(11));
        assert_eq!(exit.signal_name(), Some("SIGSEGV"));
        assert!(msg.contains("SIGSEGV") && msg.contains("11"), "{msg}");
        still_serves(&pool);
    }
}

#[test]
fn exit_reports_the_code() {
    let pool = pool(1);
    let (exit, msg) = worker_died(&pool, proc!(exits(3)), "failures::exits");
    assert_eq!(exit.code(), Some(3));
    assert_eq!(exit.signal(), None);
    assert_eq!(exit.signal_name(), None);
    assert!(msg.contains("exited with code 3"), "{msg}");
    still_serves(&pool);

    // Exiting successfully in the middle of a task is still a lost task.
    let (exit, _) = worker_died(&pool, proc!(exits(0)), "failures::exits");
    assert_eq!(exit.code(), Some(0));
    still_serves(&pool);
}

#[test]
fn sigkill_is_reported() {
    let pool = pool(1);
    let (exit, msg) = worker_died(
        &pool,
        proc!(sigkills_itself(0)),
        "failures::sigkills_itself",
    );
    assert_eq!(exit.signal(), Some(libc::SIGKILL));
    assert_eq!(exit.signal_name(), Some("SIGKILL"));
    assert!(msg.contains("SIGKILL"), "{msg}");
    still_serves(&pool);
}

#[test]
fn crashes_one_after_another_on_a_single_worker() {
    // Every crash costs the only worker; each replacement serves the next task.
    let pool = pool(1);
    let mut results = Vec::new();
    for round in 0..3 {
        results.push(pool.call(proc!(aborts(round))).map(|_| ()));
        results.push(
            pool.call(proc!(double(round)))
                .map(|v| assert_eq!(v, 2 * round)),
        );
        results.push(pool.call(proc!(exits(5))).map(|_| ()));
        results.push(pool.call(proc!(panics(round))).map(|_| ()));
    }
    for (i, r) in results.iter().enumerate() {
        match (i % 4, r) {
            (0, Err(Error::WorkerDied { exit, .. })) => assert_eq!(exit.signal(), Some(6)),
            (1, Ok(())) => {}
            (2, Err(Error::WorkerDied { exit, .. })) => assert_eq!(exit.code(), Some(5)),
            (3, Err(Error::Panicked { .. })) => {}
            (_, other) => panic!("unexpected result at {i}: {other:?}"),
        }
    }
    still_serves(&pool);
}

#[test]
fn failures_in_a_tuple_stay_in_their_positions() {
    let pool = pool(2);
    let (a, b, c, d, e, f) = pool.call((
        proc!(double(1)),
        proc!(panics(2)),
        proc!(aborts(3)),
        proc!(double(4)),
        proc!(exits(9)),
        proc!(double(6)),
    ));
    assert_eq!(a.unwrap(), 2);
    assert!(matches!(b, Err(Error::Panicked { .. })), "{b:?}");
    assert!(
        matches!(&c, Err(Error::WorkerDied { exit, .. }) if exit.signal() == Some(6)),
        "{c:?}"
    );
    assert_eq!(d.unwrap(), 8);
    assert!(
        matches!(&e, Err(Error::WorkerDied { exit, .. }) if exit.code() == Some(9)),
        "{e:?}"
    );
    assert_eq!(f.unwrap(), 12);
    still_serves(&pool);
}

#[test]
fn failures_on_the_global_pool() {
    let got: Vec<_> = pmap(panics, [1]).collect();
    assert!(matches!(got[..], [Err(Error::Panicked { .. })]), "{got:?}");
    let r = call(proc!(aborts(0)));
    assert!(
        matches!(&r, Err(Error::WorkerDied { exit, .. }) if exit.signal() == Some(6)),
        "{r:?}"
    );
    assert_eq!(call(proc!(double(5))).unwrap(), 10);
}

#[test]
fn wrong_argument_types_by_id_are_a_decode_error() {
    let pool = pool(1);
    // `double` takes a u32; a string does not decode as one.
    let p: Proc<u32> = Proc::by_id("failures::double", ("not a number".to_string(),));
    match pool.call(p) {
        Err(Error::Decode { id, payload, .. }) => {
            assert_eq!(id, "failures::double");
            assert_eq!(payload, Payload::Arguments);
        }
        other => panic!("expected a Decode error of the arguments, got {other:?}"),
    }
    still_serves(&pool);
}

#[test]
fn wrong_return_type_by_id_is_a_decode_error() {
    let pool = pool(1);
    // `double` returns a u32; a String does not decode from it.
    let p: Proc<String> = Proc::by_id("failures::double", (5u32,));
    match pool.call(p) {
        Err(Error::Decode { id, payload, .. }) => {
            assert_eq!(id, "failures::double");
            assert_eq!(payload, Payload::Result);
        }
        other => panic!("expected a Decode error of the result, got {other:?}"),
    }
    still_serves(&pool);
}

fn small_message_pool() -> Pool {
    Pool::builder()
        .workers(1)
        .max_message_size(4096)
        .build()
        .expect("pool starts")
}

#[test]
fn oversized_messages_fail_only_their_call() {
    let pool = small_message_pool();
    let r = pool.call(proc!(byte_count(vec![7; 8192])));
    assert!(r.is_err(), "{r:?}");
    still_serves(&pool);
    let r = pool.call(proc!(zeros(8192)));
    assert!(r.is_err(), "{r:?}");
    still_serves(&pool);
    // Just under the limit passes.
    assert_eq!(pool.call(proc!(byte_count(vec![7; 3000]))).unwrap(), 3000);
    assert_eq!(pool.call(proc!(zeros(3000))).unwrap().len(), 3000);
}

#[test]
fn oversized_messages_are_too_large_errors() {
    let pool = small_message_pool();
    for (what, r) in [
        (
            "argument",
            pool.call(proc!(byte_count(vec![7; 8192]))).map(|_| ()),
        ),
        ("result", pool.call(proc!(zeros(8192))).map(|_| ())),
    ] {
        match r {
            Err(Error::TooLarge { id, size, limit }) => {
                assert!(id.starts_with("failures::"), "{what}: {id}");
                assert!(size > 8192, "{what}: {size}");
                assert_eq!(limit, 4096, "{what}");
            }
            other => panic!("{what}: expected TooLarge, got {other:?}"),
        }
    }
    still_serves(&pool);
}

#[test]
fn timeout_kills_only_the_late_task() {
    let pool = pool(2);
    let late = proc!(sleep_ms(60_000)).timeout(Duration::from_millis(200));
    let (a, b, c) = pool.call((proc!(sleep_ms(0)), late, proc!(sleep_ms(1))));
    assert_eq!(a.unwrap(), 0);
    assert_eq!(c.unwrap(), 1);
    let err = b.unwrap_err();
    let msg = err.to_string();
    match err {
        Error::Timeout { id, timeout, .. } => {
            assert_eq!(id, "failures::sleep_ms");
            assert_eq!(timeout, Duration::from_millis(200));
            assert!(
                msg.contains("`failures::sleep_ms`") && msg.contains("timed out"),
                "{msg}"
            );
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    still_serves(&pool);
}

#[test]
fn pool_timeout_applies_to_every_task() {
    let pool = Pool::builder()
        .workers(1)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let got: Vec<_> = pool.pmap(sleep_ms, [0, 60_000, 2]).collect();
    assert_eq!(*got[0].as_ref().unwrap(), 0);
    assert!(
        matches!(&got[1], Err(Error::Timeout { timeout, .. }) if *timeout == Duration::from_secs(1)),
        "{:?}",
        got[1]
    );
    assert_eq!(*got[2].as_ref().unwrap(), 2);
    still_serves(&pool);
}

#[test]
fn failing_initializer_fails_the_tasks_that_need_a_worker() {
    let pool = Pool::builder()
        .workers(1)
        .initializer(proc!(panics(1)))
        .build()
        .unwrap();
    for _ in 0..2 {
        let err = pool.call(proc!(double(1))).unwrap_err();
        let msg = err.to_string();
        match err {
            Error::InitializerFailed { id, source } => {
                assert_eq!(id, "failures::panics");
                assert!(matches!(*source, Error::Panicked { .. }), "{source:?}");
                assert!(msg.contains("`failures::panics`"), "{msg}");
            }
            other => panic!("expected InitializerFailed, got {other:?}"),
        }
    }

    let crashing = Pool::builder()
        .workers(1)
        .initializer(proc!(aborts(1)))
        .build()
        .unwrap();
    match crashing.call(proc!(double(1))) {
        Err(Error::InitializerFailed { source, .. }) => assert!(
            matches!(&*source, Error::WorkerDied { exit, .. } if exit.signal() == Some(6)),
            "{source:?}"
        ),
        other => panic!("expected InitializerFailed, got {other:?}"),
    }
}

#[test]
fn kill_fails_running_and_queued_calls() {
    let pool = pool(1);
    let mut results = pool.pmap(sleep_ms, [0, 60_000, 0, 0]);
    assert_eq!(results.next().unwrap().unwrap(), 0);
    // Most likely the long task is running by now; queued or running, it
    // must not complete.
    std::thread::sleep(Duration::from_millis(50));
    pool.kill();
    let rest: Vec<_> = results.collect();
    assert_eq!(rest.len(), 3);
    assert!(
        rest.iter().all(|r| matches!(r, Err(Error::PoolClosed))),
        "{rest:?}"
    );
    assert!(matches!(
        pool.call(proc!(double(1))),
        Err(Error::PoolClosed)
    ));
}
