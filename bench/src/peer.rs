//! procspawn, the Rust peer a user would pick instead of procs, measured in
//! the same run on the cases it supports.
//!
//! procspawn runs a `fn(A) -> R` in a child process. Its `Pool` keeps warm
//! workers, like procs' pool, and is what every case uses except where
//! procspawn's main API, a plain `spawn` of a fresh process per call, is
//! what a user would write (the cold start, reported beside the pool).
//!
//! Each pooled `spawn` opens two ipc-channel socket pairs and keeps three of
//! their descriptors until its handle is joined, and a pool worker does not
//! take the next call until the previous handle is joined. So a stream of
//! calls must bound its outstanding handles ([`WINDOW`]); unbounded, the
//! caller runs out of file descriptors, which [`probe_fd_exhaustion`]
//! measures in a child process.

use std::collections::VecDeque;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use procspawn::{JoinHandle, Pool};

use crate::report::Report;

/// Outstanding handles in a stream: far below the descriptors a default
/// `ulimit -n` allows, and enough to keep two workers busy.
pub(crate) const WINDOW: usize = 128;

/// How long the descriptor probe may take before it is called hung.
const PROBE_LIMIT: Duration = Duration::from_secs(300);

/// Calls the probe starts at most: past them it reports that it never ran
/// out.
const PROBE_MAX: u64 = 1_000_000;

/// procspawn's entry: in a child it started, runs the call it was sent and
/// exits; returns at once otherwise.
///
/// procs and procspawn each recognise their children by an environment
/// variable of their own (`PROCS_WORKER`, `__PROCSPAWN_CONTENT_PROCESS_ID`)
/// and remove it before anything else runs, so neither mistakes the other's
/// child for its own: a procs worker becomes one before `main` and never
/// reaches this line, and a procspawn child passes through `procs::init()`
/// as an ordinary process.
pub(crate) fn init() {
    procspawn::init();
    // SAFETY: every function this benchmark hands to procspawn is defined in
    // this executable, none in a shared library, which is what procspawn
    // without its `safe-shared-libraries` feature requires.
    unsafe { procspawn::assert_spawn_is_safe() };
}

/// Does nothing: the peer's trivial call (procspawn passes one argument).
fn nothing(_: ()) {}

/// A warm procspawn pool.
pub(crate) struct Peer {
    pool: Pool,
}

impl Peer {
    /// A pool of `workers`, without warming it.
    pub(crate) fn cold(workers: usize) -> Result<Peer, String> {
        let pool = Pool::new(workers).map_err(|e| format!("procspawn pool: {e}"))?;
        Ok(Peer { pool })
    }

    /// A pool of `workers` whose workers have all run calls.
    pub(crate) fn warm(workers: usize) -> Result<Peer, String> {
        let peer = Peer::cold(workers)?;
        peer.stream(64 * workers as u64)?;
        Ok(peer)
    }

    /// One trivial call, waited for.
    pub(crate) fn trivial(&self) -> Result<(), String> {
        self.pool.spawn((), nothing).join().map_err(spawn_error)
    }

    /// `inc` over `0..n`, at most [`WINDOW`] outstanding, checked.
    pub(crate) fn stream(&self, n: u64) -> Result<(), String> {
        let sum: u64 = self.map(crate::remote::inc, 0..n)?.into_iter().sum::<u64>();
        match sum == n * (n + 1) / 2 {
            true => Ok(()),
            false => Err(format!("procspawn: wrong sum {sum}")),
        }
    }

    /// `f` over `inputs` in order, at most [`WINDOW`] handles outstanding.
    pub(crate) fn map<A, R>(
        &self,
        f: fn(A) -> R,
        inputs: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>, String>
    where
        A: serde::Serialize + serde::de::DeserializeOwned,
        R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        let mut outstanding: VecDeque<JoinHandle<R>> = VecDeque::with_capacity(WINDOW);
        let mut results = Vec::new();
        for input in inputs {
            if outstanding.len() == WINDOW {
                let handle = outstanding.pop_front().expect("a full window");
                results.push(handle.join().map_err(spawn_error)?);
            }
            outstanding.push_back(self.pool.spawn(input, f));
        }
        for handle in outstanding {
            results.push(handle.join().map_err(spawn_error)?);
        }
        Ok(results)
    }

    /// `bytes` there and back through one worker.
    pub(crate) fn echo(&self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        self.pool
            .spawn(bytes, crate::remote::echo)
            .join()
            .map_err(spawn_error)
    }
}

/// One trivial call in a fresh process: procspawn's plain `spawn`.
pub(crate) fn spawn_trivial() -> Result<(), String> {
    procspawn::spawn((), nothing).join().map_err(spawn_error)
}

fn spawn_error(error: procspawn::SpawnError) -> String {
    format!("procspawn: {error}")
}

/// Where unbounded use of a procspawn pool breaks: the outstanding handles
/// at the first failed `spawn`, and the descriptor limit it hit.
pub(crate) struct Exhaustion {
    /// `None` if [`PROBE_MAX`] calls never failed.
    pub(crate) handles: Option<u64>,
    pub(crate) fd_limit: u64,
    pub(crate) error: String,
}

/// Runs [`fd_probe_main`] in a child (this binary, with this process's
/// descriptor limit), so that exhausting descriptors harms no other case.
pub(crate) fn probe_fd_exhaustion() -> Result<Exhaustion, String> {
    let mut child = crate::child::command(crate::child::PROCSPAWN_FDS)
        .map_err(|e| e.to_string())?
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the descriptor probe: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > PROBE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the descriptor probe hung".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = String::new();
    let mut stdout = child.stdout.take().expect("stdout is piped");
    stdout
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("the descriptor probe failed: {status}"));
    }
    let report = Report::parse(&text);
    let handles = report.number("handles")? as u64;
    Ok(Exhaustion {
        handles: (handles < PROBE_MAX).then_some(handles),
        fd_limit: report.number("fd_limit")? as u64,
        error: report.all("error").next().unwrap_or("-").to_owned(),
    })
}

/// The probe's child: spawns `inc` calls into a pool of 2 without joining
/// any, until a `spawn` fails (procspawn panics on a failed `socketpair`),
/// and prints `handles N`, `fd_limit N` and `error TEXT`.
pub(crate) fn fd_probe_main() -> i32 {
    let peer = match Peer::cold(2) {
        Ok(peer) => peer,
        Err(error) => {
            eprintln!("procs-bench descriptor probe: {error}");
            return 1;
        }
    };
    // The failure is expected: keep its panic message off stderr, it is
    // reported in the table.
    std::panic::set_hook(Box::new(|_| {}));
    let mut handles = Vec::new();
    let mut error = String::from("-");
    while (handles.len() as u64) < PROBE_MAX {
        let x = handles.len() as u64;
        match std::panic::catch_unwind(|| peer.pool.spawn(x, crate::remote::inc)) {
            Ok(handle) => handles.push(handle),
            Err(panic) => {
                error = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a panic".into());
                break;
            }
        }
    }
    println!("handles {}", handles.len());
    println!("fd_limit {}", fd_limit());
    println!("error {}", error.lines().next().unwrap_or("-"));
    // Killing the pool's workers is all the clean-up there is; the handles'
    // descriptors go with the process.
    peer.pool.kill();
    std::mem::forget(handles);
    0
}

/// The soft limit on open descriptors (`ulimit -n`).
fn fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => 0,
    }
}

/// The time from nothing to a procspawn pool of `workers` and its first
/// result (tearing down is not timed).
pub(crate) fn time_cold_pool(workers: usize) -> Result<f64, String> {
    let started = Instant::now();
    let peer = Peer::cold(workers)?;
    peer.trivial()?;
    let seconds = started.elapsed().as_secs_f64();
    drop(peer);
    Ok(seconds)
}
