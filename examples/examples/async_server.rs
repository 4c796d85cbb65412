//! An async server that hands CPU-heavy and crash-prone work to procs: a
//! tokio TCP service answers `primes N` (counted in a worker process) and
//! `crash` (a task that aborts its worker) while a heartbeat keeps ticking on
//! the same runtime, because awaiting a call never blocks the executor.
//!
//! The program starts the server on a loopback port, sends it a few
//! requests from concurrent clients, prints the answers and the heartbeat
//! count, and exits. Run with `cargo run --release --example async_server`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use procs::{call_async, proc, remote};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// CPU-heavy work: the primes below `n`, by trial division.
#[remote]
fn primes_below(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// Crash-prone work: a native library that aborts, say.
#[remote]
fn crash() -> u64 {
    std::process::abort()
}

/// Answers one request line.
async fn answer(line: &str) -> String {
    let mut words = line.split_whitespace();
    let result = match (words.next(), words.next().map(str::parse::<u64>)) {
        (Some("primes"), Some(Ok(n))) => call_async(proc!(primes_below(n))).await,
        (Some("crash"), None) => call_async(proc!(crash())).await,
        _ => return format!("error: unknown request `{line}`"),
    };
    match result {
        Ok(value) => format!("ok {value}"),
        // The worker died; the server, and the other requests, go on.
        Err(error) => format!("failed: {error}"),
    }
}

async fn serve(listener: TcpListener) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let reply = answer(&line).await;
                if write
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

async fn request(addr: std::net::SocketAddr, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    Ok(reply.trim_end().to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    procs::init();
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("async_server: cannot listen on loopback: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(serve(listener));

    // One thread runs everything: if a call blocked it, this would stop.
    let beats = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let beats = beats.clone();
        async move {
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            loop {
                interval.tick().await;
                beats.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let started = Instant::now();
    let requests = [
        "primes 3000000",
        "crash",
        "primes 2000000",
        "primes 1000000",
        "bogus",
    ];
    let clients: Vec<_> = requests
        .iter()
        .map(|line| tokio::spawn(request(addr, line)))
        .collect();
    let mut ok = true;
    for (line, client) in requests.iter().zip(clients) {
        match client.await {
            Ok(Ok(reply)) => println!("{line:<15} -> {reply}"),
            Ok(Err(error)) => {
                println!("{line:<15} -> i/o error: {error}");
                ok = false;
            }
            Err(error) => {
                println!("{line:<15} -> client task failed: {error}");
                ok = false;
            }
        }
    }
    let elapsed = started.elapsed();
    let beats = beats.load(Ordering::Relaxed);
    println!(
        "heartbeat: {beats} beats in {:.2} s on the server's one thread",
        elapsed.as_secs_f64()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
