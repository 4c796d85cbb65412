//! The `#[remote]` functions the kit calls. They are registered in every
//! binary that links the kit, under `procs_core::testkit::remote::*`.

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::support::{Blob, open_fds};

/// Exit code of [`die_while_replying`] when it does not abort.
pub(super) const DIED: i32 = 86;

#[procs_derive::remote(crate = crate)]
pub(super) fn echo(blob: Blob) -> Blob {
    blob
}

#[procs_derive::remote(crate = crate)]
pub(super) fn filled(len: u64, byte: u8) -> Blob {
    Blob(vec![byte; len as usize])
}

#[procs_derive::remote(crate = crate)]
pub(super) fn nothing() {}

#[procs_derive::remote(crate = crate)]
pub(super) fn describe(greeting: String, n: u32, x: f64) -> String {
    format!("{greeting} #{n} ({x})")
}

#[procs_derive::remote(crate = crate)]
pub(super) fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[procs_derive::remote(crate = crate)]
pub(super) fn sleep_then_echo(index: u32, ms: u64) -> u32 {
    thread::sleep(Duration::from_millis(ms));
    index
}

#[procs_derive::remote(crate = crate)]
pub(super) fn pid() -> u32 {
    std::process::id()
}

/// Waits until `parties` workers have checked in under `dir` (at most 20
/// seconds), then says who it is, whether all came, and what it holds open.
/// Only `parties` workers running at once can all return early.
#[procs_derive::remote(crate = crate)]
pub(super) fn rendezvous(dir: String, index: u32, parties: u32) -> (u32, bool, Vec<String>) {
    let dir = PathBuf::from(dir);
    let _ = std::fs::write(dir.join(index.to_string()), b"");
    let deadline = Instant::now() + Duration::from_secs(20);
    let all_in = || std::fs::read_dir(&dir).map_or(0, Iterator::count) >= parties as usize;
    let mut met = all_in();
    while !met && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
        met = all_in();
    }
    (std::process::id(), met, open_fds())
}

#[procs_derive::remote(crate = crate)]
pub(super) fn exit_with(code: i32) -> u32 {
    std::process::exit(code)
}

#[procs_derive::remote(crate = crate)]
pub(super) fn abort() -> u32 {
    std::process::abort()
}

/// Returns `len` bytes while a thread kills the process after `delay_us`
/// microseconds: the reply is cut short somewhere, or not at all.
#[procs_derive::remote(crate = crate)]
pub(super) fn die_while_replying(len: u64, delay_us: u64, abort: bool) -> Blob {
    thread::spawn(move || {
        thread::sleep(Duration::from_micros(delay_us));
        if abort {
            std::process::abort();
        }
        // SAFETY: _exit ends the process at once, as a crash would; it runs
        // no destructors and touches no shared state.
        unsafe { libc::_exit(DIED) }
    });
    Blob(vec![0xa5; len as usize])
}

/// Sleeps `ms` milliseconds (so that the other workers are up meanwhile),
/// then says who it is and what it holds open.
#[procs_derive::remote(crate = crate)]
pub(super) fn sleep_then_fds(ms: u64) -> (u32, Vec<String>) {
    thread::sleep(Duration::from_millis(ms));
    (std::process::id(), open_fds())
}

/// Starts a process that outlives this worker (`sleep`, its standard
/// streams on `/dev/null`), writes its pid to `pid_file`, then exits with
/// `code`.
///
/// The sleeper leads a process group of its own, as a daemon would: the
/// pool kills the worker's group with the worker, and a process that left
/// the group is the one that survives it.
#[procs_derive::remote(crate = crate)]
pub(super) fn exit_leaving_a_grandchild(pid_file: String, code: i32) -> u32 {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let sleeper = Command::new("sleep")
        .arg("60")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(sleeper) = sleeper {
        let _ = std::fs::write(pid_file, sleeper.id().to_string());
    }
    std::process::exit(code)
}

/// Exits with code 3 after 20 ms, leaving unread whatever the parent sent
/// meanwhile (a TCP socket closed so sends a reset). A fixed ID, so that
/// [`reset_ends_recv`](super::reset_ends_recv) can call it by hand.
#[procs_derive::remote(crate = crate, id = "procs-testkit-exit-soon")]
pub(super) fn exit_soon() -> u32 {
    thread::sleep(Duration::from_millis(20));
    std::process::exit(3)
}
