//! procs and procspawn in one binary: each re-executes it for its children,
//! and each must recognise only its own. Runs the benchmark's cases that use
//! both (procs workers, procspawn pool workers and plain procspawn children,
//! and the bench's own echo children) and checks that every row came back
//! with its procspawn figure. Were a procspawn child to miss its entry, it
//! would run the benchmark again instead of the call, and the run would hang
//! (and be killed here) or fail.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far more than the cases need, even in a debug build on a busy machine.
const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn procs_and_procspawn_children_each_find_their_entry() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_procs-bench"))
        .args(["--quick", "warm-call", "cold-start"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start procs-bench");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for procs-bench") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("procs-bench did not finish in {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut table = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut table)
        .expect("read the table");
    assert!(status.success(), "procs-bench failed: {status}\n{table}");
    for case in ["warm single call", "cold start"] {
        let row = table
            .lines()
            .find(|line| line.starts_with(&format!("| {case}")))
            .unwrap_or_else(|| panic!("no `{case}` row in\n{table}"));
        assert!(
            row.contains("× (Pool"),
            "no procspawn figure in the `{case}` row: {row}"
        );
    }
}
