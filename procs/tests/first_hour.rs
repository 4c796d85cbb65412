//! What a new user meets in their first hour (issue 11): what a worker copies
//! from its parent and what it does not, and the errors they run into.

use std::sync::atomic::{AtomicU32, Ordering};

use procs::{Error, Pool, call, pmap, proc, remote};

/// Set by the test's thread, in the parent only.
static SET_IN_MAIN: AtomicU32 = AtomicU32::new(0);

#[remote]
fn read_static() -> u32 {
    SET_IN_MAIN.load(Ordering::SeqCst)
}

#[remote]
fn read_env(name: String) -> Option<String> {
    std::env::var(name).ok()
}

#[remote]
fn double(x: u32) -> u32 {
    x * 2
}

/// A `#[remote]` function that itself uses procs: the nested call's error.
#[remote]
fn nested() -> String {
    match pmap(double, 0..2u32).next() {
        Some(Err(procs::Error::InsideWorker)) => {
            format!("InsideWorker: {}", procs::Error::InsideWorker)
        }
        Some(Err(error)) => format!("another error: {error}"),
        other => format!("not refused: {other:?}"),
    }
}

#[test]
fn a_static_set_in_the_parent_is_unset_in_a_worker() {
    SET_IN_MAIN.store(7, Ordering::SeqCst);
    assert_eq!(call(proc!(read_static())).unwrap(), 0);
}

#[test]
fn procs_inside_a_remote_function_is_refused_with_advice() {
    let got = call(proc!(nested())).unwrap();
    assert!(got.starts_with("InsideWorker: "), "{got}");
    assert!(got.contains("return the data to the caller"), "{got}");
}

#[test]
fn an_env_var_set_before_a_pool_is_built_reaches_its_workers() {
    const NAME: &str = "PROCS_FIRST_HOUR_ENV";
    // SAFETY: no other test in this binary reads or writes this variable.
    unsafe { std::env::set_var(NAME, "seen") };
    let pool = Pool::builder().workers(1).build().expect("pool starts");
    let got: Vec<Option<String>> = pool
        .pmap(read_env, [NAME.to_owned()])
        .collect::<Result<_, Error>>()
        .unwrap();
    assert_eq!(got, [Some("seen".to_owned())]);
}
