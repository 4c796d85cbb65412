use procs::{Pool, remote};
use std::time::Instant;

#[remote]
fn inc(x: u64) -> u64 {
    x + 1
}

#[remote]
fn echo(v: Vec<u8>) -> Vec<u8> {
    v
}

fn main() {
    let pool = Pool::builder().workers(2).build().unwrap();
    // warm
    let _: Vec<u64> = pool.pmap(inc, 0..1000u64).map(Result::unwrap).collect();
    for n in [10_000u64, 100_000, 1_000_000, 1_000_000] {
        let t = Instant::now();
        let s: u64 = pool.pmap(inc, 0..n).map(Result::unwrap).sum();
        let e = t.elapsed();
        println!(
            "pmap {n}: {:?} -> {:.0} tasks/s (sum {s})",
            e,
            n as f64 / e.as_secs_f64()
        );
    }
    if std::env::var_os("ONLY_PMAP").is_some() {
        return;
    }
    let unb = Pool::builder().workers(2).chunk_size(1).build().unwrap();
    let t = Instant::now();
    let n = 10_000u64;
    let _: u64 = unb.pmap(inc, 0..n).map(Result::unwrap).sum();
    let e = t.elapsed();
    println!(
        "unbatched {n}: {:?} -> {:.0} tasks/s",
        e,
        n as f64 / e.as_secs_f64()
    );
    let big = vec![7u8; 256 << 20];
    let t = Instant::now();
    let r = pool.call(procs::proc!(echo(big.clone()))).unwrap();
    let e = t.elapsed();
    println!(
        "256MiB round trip: {:?} -> {:.2} GB/s",
        e,
        2.0 * 256.0 * 1048576.0 / e.as_secs_f64() / 1e9
    );
    assert_eq!(r.len(), big.len());
    let t = Instant::now();
    let c = big.clone();
    let e = t.elapsed();
    println!(
        "memcpy 256MiB: {:?} -> {:.2} GB/s {}",
        e,
        256.0 * 1048576.0 / e.as_secs_f64() / 1e9,
        c.len()
    );
}
