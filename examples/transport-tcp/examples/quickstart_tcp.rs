//! The quickstart's calls, through the free `procs::call` and `pmap`, over
//! this crate's TCP transport made the default with
//! `register_default_transport!`. Every result is checked against calling
//! the same functions directly.
//!
//! Run with `cargo run -p procs-transport-tcp-example --example quickstart_tcp`.

use std::process::ExitCode;

use procs::{proc, remote};
use procs_transport_tcp_example::TcpTransport;

// The one line that differs from the quickstart: every pool built without
// an explicit transport, the free functions' included, goes over TCP.
procs::transport::register_default_transport!(TcpTransport::default());

/// Says which transport reached this worker.
#[remote]
fn reached_over() -> String {
    match std::env::var("PROCS_TCP_ADDR") {
        Ok(addr) => format!("tcp {addr}"),
        Err(_) => "another transport".to_owned(),
    }
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
            eprintln!(
                "quickstart_tcp: a result differs from the direct call, or a worker was not reached over TCP"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("quickstart_tcp: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, procs::Error> {
    let over = procs::call(proc!(reached_over()))?;
    println!("call:  reached_over() = {over:?}");
    let limits = [10_000, 20_000, 30_000, 40_000];
    let counts: Vec<usize> = procs::pmap(primes_below, limits).collect::<Result<_, _>>()?;
    println!("pmap:  primes_below({limits:?}) = {counts:?}");
    Ok(over.starts_with("tcp 127.0.0.1:") && counts == limits.map(primes_below))
}
