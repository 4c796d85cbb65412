//! The `#[remote]` functions the cases run in worker processes.

use procs::remote;

/// Does nothing: what a warm call and a cold start wait for.
#[remote]
pub(crate) fn trivial() {}

/// The trivial `u64 -> u64` task of the stream cases (Python's anchor runs
/// the same `x + 1`).
#[remote]
pub(crate) fn inc(x: u64) -> u64 {
    x + 1
}

/// Returns its argument: a large payload in and the same out.
#[remote]
pub(crate) fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// Real compute for `iterations` steps: a multiply–add–xorshift chain that
/// the compiler can neither vectorise nor fold, so time is linear in
/// `iterations`.
#[remote]
pub(crate) fn spin(iterations: u64) -> u64 {
    let mut x = std::hint::black_box(iterations) ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..iterations {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 29;
    }
    x
}
