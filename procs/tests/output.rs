//! A worker's output is not lost: what a task prints reaches the terminal
//! even when it ends without a newline and the program exits right after,
//! with its global pool never dropped; a panic on a thread a task started
//! is printed as std's default hook prints it, and a stack overflow as Rust
//! reports one.

use std::process::Command;

use procs::{call, proc, remote};

/// Set in the child run of this test binary, which plays the program.
const ENV_CHILD: &str = "PROCS_TEST_OUTPUT_CHILD";

#[remote]
fn print_without_newline(text: String) {
    print!("{text}");
}

/// Spawns a thread that panics, and waits for it.
#[remote]
fn panic_on_another_thread() -> bool {
    std::thread::Builder::new()
        .name("helper".to_owned())
        .spawn(|| panic!("helper gave up"))
        .unwrap()
        .join()
        .is_err()
}

/// Recurses without end, with frames the optimizer cannot drop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if depth == u64::MAX {
        return frame[0];
    }
    recurse(depth + 1) + std::hint::black_box(frame[1])
}

#[remote]
fn overflow_the_stack() -> u64 {
    recurse(0)
}

/// The program: calls on the global pool, then exit.
#[test]
fn child_program() {
    if std::env::var_os(ENV_CHILD).is_none() {
        return;
    }
    assert!(call(proc!(panic_on_another_thread())).unwrap());
    assert!(call(proc!(overflow_the_stack())).is_err());
    call(proc!(print_without_newline("worker-said-this".to_owned()))).unwrap();
}

#[test]
fn what_a_worker_prints_reaches_the_terminal() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_program",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_CHILD, "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("worker-said-this"), "stdout: {stdout}");
    // A panic on a thread a task spawned is printed as std prints it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("thread 'helper'")
            && stderr.contains("panicked at")
            && stderr.contains("helper gave up"),
        "stderr: {stderr}"
    );
    // A stack overflow is reported on stderr as Rust reports it in `main`.
    assert!(
        stderr.contains(
            "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n"
        ),
        "stderr: {stderr}"
    );
}
