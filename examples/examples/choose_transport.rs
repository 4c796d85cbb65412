//! Picking a transport per pool: the default one (`pipe` unless only `ipc`
//! is enabled), and `ipc` explicitly for a call with a large argument, which
//! then crosses through shared memory instead of the socket.
//!
//! Run with `cargo run --release -p widefinder --features ipc --example choose_transport`.

use procs::transport::Transport;
use procs::{DefaultTransport, IpcTransport, Pool, proc, remote};

/// Sums a large buffer in a worker.
#[remote]
fn checksum(data: Vec<u8>) -> u64 {
    data.iter().map(|&b| u64::from(b)).sum()
}

fn name_of<T: Transport>(_: &T) -> &'static str {
    T::NAME
}

fn main() -> Result<(), procs::Error> {
    procs::init();
    let data: Vec<u8> = (0..64 << 20).map(|i| (i % 251) as u8).collect();
    let expected = checksum(data.clone());

    let default = DefaultTransport::default();
    println!("default transport: {}", name_of(&default));
    let pool = Pool::builder().transport(default).workers(2).build()?;
    assert_eq!(pool.call(proc!(checksum(data.clone())))?, expected);

    let ipc = Pool::builder()
        .transport(IpcTransport::default())
        .workers(2)
        .build()?;
    assert_eq!(ipc.call(proc!(checksum(data)))?, expected);
    println!("64 MiB checksum over both transports: {expected}");
    Ok(())
}
