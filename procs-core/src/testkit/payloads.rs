//! Checks of what crosses: values, order, sizes and limits.

use super::deadline::{checks, guarded};
use super::remote::{add, describe, echo, filled, nothing, sleep_then_echo};
use super::support::{Blob, pattern};
use super::{builder, pool};
use crate::proc;
use crate::transport::Transport;

/// Values of several types cross and come back intact; hundreds of small
/// messages follow each other on the same channels.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::round_trips(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn round_trips<T: Transport + Clone>(transport: &T) {
    guarded(&checks::ROUND_TRIPS, transport, |transport: &T| {
        let name = T::NAME;
        let pool = pool(transport, 2);
        let (text, sum) = pool.call((proc!(describe("hello".into(), 5, 3.25)), proc!(add(40, 2))));
        assert_eq!(
            text.unwrap_or_else(|e| panic!("[{name}] {e}")),
            "hello #5 (3.25)"
        );
        assert_eq!(sum.unwrap_or_else(|e| panic!("[{name}] {e}")), 42);
        for i in 0..100u64 {
            let got = pool.call(proc!(add(i, i)));
            assert_eq!(
                got.unwrap_or_else(|e| panic!("[{name}] call {i}: {e}")),
                2 * i
            );
        }
        let sums: Vec<u64> = pool
            .pmap(add, (0..300u64).map(|i| (i, 1)))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] pmap: {e}"));
        assert_eq!(
            sums,
            (1..=300).collect::<Vec<u64>>(),
            "[{name}] pmap results"
        );
        // One call per message: short ones run in bursts, dozens of
        // requests in flight per worker, several sent with one `send_many`.
        let one_each = super::builder(transport, 2)
            .chunk_size(1)
            .build()
            .unwrap_or_else(|e| panic!("[{name}] the pool does not start: {e}"));
        let sums: Vec<u64> = one_each
            .pmap(add, (0..5000u64).map(|i| (i, 1)))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] pmap, one call per message: {e}"));
        assert_eq!(
            sums,
            (1..=5000).collect::<Vec<u64>>(),
            "[{name}] pmap results, one call per message"
        );
        for len in [1, 2, 7, 8, 9, 255, 256, 4095, 4096, 4097] {
            let blob = Blob(pattern(len, len as u8));
            let got = pool.call(proc!(echo(blob.clone())));
            let got = got.unwrap_or_else(|e| panic!("[{name}] echo of {len} bytes: {e}"));
            assert!(
                got == blob,
                "[{name}] echo of {len} bytes came back altered"
            );
        }
    })
}

/// Results come in input order, whatever the tasks' durations and the
/// messages' sizes.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::ordering(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn ordering<T: Transport + Clone>(transport: &T) {
    guarded(&checks::ORDERING, transport, |transport: &T| {
        let name = T::NAME;
        let pool = pool(transport, 3);
        // Early items sleep longest, so later ones finish first.
        let durations = [60, 5, 40, 0, 25, 0, 50, 10, 0, 30, 1, 0];
        let got: Vec<u32> = pool
            .pmap(sleep_then_echo, (0..).zip(durations))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert_eq!(
            got,
            (0..durations.len() as u32).collect::<Vec<_>>(),
            "[{name}] order"
        );
        let sizes = [0, 100, 70_000, 3, 300_000, 65_536, 1 << 20, 12, 200_000, 1];
        let blobs: Vec<Blob> = (0..)
            .zip(sizes)
            .map(|(i, len)| Blob(pattern(len, i)))
            .collect();
        let got: Vec<Blob> = pool
            .pmap(echo, blobs.clone())
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert!(
            got == blobs,
            "[{name}] messages of mixed sizes came back altered or out of order"
        );
    })
}

/// Empty arguments and results, and functions of no argument and no result,
/// cross like any other.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::empty_payloads(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn empty_payloads<T: Transport + Clone>(transport: &T) {
    guarded(&checks::EMPTY_PAYLOADS, transport, |transport: &T| {
        let name = T::NAME;
        let pool = pool(transport, 1);
        for round in 0..3 {
            let got = pool.call(proc!(echo(Blob(Vec::new()))));
            let got = got.unwrap_or_else(|e| panic!("[{name}] empty echo {round}: {e}"));
            assert!(
                got.0.is_empty(),
                "[{name}] an empty payload came back with {got:?}"
            );
            pool.call(proc!(nothing()))
                .unwrap_or_else(|e| panic!("[{name}] unit call {round}: {e}"));
            let got = pool.call(proc!(filled(0, 1)));
            let got = got.unwrap_or_else(|e| panic!("[{name}] empty result {round}: {e}"));
            assert!(
                got.0.is_empty(),
                "[{name}] an empty result came back as {got:?}"
            );
        }
    })
}

/// A 64 MiB argument and a 64 MiB result cross intact, and so do sizes
/// around common pipe and socket buffer sizes.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::large_payloads(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn large_payloads<T: Transport + Clone>(transport: &T) {
    guarded(&checks::LARGE_PAYLOADS, transport, |transport: &T| {
        let name = T::NAME;
        let pool = pool(transport, 1);
        for len in [65_535, 65_536, 65_537, 212_992, 213_000, (1 << 20) + 7] {
            let blob = Blob(pattern(len, 3));
            let got = pool.call(proc!(echo(blob.clone())));
            let got = got.unwrap_or_else(|e| panic!("[{name}] echo of {len} bytes: {e}"));
            assert!(
                got == blob,
                "[{name}] echo of {len} bytes came back altered"
            );
        }
        let big = Blob(pattern(64 << 20, 7));
        let got = pool.call(proc!(echo(big.clone())));
        let got = got.unwrap_or_else(|e| panic!("[{name}] echo of 64 MiB: {e}"));
        assert!(got == big, "[{name}] 64 MiB came back altered ({got:?})");
    })
}

/// A message over the pool's `max_message_size` fails its call, whichever
/// way it goes, and the pool carries on.
///
/// # Examples
///
/// ```no_run
/// # fn run<T: procs_core::transport::Transport + Clone>(my_transport: T) {
/// procs_core::testkit::message_limits(&my_transport);
/// # }
/// ```
///
/// # Panics
///
/// When the transport breaks the contract.
pub fn message_limits<T: Transport + Clone>(transport: &T) {
    guarded(&checks::MESSAGE_LIMITS, transport, |transport: &T| {
        let name = T::NAME;
        let pool = builder(transport, 1)
            .max_message_size(256 << 10)
            .build()
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        let r = pool.call(proc!(echo(Blob(vec![1; 512 << 10]))));
        assert!(
            r.is_err(),
            "[{name}] a 512 KiB argument passed a 256 KiB limit"
        );
        let r = pool.call(proc!(filled(512 << 10, 2)));
        assert!(
            r.is_err(),
            "[{name}] a 512 KiB result passed a 256 KiB limit"
        );
        for len in [10, 100 << 10, 200 << 10] {
            let r = pool.call(proc!(echo(Blob(vec![3; len]))));
            let got = r.unwrap_or_else(|e| panic!("[{name}] {len} bytes under the limit: {e}"));
            assert_eq!(got.0.len(), len, "[{name}] echo under the limit");
        }
    })
}
