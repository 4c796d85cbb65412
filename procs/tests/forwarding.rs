//! A worker's output goes through the parent (`Output::Forward`, the
//! default): whole lines, never two workers' bytes in one line, every byte
//! in order even at 100 MB per worker while other calls go on; captured by
//! libtest like the test's own prints; prefixed with `Output::Prefixed`;
//! the parent's own streams with `Output::Inherit`.
//!
//! Each check runs a program: this test binary again, with `--exact` and
//! [`ENV_CHILD`] naming the inner test that plays it, whose output the
//! outer test parses.

mod support;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use procs::{Output, Pool, proc, remote};

/// Set in the child run of this test binary: the inner test to play.
const ENV_CHILD: &str = "PROCS_TEST_FORWARDING_CHILD";

/// Set (to a directory) for the flood program.
const ENV_DIR: &str = "PROCS_TEST_FORWARDING_DIR";

/// Set for the captured program's failing run.
const ENV_FAIL: &str = "PROCS_TEST_FORWARDING_FAIL";

/// Bytes of each flooded line, newline included.
const LINE: usize = 10 << 10;

/// Bytes each flood writes at least: 10,000 lines.
const FLOOD_BYTES: u64 = 10_000 * LINE as u64;

/// Whether this run plays the inner test `name`.
fn playing(name: &str) -> bool {
    std::env::var(ENV_CHILD).is_ok_and(|child| child == name)
}

/// Runs inner test `name` in a child run of this binary; its stdout and
/// whether it passed. `extra` adds environment variables.
fn play(name: &str, nocapture: bool, extra: &[(&str, &str)]) -> (String, String, bool) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--test-threads=1"])
        .env(ENV_CHILD, name);
    if nocapture {
        cmd.arg("--nocapture");
    }
    for (key, value) in extra {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// Prints lines of [`LINE`] bytes, each `{marker}{number} ` then the marker
/// repeated, until it wrote [`FLOOD_BYTES`] and `{dir}/stop` exists; says
/// it started by creating `{dir}/{marker}`. Returns the lines it printed.
#[remote]
fn flood(marker: char, dir: PathBuf) -> u64 {
    std::fs::write(dir.join(marker.to_string()), "").unwrap();
    let body = marker.to_string().repeat(LINE - 13);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut lines = 0u64;
    while lines * (LINE as u64) < FLOOD_BYTES || !dir.join("stop").exists() {
        writeln!(out, "{marker}{lines:010} {body}").unwrap();
        lines += 1;
    }
    out.flush().unwrap();
    lines
}

#[remote]
fn double(x: u64) -> u64 {
    x * 2
}

/// The program: two workers flood stdout with long lines at once while a
/// third answers calls; then it stops them and says how many lines each
/// printed.
#[test]
fn flood_program() {
    if !playing("flood_program") {
        return;
    }
    let dir = PathBuf::from(std::env::var_os(ENV_DIR).unwrap());
    let pool = Pool::builder().workers(3).build().unwrap();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| pool.call(proc!(flood('A', dir.clone()))).unwrap());
        let b = s.spawn(|| pool.call(proc!(flood('B', dir.clone()))).unwrap());
        let started = |marker: &str| dir.join(marker).exists();
        assert!(support::wait_for(Duration::from_secs(120), || started("A") && started("B")));
        // Both workers print without pause now: calls still go through.
        for x in 0..50 {
            assert_eq!(pool.call(proc!(double(x))).unwrap(), 2 * x);
        }
        std::fs::write(dir.join("stop"), "").unwrap();
        (a.join().unwrap(), b.join().unwrap())
    });
    println!("FLOODED A {a} B {b}");
}

#[test]
fn lines_of_concurrent_workers_never_mix_and_arrive_in_order() {
    let dir = support::TempDir::new("forwarding-flood");
    // Read as it comes: 200 MB need not be held.
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "flood_program", "--nocapture"])
        .env(ENV_CHILD, "flood_program")
        .env(ENV_DIR, &dir.0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = support::KillOnDrop(child);
    let mut stdout = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let (mut a, mut b) = (0u64, 0u64);
    let mut counts = None;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        // libtest's own unfinished line comes first.
        let text = line.trim_end_matches('\n');
        let text = text.strip_prefix("test flood_program ... ").unwrap_or(text);
        if let Some(marker) = ['A', 'B'].into_iter().find(|&m| text.starts_with(m)) {
            // One worker's bytes only, the whole line, in order.
            let next = if marker == 'A' { &mut a } else { &mut b };
            let expected = format!(
                "{marker}{next:010} {}",
                marker.to_string().repeat(LINE - 13)
            );
            assert!(
                text == expected,
                "line {next} of {marker} is mixed or out of order: {}...",
                &text[..text.len().min(80)]
            );
            *next += 1;
        } else if let Some(rest) = text.strip_prefix("FLOODED A ") {
            let (x, y) = rest.split_once(" B ").unwrap();
            counts = Some((x.parse::<u64>().unwrap(), y.parse::<u64>().unwrap()));
        }
        line.clear();
    }
    assert!(child.0.wait().unwrap().success());
    assert_eq!(counts, Some((a, b)), "every line arrived");
    assert!(a * LINE as u64 >= FLOOD_BYTES && b * LINE as u64 >= FLOOD_BYTES);
}

#[remote]
fn say(text: String) {
    println!("{text}");
}

/// The program: a test like any other, whose worker prints; it fails when
/// [`ENV_FAIL`] is set.
#[test]
fn captured_program() {
    if !playing("captured_program") {
        return;
    }
    let pool = Pool::builder().workers(1).build().unwrap();
    pool.call(proc!(say("worker-line-for-the-capture".to_owned())))
        .unwrap();
    assert!(std::env::var_os(ENV_FAIL).is_none(), "failing as asked");
}

#[test]
fn libtest_shows_a_workers_prints_only_when_the_test_fails() {
    let (stdout, stderr, passed) = play("captured_program", false, &[]);
    assert!(passed, "stderr: {stderr}");
    assert!(
        !stdout.contains("worker-line-for-the-capture"),
        "captured: {stdout}"
    );
    let (stdout, _, passed) = play("captured_program", false, &[(ENV_FAIL, "1")]);
    assert!(!passed);
    let shown = stdout
        .split_once("---- captured_program stdout ----")
        .map(|(_, section)| section)
        .unwrap_or_default();
    assert!(
        shown.contains("worker-line-for-the-capture\n"),
        "the failure shows the worker's line: {stdout}"
    );
}

#[remote]
fn greet_both() -> u32 {
    println!("to stdout\nand more");
    eprint!("to stderr, unfinished");
    std::process::id()
}

/// The program: a prefixed pool whose worker prints on both streams.
#[test]
fn prefixed_program() {
    if !playing("prefixed_program") {
        return;
    }
    let pool = Pool::builder()
        .workers(1)
        .output(Output::Prefixed)
        .build()
        .unwrap();
    let pid = pool.call(proc!(greet_both())).unwrap();
    println!("WORKER {pid}");
}

#[test]
fn prefixed_lines_name_their_worker() {
    let (stdout, stderr, passed) = play("prefixed_program", true, &[]);
    assert!(passed, "stderr: {stderr}");
    let pid = stdout
        .lines()
        .find_map(|line| line.strip_prefix("WORKER "))
        .expect("the program says its worker");
    let prefix = format!("[procs worker {pid}] ");
    assert!(
        stdout.contains(&format!("{prefix}to stdout\n{prefix}and more\n")),
        "stdout: {stdout}"
    );
    assert!(
        stderr.contains(&format!("{prefix}to stderr, unfinished")),
        "stderr: {stderr}"
    );
}

/// What a process's fd points to: device and inode.
fn identity(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

#[remote]
fn my_streams() -> ((u64, u64), (u64, u64)) {
    (
        identity(Path::new("/proc/self/fd/1")),
        identity(Path::new("/proc/self/fd/2")),
    )
}

#[test]
fn inherit_hands_workers_the_parents_streams_and_forward_does_not() {
    let ours = (
        identity(Path::new("/proc/self/fd/1")),
        identity(Path::new("/proc/self/fd/2")),
    );
    let inherit = Pool::builder()
        .workers(1)
        .output(Output::Inherit)
        .build()
        .unwrap();
    assert_eq!(inherit.call(proc!(my_streams())).unwrap(), ours);
    let forward = Pool::builder().workers(1).build().unwrap();
    let theirs = forward.call(proc!(my_streams())).unwrap();
    assert!(theirs.0 != ours.0 && theirs.1 != ours.1);
}

#[remote]
fn shout(lines: usize) -> usize {
    for n in 0..lines {
        println!("shout {n:06} {}", "!".repeat(1000));
    }
    lines
}

/// The program: calls whose workers print more than a pipe holds, made
/// while the caller holds the parent's stdout locked.
#[test]
fn held_stdout_program() {
    if !playing("held_stdout_program") {
        return;
    }
    let pool = Pool::builder().workers(2).build().unwrap();
    let held = std::io::stdout().lock();
    let printed: usize = pool
        .pmap(shout, [1000, 1000, 1000])
        .map(Result::unwrap)
        .sum();
    drop(held);
    drop(pool);
    println!("SHOUTED {printed}");
}

#[test]
fn a_caller_holding_stdout_does_not_stall_its_calls() {
    let exe = std::env::current_exe().unwrap();
    let out = support::TempDir::new("forwarding-held");
    let path = out.0.join("stdout");
    let child = Command::new(exe)
        .args(["--exact", "held_stdout_program", "--nocapture"])
        .env(ENV_CHILD, "held_stdout_program")
        .stdout(std::fs::File::create(&path).unwrap())
        .spawn()
        .unwrap();
    let mut child = support::KillOnDrop(child);
    let ended = support::wait_for(Duration::from_secs(300), || {
        child.0.try_wait().unwrap().is_some()
    });
    assert!(ended, "the calls stalled behind the held stdout");
    assert!(child.0.wait().unwrap().success());
    let stdout = std::fs::read_to_string(&path).unwrap();
    assert!(stdout.contains("SHOUTED 3000\n"), "{stdout}");
    let shouted = stdout.lines().filter(|l| l.contains("shout ")).count();
    assert_eq!(shouted, 3000, "every line arrived");
}

/// Prints a line naming its input, which it returns.
#[remote]
fn announce(i: u64) -> u64 {
    println!("task {i}");
    i
}

/// The program: a stream of one-call messages, pipelined (their answers
/// arrive several to a read), each printing a line; the caller prints a
/// line for each result as it gets it.
#[test]
fn pipelined_program() {
    if !playing("pipelined_program") {
        return;
    }
    let pool = Pool::builder().workers(2).chunk_size(1).build().unwrap();
    for result in pool.pmap(announce, 0..3000u64) {
        println!("result {}", result.unwrap());
    }
}

#[test]
fn what_a_pipelined_call_prints_comes_before_its_result() {
    let (stdout, stderr, passed) = play("pipelined_program", true, &[]);
    assert!(passed, "stderr: {stderr}");
    let mut printed = std::collections::HashSet::new();
    let mut results = 0;
    for line in stdout.lines() {
        // The first follows libtest's "test pipelined_program ... ".
        if let Some((_, task)) = line.split_once("task ") {
            printed.insert(task.to_owned());
        } else if let Some(result) = line.strip_prefix("result ") {
            assert!(
                printed.contains(result),
                "result {result} came before its task's line"
            );
            results += 1;
        }
    }
    assert_eq!(results, 3000, "stdout: {stdout}");
}
