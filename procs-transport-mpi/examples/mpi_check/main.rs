//! The MPI transport's checks, run under `mpirun` by `.ci/run`:
//!
//! ```text
//! cargo build --release -p procs-transport-mpi --example mpi_check
//! mpirun -np 3 target/release/examples/mpi_check [--log access.log]
//! mpirun -np 3 target/release/examples/mpi_check abort       # a rank aborts: job ends, non-zero
//! mpirun -np 3 target/release/examples/mpi_check exit        # a rank exits: job ends, 118
//! mpirun -np 3 target/release/examples/mpi_check panic-main  # rank 0 panics: job ends, 101
//! mpirun -np 3 target/release/examples/mpi_check exit-busy   # rank 0 exits mid-call: 0
//! ```
//!
//! Without a mode it runs, on rank 0, a conformance-style set of checks over
//! a pool attached to the other ranks (round trips, ordering, empty and
//! large payloads, limits, a panic as a task error, several pools at once),
//! checks that rank 0 sleeps while it waits, runs the quickstart flow on the
//! default pool, and with `--log` prints the Wide Finder top 10 of that log,
//! in the format of the `widefinder` example, to compare with its output.
//!
//! Every check panics with what went wrong; the process then exits 101 and
//! `mpirun` with it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant};

use procs::{Error, MpiTransport, Pool, call, pmap, proc, remote};
use widefinder::{count_procs, scan_file_serial, split, top};

/// The rank and process that ran the call.
mod checks;

#[remote]
fn whoami() -> (Option<usize>, u32) {
    (procs_transport_mpi::rank(), std::process::id())
}

/// The same, after a nap, so that calls spread over the ranks.
#[remote]
fn whoami_after(ms: u64) -> (Option<usize>, u32) {
    sleep(Duration::from_millis(ms));
    whoami()
}

#[remote]
fn square(x: u64) -> u64 {
    x * x
}

#[remote]
fn echo(text: String) -> String {
    text
}

#[remote]
fn echo_bytes(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// `len` bytes of a pattern that a shifted or cut message would not match.
#[remote]
fn make_bytes(len: usize) -> Vec<u8> {
    pattern(len)
}

/// `len` bytes, after `ms`.
#[remote]
fn slow_bytes(ms: u64, len: usize) -> Vec<u8> {
    sleep(Duration::from_millis(ms));
    pattern(len)
}

#[remote]
fn nothing() {}

/// Sleeps `ms`, then returns `i` and a payload whose size varies with it.
#[remote]
fn slow_tagged(i: u32, ms: u64) -> (u32, Vec<u8>) {
    sleep(Duration::from_millis(ms));
    (i, vec![i as u8; (i as usize * 997) % 70_000])
}

#[remote]
fn nap(ms: u64) -> u64 {
    sleep(Duration::from_millis(ms));
    ms
}

#[remote]
fn boom(x: u64) -> u64 {
    panic!("boom at {x}")
}

#[remote]
fn die() -> u64 {
    std::process::abort()
}

#[remote]
fn leave(code: i32) -> u64 {
    std::process::exit(code)
}

// The quickstart's functions (examples/examples/quickstart.rs).

#[remote]
fn slow_function(n: u32, greeting: String, factor: f64) -> String {
    sleep(Duration::from_millis(50));
    format!("{greeting} #{n}, foo={factor}")
}

#[remote]
fn slower_function(x: u64, y: u64) -> u64 {
    sleep(Duration::from_millis(80));
    x.pow(y as u32)
}

#[remote]
fn primes_below(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect()
}

fn main() -> ExitCode {
    procs::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut log: Option<PathBuf> = None;
    let mut mode = "check";
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--log" => log = rest.next().map(PathBuf::from),
            "check" | "abort" | "exit" | "panic-main" | "exit-busy" => mode = arg,
            other => {
                eprintln!("mpi_check: unknown argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    assert!(
        procs_transport_mpi::launched(),
        "run me under mpirun: mpirun -np 3 {}",
        std::env::args().next().unwrap_or_default()
    );
    assert_eq!(
        procs_transport_mpi::rank(),
        Some(0),
        "only rank 0 runs main"
    );
    match mode {
        "abort" => {
            eprintln!("mpi_check: a task aborts its rank; mpirun must end the job");
            let result = call(proc!(die()));
            eprintln!("mpi_check: UNEXPECTED: rank 0 survived, with {result:?}");
            ExitCode::SUCCESS
        }
        "exit" => {
            eprintln!("mpi_check: a task exits its rank; the job must end");
            let result = call(proc!(leave(3)));
            eprintln!("mpi_check: UNEXPECTED: rank 0 survived, with {result:?}");
            ExitCode::SUCCESS
        }
        "exit-busy" => {
            // Rank 0 leaves while a rank is still running a call whose
            // 64 MiB answer nobody will read: the exit must take the answer
            // off the rank's hands, close it and end the job cleanly.
            let busy = std::thread::spawn(|| call(proc!(slow_bytes(500, 64 << 20))));
            sleep(Duration::from_millis(100));
            eprintln!("mpi_check: rank 0 exits with a call in flight");
            drop(busy);
            ExitCode::SUCCESS
        }
        "panic-main" => {
            assert_eq!(call(proc!(square(3))).unwrap(), 9);
            panic!("mpi_check: rank 0 panics on purpose; the job must end with its status");
        }
        _ => {
            checks::check_all();
            if let Some(log) = log {
                widefinder(&log);
            }
            eprintln!("mpi_check: all checks passed");
            ExitCode::SUCCESS
        }
    }
}

/// The flow of examples/examples/quickstart.rs, on the default pool.
#[allow(clippy::approx_constant, reason = "the 2007 announcement passes 3.14")]
fn quickstart() {
    let (r1, r2) = call((
        proc!(slow_function(5, "hello".into(), 3.14)),
        proc!(slower_function(10, 3)),
    ));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    println!("  call:  slow_function(5, \"hello\", 3.14) = {r1:?}");
    println!("  call:  slower_function(10, 3) = {r2}");
    assert_eq!(r1, slow_function(5, "hello".into(), 3.14));
    assert_eq!(r2, slower_function(10, 3));
    let squares: Vec<u64> = call((0..8u64).map(|i| proc!(slower_function(i, 2))))
        .collect::<Result<_, _>>()
        .unwrap();
    println!("  call:  slower_function(i, 2) for i in 0..8 = {squares:?}");
    assert_eq!(squares, (0..8u64).map(|i| i * i).collect::<Vec<_>>());
    let limits = [10_000u64, 20_000, 30_000, 40_000, 50_000, 60_000];
    let counts: Vec<usize> = pmap(primes_below, limits)
        .collect::<Result<_, _>>()
        .unwrap();
    println!("  pmap:  primes_below({limits:?}) = {counts:?}");
    assert_eq!(counts, limits.map(primes_below));
}

/// The Wide Finder top 10 of `log`, scanned on the ranks, printed as the
/// `widefinder` example prints it; checked against a serial scan here.
fn widefinder(log: &std::path::Path) {
    let data = std::fs::read(log).unwrap_or_else(|e| panic!("cannot read {}: {e}", log.display()));
    let chunks = split(&data, (data.len() / 16).max(1 << 16));
    let pool = Pool::builder()
        .attach(MpiTransport::new().unwrap())
        .build()
        .unwrap();
    let counts = count_procs(&pool, log, &chunks, &mut || {}).expect("the scan");
    let serial = scan_file_serial(log).expect("the serial scan");
    assert!(
        counts == serial,
        "the ranks' counts differ from a serial scan"
    );
    println!("\ntop 10 articles:");
    for (count, article) in top(&counts, 10) {
        println!("{count:>8}: {article}");
    }
    println!();
}

fn step(name: &str, check: impl FnOnce()) {
    let started = Instant::now();
    println!("-- {name}");
    check();
    println!("   ok in {:.2?}", started.elapsed());
}

/// This process's user and system CPU time, all threads.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: it succeeded.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}
