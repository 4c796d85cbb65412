//! No panic message is lost under `panic = "abort"`: a fixture program built
//! with it (procs/tests/fixtures/panic-abort) gets `Error::Panicked` with the
//! message and location for the call that panicked, and every other call
//! its result.

use std::path::Path;
use std::process::Command;

#[test]
fn a_panic_under_abort_is_reported_with_its_message_and_location() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/panic-abort");
    // The workspace's lock file keeps the fixture on the same versions,
    // which are already downloaded.
    std::fs::copy(root.join("Cargo.lock"), fixture.join("Cargo.lock")).unwrap();
    // A target directory of its own, as trybuild does: a nested cargo on the
    // outer one would wait for the outer build's lock.
    let target = root.join("target/fixtures");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(built.success(), "the fixture did not build");
    let out = Command::new(target.join("debug/panic-abort-fixture"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    let panicked = "panicked: remote function `panic_abort_fixture::boom` panicked at src/main.rs:";
    assert!(
        lines[0].starts_with(&format!("single {panicked}")),
        "{stdout}"
    );
    assert!(lines[0].ends_with("boom at 3"), "{stdout}");
    for i in 0..6 {
        let line = lines[1 + i];
        if i == 3 {
            assert!(line.starts_with(&format!("batch 3 {panicked}")), "{stdout}");
            assert!(line.ends_with("boom at 3"), "{stdout}");
        } else {
            assert_eq!(line, format!("batch {i} ok {i}"), "{stdout}");
        }
    }
    assert!(lines[7].starts_with("thread panicked: "), "{stdout}");
    assert!(
        lines[7].contains(
            "thread 'helper' of the worker panicked, which aborted the worker: helper gave up"
        ),
        "{stdout}"
    );
    assert_eq!(lines[8], "after ok 7", "{stdout}");
    assert!(
        lines[9].starts_with(
            "init remote function `panic_abort_fixture::bad_init` panicked at src/main.rs:"
        ) && lines[9].ends_with("cannot warm up"),
        "{stdout}"
    );
    let burst = "burst ok 2999 failed 2000 panicked: remote function \
                 `panic_abort_fixture::boom_late` panicked at src/main.rs:";
    assert!(
        lines[10].starts_with(burst) && lines[10].ends_with("boom at 2000"),
        "{stdout}"
    );
}
