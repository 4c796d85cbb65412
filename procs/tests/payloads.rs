//! Byte buffers of every size on every transport: those of 64 KiB or more
//! travel as messages of their own (detached), the others inside their call's
//! message; both must arrive intact, with limits and failures reported as
//! for any other value.

use procs::{Error, Pool, Proc, pmap, proc, remote};

#[remote]
fn echo(data: Vec<u8>) -> Vec<u8> {
    data
}

/// `a`, then `sep` as bytes, then `b` reversed: several buffers in one call.
#[remote]
fn splice(a: Vec<u8>, sep: u32, b: Vec<u8>) -> Vec<u8> {
    let mut out = a;
    out.extend_from_slice(&sep.to_le_bytes());
    out.extend(b.into_iter().rev());
    out
}

#[remote]
fn checksum(data: Vec<u8>) -> (usize, u64) {
    (data.len(), fnv(&data))
}

#[remote]
fn make(len: usize, seed: u8) -> Vec<u8> {
    pattern(len, seed)
}

/// Inside another type a buffer goes through serde, never detached.
#[remote]
fn wrapped(data: Vec<u8>) -> Option<(u8, Vec<u8>)> {
    Some((1, data))
}

#[remote]
fn panic_after_reading(data: Vec<u8>) -> Vec<u8> {
    panic!("read {} bytes", data.len())
}

#[remote]
fn abort_after_reading(data: Vec<u8>) -> u64 {
    if !data.is_empty() {
        std::process::abort();
    }
    0
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8).wrapping_add(seed))
        .collect()
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A pool of 2 on each transport this build has.
#[allow(clippy::vec_init_then_push, reason = "each push depends on a feature")]
fn pools() -> Vec<(&'static str, Pool)> {
    let mut pools = Vec::new();
    #[cfg(feature = "pipe")]
    pools.push((
        "pipe",
        Pool::builder()
            .workers(2)
            .transport(procs::PipeTransport::default())
            .build()
            .unwrap(),
    ));
    #[cfg(feature = "ipc")]
    pools.push((
        "ipc",
        Pool::builder()
            .workers(2)
            .transport(procs::IpcTransport::default())
            .build()
            .unwrap(),
    ));
    assert!(!pools.is_empty(), "no transport enabled");
    pools
}

const SIZES: [usize; 7] = [
    0,
    1,
    (64 << 10) - 1,
    64 << 10,
    (64 << 10) + 1,
    1 << 20,
    5 << 20,
];

#[test]
fn buffers_of_every_size_round_trip() {
    for (name, pool) in pools() {
        for (i, &len) in SIZES.iter().enumerate() {
            let data = pattern(len, i as u8);
            let back = pool.call(proc!(echo(data.clone()))).unwrap();
            assert!(back == data, "{name}: echo of {len} bytes differs");
            let made = pool.call(proc!(make(len, 7))).unwrap();
            assert!(
                made == pattern(len, 7),
                "{name}: result of {len} bytes differs"
            );
            assert_eq!(
                pool.call(proc!(checksum(data.clone()))).unwrap(),
                (len, fnv(&data)),
                "{name}: argument of {len} bytes"
            );
        }
    }
}

#[test]
fn several_buffers_in_one_call_keep_their_places() {
    for (name, pool) in pools() {
        for (a, b) in [(1 << 20, 3), (3, 1 << 20), (1 << 20, 2 << 20), (5, 7)] {
            let (x, y) = (pattern(a, 1), pattern(b, 2));
            let mut want = x.clone();
            want.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
            want.extend(y.iter().rev());
            let got = pool.call(proc!(splice(x, 0xdead_beef, y))).unwrap();
            assert!(got == want, "{name}: splice of {a} and {b} bytes differs");
        }
    }
}

#[test]
fn batches_of_large_buffers_keep_their_order() {
    for (name, pool) in pools() {
        let inputs: Vec<Vec<u8>> = (0..40).map(|i| pattern(100 << 10, i)).collect();
        let want: Vec<(usize, u64)> = inputs.iter().map(|d| (d.len(), fnv(d))).collect();
        let sums: Vec<_> = pool
            .pmap(checksum, inputs.clone())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sums, want, "{name}: checksums");
        let echoed: Vec<Vec<u8>> = pool
            .pmap(echo, inputs.clone())
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(echoed == inputs, "{name}: echoed batch differs");
    }
    // The global pool, with its default transport, too.
    let sizes: Vec<usize> = pmap(make_len, [0usize, 70_000, 1 << 20])
        .map(Result::unwrap)
        .collect();
    assert_eq!(sizes, [0, 70_000, 1 << 20]);
}

#[remote]
fn make_len(len: usize) -> usize {
    make(len, 0).len()
}

#[test]
fn failures_after_large_buffers_leave_the_pool_usable() {
    for (name, pool) in pools() {
        let big = pattern(2 << 20, 9);
        match pool.call(proc!(panic_after_reading(big.clone()))) {
            Err(Error::Panicked { panic, .. }) => {
                assert_eq!(panic.message, format!("read {} bytes", 2 << 20), "{name}");
            }
            other => panic!("{name}: expected a panic, got {other:?}"),
        }
        assert!(
            pool.call(proc!(echo(big.clone()))).unwrap() == big,
            "{name}"
        );
        match pool.call(proc!(abort_after_reading(big.clone()))) {
            Err(Error::WorkerDied { exit, .. }) => {
                assert_eq!(exit.signal(), Some(6), "{name}: {exit}");
            }
            other => panic!("{name}: expected a dead worker, got {other:?}"),
        }
        assert!(
            pool.call(proc!(echo(big.clone()))).unwrap() == big,
            "{name}"
        );
    }
}

#[test]
fn limits_hold_for_large_buffers_on_both_sides() {
    const LIMIT: usize = 1 << 20;
    let pool = Pool::builder()
        .workers(1)
        .max_message_size(LIMIT)
        .build()
        .unwrap();
    match pool.call(proc!(echo(vec![0; LIMIT + 1]))) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), ((LIMIT + 1) as u64, LIMIT as u64));
        }
        other => panic!("expected an argument too large, got {other:?}"),
    }
    match pool.call(proc!(make(LIMIT + 1, 0))) {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!((size, limit), ((LIMIT + 1) as u64, LIMIT as u64));
        }
        other => panic!("expected a result too large, got {other:?}"),
    }
    // Exactly at the limit passes, and the worker is still the first one.
    let at_limit = pattern(LIMIT, 3);
    assert!(pool.call(proc!(echo(at_limit.clone()))).unwrap() == at_limit);
}

#[test]
fn other_encodings_of_buffers_still_decode() {
    for (name, pool) in pools() {
        let big = pattern(1 << 20, 4);
        // By ID the arguments go through serde inline; the worker reads them.
        let id = proc!(echo(Vec::new())).id().unwrap();
        let by_id: Proc<Vec<u8>> = Proc::by_id(id, (big.clone(),));
        assert!(pool.call(by_id).unwrap() == big, "{name}: by ID");
        let got = pool.call(proc!(wrapped(big.clone()))).unwrap();
        assert!(got == Some((1, big.clone())), "{name}: nested");
    }
}
