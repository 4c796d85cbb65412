//! The quickstart (two calls of different types through `call`, then
//! `pmap`), on a pool that runs over this crate's Unix socket transport.
//! Every result is checked against calling the same functions directly.
//!
//! Run with `cargo run -p procs-transport-unix-example --example quickstart_unix`.

use std::process::ExitCode;
use std::thread::sleep;
use std::time::Duration;

use procs::{Pool, proc, remote};
use procs_transport_unix_example::UnixTransport;

/// Stands for slow work that returns text.
#[remote]
#[allow(
    clippy::disallowed_names,
    reason = "the 2007 announcement names it `foo`"
)]
fn slow_function(n: u32, greeting: String, foo: f64) -> String {
    sleep(Duration::from_millis(50));
    format!("{greeting} #{n}, foo={foo}")
}

/// Stands for slower work that returns a number.
#[remote]
fn slower_function(x: u64, y: u64) -> u64 {
    sleep(Duration::from_millis(80));
    x.pow(y as u32)
}

/// A CPU-bound function for `pmap`: the number of primes below `n`.
#[remote]
fn primes_below(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}

fn main() -> ExitCode {
    procs::init();
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("quickstart_unix: a result differs from the direct call");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("quickstart_unix: {error}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::approx_constant, reason = "the 2007 announcement passes 3.14")]
fn run() -> Result<bool, procs::Error> {
    // The only line that differs from the quickstart: an explicit pool over
    // the third-party transport.
    let pool = Pool::builder()
        .transport(UnixTransport::default())
        .build()?;

    let p1 = proc!(slow_function(5, "hello".into(), 3.14));
    let p2 = proc!(slower_function(10, 3));
    let (r1, r2) = pool.call((p1, p2));
    let (r1, r2) = (r1?, r2?);
    println!("call:  slow_function(5, \"hello\", 3.14) = {r1:?}");
    println!("call:  slower_function(10, 3) = {r2}");
    let mut same = r1 == slow_function(5, "hello".into(), 3.14) && r2 == slower_function(10, 3);

    let inputs: Vec<u64> = (0..8).collect();
    let squares: Vec<u64> = pool
        .call(inputs.iter().map(|&i| proc!(slower_function(i, 2))))
        .collect::<Result<_, _>>()?;
    println!("call:  slower_function(i, 2) for i in 0..8 = {squares:?}");
    same &= squares == inputs.iter().map(|&i| i * i).collect::<Vec<_>>();

    let limits = [10_000, 20_000, 30_000, 40_000, 50_000, 60_000];
    let counts: Vec<usize> = pool.pmap(primes_below, limits).collect::<Result<_, _>>()?;
    println!("pmap:  primes_below({limits:?}) = {counts:?}");
    same &= counts == limits.map(primes_below);

    println!(
        "serial check over the `unix-example` transport: {}",
        if same {
            "all results equal the direct calls"
        } else {
            "MISMATCH"
        }
    );
    Ok(same)
}
