//! A worker is a faithful copy of the program: what `main` sees of the
//! program's start-up, a task sees too, and the task runs with the runtime
//! set-up std does before `main`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use std::fs::File;
use std::os::fd::FromRawFd;

use procs::{Pool, proc, remote};

/// A plugin registered with `inventory`, as `typetag` does.
struct Plugin(&'static str);

inventory::collect!(Plugin);
inventory::submit!(Plugin("first"));
inventory::submit!(Plugin("second"));

static CTOR_RAN: AtomicBool = AtomicBool::new(false);

// SAFETY: only stores to an atomic.
#[ctor::ctor(unsafe)]
fn mark_ctor_ran() {
    CTOR_RAN.store(true, Ordering::Relaxed);
}

/// What the program's start-up left behind: the registered plugins and
/// whether the ctor ran.
fn startup_view() -> (Vec<String>, bool) {
    let mut plugins: Vec<String> = inventory::iter::<Plugin>
        .into_iter()
        .map(|p| p.0.to_owned())
        .collect();
    plugins.sort();
    (plugins, CTOR_RAN.load(Ordering::Relaxed))
}

#[remote]
fn worker_startup_view() -> (Vec<String>, bool) {
    startup_view()
}

#[test]
fn a_task_sees_every_constructor_of_the_program_as_main_does() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let in_main = startup_view();
    assert_eq!(
        in_main,
        (vec!["first".to_owned(), "second".to_owned()], true)
    );
    let in_worker = pool.call(proc!(worker_startup_view())).unwrap();
    assert_eq!(in_worker, in_main);
}

/// Writes to a pipe whose reading end is closed, as a task piping into a
/// program that quit would.
#[remote]
fn write_to_closed_pipe() -> String {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) just opened both descriptors, and nothing else owns them.
    let (reader, mut writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    drop(reader);
    match writer.write_all(b"x") {
        Ok(()) => "wrote".to_owned(),
        Err(error) => format!("{:?}", error.kind()),
    }
}

#[test]
fn a_task_writing_to_a_closed_pipe_gets_broken_pipe() {
    let pool = Pool::builder().workers(1).build().unwrap();
    assert_eq!(
        pool.call(proc!(write_to_closed_pipe())).unwrap(),
        "BrokenPipe"
    );
}

#[remote]
fn thread_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

#[test]
fn a_task_runs_on_a_thread_named_main() {
    let pool = Pool::builder().workers(1).build().unwrap();
    assert_eq!(
        pool.call(proc!(thread_name())).unwrap(),
        Some("main".to_owned())
    );
}

/// Recurses `depth` times with a frame the optimizer cannot drop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if depth == 0 {
        return frame[0];
    }
    recurse(depth - 1) + std::hint::black_box(frame[1])
}

#[remote]
fn overflow_the_stack() -> u64 {
    recurse(u64::MAX)
}

#[test]
fn a_stack_overflow_in_a_task_is_reported_as_one() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let error = pool.call(proc!(overflow_the_stack())).unwrap_err();
    assert!(
        error.to_string().contains("overflowed its stack"),
        "{error}"
    );
    // The worker was replaced: the pool still works.
    assert_eq!(
        pool.call(proc!(thread_name())).unwrap(),
        Some("main".to_owned())
    );
}
