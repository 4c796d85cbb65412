//! `pmap` encodes its calls' arguments straight into batches; the calls that
//! cannot be packed (arguments with large byte buffers, which travel
//! detached, or arguments that fail to encode) go on their own and keep
//! their place among the others.

use std::collections::BTreeMap;

use procs::{Error, Payload, Pool, remote};
use serde::{Deserialize, Serialize, Serializer};

#[remote]
fn checksum(data: Vec<u8>) -> (usize, u64) {
    (data.len(), fnv(&data))
}

/// A number that refuses to be encoded when it is a multiple of 13.
#[derive(Debug, Clone, Copy, Deserialize)]
struct Picky(u32);

impl Serialize for Picky {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 13 == 0 {
            return Err(serde::ser::Error::custom(format!("{} is unlucky", self.0)));
        }
        self.0.serialize(serializer)
    }
}

#[remote]
fn unpick(n: Picky) -> u32 {
    n.0 + 1
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn pool() -> Pool {
    Pool::builder().workers(2).build().expect("pool starts")
}

/// Small buffers (packed) with large ones (detached, alone) between them.
fn mixed() -> Vec<Vec<u8>> {
    (0..200u32)
        .map(|i| {
            let len = match i % 7 {
                0 => 100 << 10,
                3 => 0,
                _ => (i as usize) * 3,
            };
            (0..len).map(|j| (j as u32 ^ i) as u8).collect()
        })
        .collect()
}

#[test]
fn large_arguments_among_packed_ones_keep_their_place() {
    let pool = pool();
    let inputs = mixed();
    let want: Vec<(usize, u64)> = inputs.iter().map(|d| (d.len(), fnv(d))).collect();
    let got: Vec<_> = pool
        .pmap(checksum, inputs.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, want);
    let unordered: BTreeMap<usize, (usize, u64)> = pool
        .pmap_unordered(checksum, inputs)
        .map(|(index, result)| (index, result.unwrap()))
        .collect();
    assert_eq!(unordered.into_values().collect::<Vec<_>>(), want);
}

#[test]
fn an_argument_that_fails_to_encode_fails_its_call_alone() {
    let pool = pool();
    let check = |index: usize, result: Result<u32, Error>| match result {
        Ok(n) => {
            assert_ne!(index % 13, 0, "call {index} should have failed");
            assert_eq!(n as usize, index + 1);
        }
        Err(Error::Encode { id, payload, .. }) => {
            assert_eq!(index % 13, 0, "call {index} failed");
            assert_eq!(payload, Payload::Arguments);
            assert!(id.ends_with("unpick"), "{id}");
        }
        Err(other) => panic!("call {index}: {other}"),
    };
    let inputs: Vec<Picky> = (0..100).map(Picky).collect();
    let ordered: Vec<_> = pool.pmap(unpick, inputs.clone()).collect();
    assert_eq!(ordered.len(), 100);
    for (index, result) in ordered.into_iter().enumerate() {
        check(index, result);
    }
    let mut seen = 0;
    for (index, result) in pool.pmap_unordered(unpick, inputs) {
        check(index, result);
        seen += 1;
    }
    assert_eq!(seen, 100);
}

#[remote]
fn fragile(n: u32) -> u32 {
    if n % 50 == 7 {
        panic!("boom {n}");
    }
    n * 2
}

#[test]
fn panics_in_a_batch_fail_their_own_calls_with_their_own_messages() {
    let pool = pool();
    // Twice: the second time the batches are large, several panics each.
    for _ in 0..2 {
        let results: Vec<_> = pool.pmap(fragile, 0..1000u32).collect();
        for (n, result) in results.into_iter().enumerate() {
            match result {
                Ok(doubled) => {
                    assert_ne!(n % 50, 7, "call {n} should have panicked");
                    assert_eq!(doubled as usize, 2 * n);
                }
                Err(error @ Error::Panicked { .. }) => {
                    assert_eq!(n % 50, 7, "call {n} panicked: {error}");
                    let text = error.to_string();
                    assert!(text.contains(&format!("boom {n}")), "call {n}: {text}");
                }
                Err(other) => panic!("call {n}: {other}"),
            }
        }
    }
}

/// Answers of every shape a batch can mix, by `i`: most are small plain
/// values (which travel as a run), every 7th a buffer large enough to
/// travel detached, every 11th empty, and call `50k + 7` panics.
#[remote]
fn shaped(i: u32) -> Vec<u8> {
    if i % 50 == 7 {
        panic!("shaped {i}");
    }
    expected_shape(i)
}

fn expected_shape(i: u32) -> Vec<u8> {
    let len = match i {
        _ if i % 7 == 0 => 100 << 10,
        _ if i % 11 == 0 => 0,
        _ => (i as usize % 40) * 5,
    };
    (0..len).map(|j| (j as u32 ^ i) as u8).collect()
}

#[test]
fn answers_that_cannot_travel_as_a_run_keep_their_place_among_those_that_can() {
    let pool = pool();
    // Twice: the second time the batches are large, with every shape in each.
    for _ in 0..2 {
        let results: Vec<_> = pool.pmap(shaped, 0..700u32).collect();
        assert_eq!(results.len(), 700);
        for (i, result) in (0..).zip(results) {
            match result {
                Ok(bytes) => {
                    assert_ne!(i % 50, 7, "call {i} should have panicked");
                    assert_eq!(bytes, expected_shape(i), "call {i}");
                }
                Err(error @ Error::Panicked { .. }) if i % 50 == 7 => {
                    assert!(error.to_string().contains(&format!("shaped {i}")));
                }
                Err(other) => panic!("call {i}: {other}"),
            }
        }
    }
}

#[remote]
fn lucky(i: u32) -> Picky {
    Picky(i)
}

#[test]
fn results_that_fail_to_encode_fail_their_own_calls_in_a_batch() {
    let pool = pool();
    for _ in 0..2 {
        for (i, result) in (0..).zip(pool.pmap(lucky, 0..500u32)) {
            match result {
                Ok(picky) => {
                    assert_ne!(i % 13, 0, "call {i} should have failed");
                    assert_eq!(picky.0, i);
                }
                Err(Error::Encode {
                    payload: Payload::Result,
                    ..
                }) => assert_eq!(i % 13, 0, "call {i} failed to encode"),
                Err(other) => panic!("call {i}: {other}"),
            }
        }
    }
}

#[test]
fn a_result_over_the_message_limit_fails_alone_in_its_batch() {
    // Under the limit: every small answer and a batch of them; over it: the
    // 100 KiB answers, detached or not.
    let pool = Pool::builder()
        .workers(2)
        .max_message_size(80 << 10)
        .build()
        .expect("pool starts");
    for _ in 0..2 {
        for (i, result) in (0..).zip(pool.pmap(shaped, 0..300u32)) {
            match result {
                Ok(bytes) => {
                    assert!(i % 7 != 0 && i % 50 != 7, "call {i} should have failed");
                    assert_eq!(bytes, expected_shape(i), "call {i}");
                }
                Err(Error::TooLarge { limit, .. }) if i % 7 == 0 => {
                    assert_eq!(limit, 80 << 10);
                }
                Err(Error::Panicked { .. }) if i % 50 == 7 => {}
                Err(other) => panic!("call {i}: {other}"),
            }
        }
    }
}
