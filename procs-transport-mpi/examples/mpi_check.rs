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
            check_all();
            if let Some(log) = log {
                widefinder(&log);
            }
            eprintln!("mpi_check: all checks passed");
            ExitCode::SUCCESS
        }
    }
}

fn check_all() {
    let size = procs_transport_mpi::world_size().expect("under MPI");
    assert!(size >= 2, "run with at least 2 ranks (mpirun -np 3)");
    let workers = size - 1;
    let pool = Pool::builder()
        .attach(MpiTransport::new().expect("rank 0 of an MPI job"))
        .build()
        .expect("the pool attaches");
    assert_eq!(pool.workers(), workers);

    step("every worker rank serves, none is rank 0", || {
        let me = std::process::id();
        let seen: Vec<(Option<usize>, u32)> = pool
            .pmap(whoami_after, vec![100u64; workers * 3])
            .collect::<Result<_, _>>()
            .unwrap();
        for (rank, pid) in &seen {
            let rank = rank.expect("a worker rank");
            assert!((1..size).contains(&rank), "rank {rank} of {size}");
            assert_ne!(*pid, me, "a call ran on rank 0");
        }
        let mut ranks: Vec<usize> = seen.iter().filter_map(|s| s.0).collect();
        ranks.sort_unstable();
        ranks.dedup();
        println!("  calls ran on ranks {ranks:?}");
        assert_eq!(
            ranks,
            (1..size).collect::<Vec<_>>(),
            "not every rank served"
        );
    });

    step("round trips", || {
        let squares: Vec<u64> = pool
            .pmap(square, 0..2000u64)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(squares, (0..2000u64).map(|x| x * x).collect::<Vec<_>>());
        let started = Instant::now();
        for i in 0..300u64 {
            assert_eq!(pool.call(proc!(square(i))).unwrap(), i * i);
        }
        println!(
            "  300 calls one after another: {:.2?} each",
            started.elapsed() / 300
        );
        let text = "héllo, wörld ".repeat(100);
        assert_eq!(pool.call(proc!(echo(text.clone()))).unwrap(), text);
        let (a, b, c) = pool.call((
            proc!(square(12)),
            proc!(echo("mixed".into())),
            proc!(whoami()),
        ));
        assert_eq!((a.unwrap(), b.unwrap().as_str()), (144, "mixed"));
        assert!(c.unwrap().0.is_some());
    });

    step("ordering", || {
        let inputs: Vec<(u32, u64)> = (0..60u32).map(|i| (i, u64::from(i * 7 % 5) * 3)).collect();
        let results: Vec<(u32, Vec<u8>)> = pool
            .pmap(slow_tagged, inputs.clone())
            .collect::<Result<_, _>>()
            .unwrap();
        for ((i, _), (j, payload)) in inputs.iter().zip(&results) {
            assert_eq!(i, j, "results out of order");
            assert_eq!(payload.len(), (*i as usize * 997) % 70_000);
            assert!(payload.iter().all(|&b| b == *i as u8));
        }
    });

    step("empty payloads", || {
        pool.call(proc!(nothing())).unwrap();
        assert_eq!(pool.call(proc!(echo(String::new()))).unwrap(), "");
        assert!(pool.call(proc!(echo_bytes(Vec::new()))).unwrap().is_empty());
        assert!(pool.call(proc!(make_bytes(0))).unwrap().is_empty());
        let units: Vec<()> = pool
            .call((0..50).map(|_| proc!(nothing())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(units.len(), 50);
    });

    step(
        "large payloads (16 and 64 MiB each way, sizes around MPI's eager limits)",
        || {
            for len in [
                4095,
                4096,
                4097,
                12 << 10,
                (64 << 10) - 1,
                64 << 10,
                (64 << 10) + 1,
                1 << 20,
            ] {
                let bytes = pattern(len);
                assert_eq!(pool.call(proc!(echo_bytes(bytes.clone()))).unwrap(), bytes);
            }
            for mib in [16usize, 64] {
                let len = mib << 20;
                let started = Instant::now();
                let bytes = pattern(len);
                let back = pool.call(proc!(echo_bytes(bytes.clone()))).unwrap();
                assert!(back == bytes, "{mib} MiB came back changed");
                let made = pool.call(proc!(make_bytes(len))).unwrap();
                assert!(made == bytes, "{mib} MiB made by a worker differ");
                println!(
                    "  {mib} MiB: there and back, then back alone, in {:.2?}",
                    started.elapsed()
                );
            }
        },
    );

    step("a panic is a task error; the pool still serves", || {
        match pool.call(proc!(boom(7))) {
            Err(Error::Panicked { panic, .. }) => assert_eq!(panic.message, "boom at 7"),
            other => panic!("expected a panic, got {other:?}"),
        }
        let mixed: Vec<Result<u64, Error>> = pool
            .call((0..10u64).map(|i| {
                if i == 4 {
                    proc!(boom(i))
                } else {
                    proc!(square(i))
                }
            }))
            .collect();
        for (i, result) in mixed.iter().enumerate() {
            match (i, result) {
                (4, Err(Error::Panicked { panic, .. })) => assert_eq!(panic.message, "boom at 4"),
                (4, other) => panic!("expected a panic, got {other:?}"),
                (i, Ok(v)) => assert_eq!(*v, (i * i) as u64),
                (_, Err(e)) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(pool.call(proc!(square(9))).unwrap(), 81);
    });

    step("message limits fail their call, not the pool", || {
        let small = Pool::builder()
            .attach(MpiTransport::new().unwrap())
            .max_message_size(1 << 20)
            .build()
            .unwrap();
        let request = small.call(proc!(echo_bytes(vec![1; 2 << 20])));
        assert!(
            matches!(request, Err(Error::TooLarge { .. })),
            "request: {request:?}"
        );
        let answer = small.call(proc!(make_bytes(2 << 20)));
        let answer = answer.expect_err("a 2 MiB answer over a 1 MiB limit");
        println!(
            "  an answer over the limit: {answer} ({:?})",
            std::error::Error::source(&answer).map(ToString::to_string)
        );
        assert_eq!(small.call(proc!(make_bytes(1000))).unwrap(), pattern(1000));
        assert_eq!(pool.call(proc!(square(5))).unwrap(), 25);
    });

    step(
        "settings an attached pool cannot honour are refused",
        || {
            let refusals = [
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .timeout(Duration::from_secs(1))
                    .build(),
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .max_tasks_per_worker(5)
                    .build(),
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .workers(workers + 1)
                    .build(),
            ];
            for refusal in refusals {
                assert!(
                    matches!(refusal, Err(Error::InvalidSetting { .. })),
                    "{refusal:?}"
                );
            }
        },
    );

    step(
        "a per-call deadline is refused on a rank, which procs cannot kill",
        || {
            let late = pool.call(proc!(nap(300)).timeout(Duration::from_millis(50)));
            assert!(
                matches!(
                    late,
                    Err(Error::InvalidSetting {
                        setting: "timeout",
                        ..
                    })
                ),
                "{late:?}"
            );
            assert_eq!(pool.call(proc!(square(6))).unwrap(), 36);
        },
    );

    step(
        "the default pool attaches to the ranks, next to other pools",
        || {
            assert_eq!(Pool::global().workers(), workers);
            let (rank, pid) = call(proc!(whoami())).unwrap();
            assert!(rank.is_some_and(|r| r >= 1), "{rank:?}");
            assert_ne!(pid, std::process::id());
            // Three pools at once, from three threads, on the same ranks.
            std::thread::scope(|s| {
                let a = s.spawn(|| pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>());
                let b = s.spawn(|| pool.pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>());
                let c = s.spawn(|| {
                    let third = Pool::builder()
                        .attach(MpiTransport::new().unwrap())
                        .build()
                        .unwrap();
                    third.pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>()
                });
                let expected: Vec<u64> = (0..500u64).map(|x| x * x).collect();
                for handle in [a, b, c] {
                    assert_eq!(handle.join().unwrap().unwrap(), expected);
                }
            });
            // Pools come and go; the ranks stay.
            for _ in 0..20 {
                let short = Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .build()
                    .unwrap();
                assert_eq!(short.call(proc!(square(3))).unwrap(), 9);
            }
        },
    );

    step(
        "a local pool on rank 0 spawns workers that are not ranks",
        || {
            // Its workers inherit the launcher's variables from rank 0; they
            // must not take themselves for ranks.
            let local = Pool::builder()
                .transport(procs::PipeTransport::default())
                .workers(2)
                .build()
                .unwrap();
            let (rank, pid) = local.call(proc!(whoami())).unwrap();
            assert_eq!(rank, None, "a local worker joined the MPI job");
            assert_ne!(pid, std::process::id());
            assert_eq!(local.call(proc!(square(11))).unwrap(), 121);
        },
    );

    step("rank 0 sleeps while the ranks work", || {
        let tasks = workers * 2;
        let (cpu_before, started) = (cpu_time(), Instant::now());
        let naps: Vec<u64> = pool
            .pmap(nap, vec![1000u64; tasks])
            .collect::<Result<_, _>>()
            .unwrap();
        let (cpu, wall) = (cpu_time() - cpu_before, started.elapsed());
        assert_eq!(naps.len(), tasks);
        let share = cpu.as_secs_f64() / wall.as_secs_f64();
        println!(
            "  {tasks} tasks of 1 s: {wall:.2?} wall, rank 0 used {cpu:.2?} of CPU ({:.1}%)",
            share * 100.0
        );
        assert!(
            share < 0.5,
            "rank 0 used {:.0}% of a core while waiting",
            share * 100.0
        );
    });

    step("the quickstart", quickstart);
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
