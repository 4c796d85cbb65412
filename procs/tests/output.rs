//! A worker's output is not lost: what a task prints reaches the terminal
//! even when it ends without a newline and the program exits right after,
//! with its global pool never dropped; a panic on a thread a task started
//! is printed as std's default hook prints it.

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

/// The program: calls on the global pool, then exit.
#[test]
fn child_program() {
    if std::env::var_os(ENV_CHILD).is_none() {
        return;
    }
    assert!(call(proc!(panic_on_another_thread())).unwrap());
    call(proc!(print_without_newline("worker-said-this".to_owned()))).unwrap();
}

#[test]
fn a_print_without_newline_in_a_worker_of_the_global_pool_appears() {
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
}
