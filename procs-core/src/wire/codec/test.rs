use super::*;
use crate::wire::panic::Location;
use crate::wire::value::{decode_elem, decode_value, encode_elem, encode_value, end};

fn sample_messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    encode_hello(
        &mut buf,
        &Hello {
            protocol: PROTOCOL,
            fingerprint: 0xdead_beef,
            pid: 42,
        },
    );
    out.push(buf.clone());
    let tasks = [
        Task {
            seq: 1,
            args: b"abc",
            detached: Lens::Buffers(&[vec![0; 3], vec![]]),
        },
        Task {
            seq: 2,
            args: b"",
            detached: Lens::NONE,
        },
    ];
    let timeout = Some(Duration::from_millis(1500));
    encode_timed_request(&mut buf, "app::f", timeout, tasks.iter().copied());
    out.push(buf.clone());
    begin_response(&mut buf);
    push_outcome(&mut buf, 1, Ok(b"xyz"));
    let failure = Failure::Panicked(PanicInfo {
        message: "boom".into(),
        location: Some(Location {
            file: "a.rs".into(),
            line: 1,
            column: 2,
        }),
        backtrace: None,
    });
    push_outcome(&mut buf, 2, Err(&failure));
    out.push(buf.clone());
    let Failure::Panicked(panic) = failure else {
        unreachable!()
    };
    encode_dying(&mut buf, 7, &panic);
    out.push(buf.clone());
    out.push(encode_overran(9).to_vec());
    out
}

#[test]
fn round_trips_every_message() {
    let msgs = sample_messages();
    assert_eq!(
        decode(&msgs[0]).unwrap(),
        Message::Hello(Hello {
            protocol: PROTOCOL,
            fingerprint: 0xdead_beef,
            pid: 42
        })
    );
    let Message::Request(Request { id, timeout, tasks }) = decode(&msgs[1]).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(id, "app::f");
    assert_eq!(timeout, Some(Duration::from_millis(1500)));
    assert_eq!(tasks.len(), 2);
    assert_eq!((tasks[0].seq, tasks[0].args), (1, &b"abc"[..]));
    assert_eq!(tasks[0].detached.iter().collect::<Vec<_>>(), [3, 0]);
    assert_eq!((tasks[1].seq, tasks[1].args), (2, &b""[..]));
    let Message::Response(outcomes) = decode(&msgs[2]).unwrap() else {
        panic!("not a response")
    };
    assert_eq!(
        outcomes[0],
        Outcome {
            seq: 1,
            result: Ok((b"xyz", Lens::NONE))
        }
    );
    assert!(matches!(&outcomes[1].result, Err(Failure::Panicked(p)) if p.message == "boom"));
    assert!(is_dying(&msgs[3]) && !is_dying(&msgs[2]));
    assert!(matches!(
        decode(&msgs[3]).unwrap(),
        Message::Dying { seq: 7, panic } if panic.message == "boom"
    ));
    assert!(is_overran(&msgs[4]) && !is_overran(&msgs[3]));
    assert_eq!(decode(&msgs[4]).unwrap(), Message::Overran { seq: 9 });
}

#[test]
fn a_request_without_deadline_says_so() {
    let mut buf = Vec::new();
    encode_request(&mut buf, "app::f", std::iter::empty());
    let Message::Request(request) = decode(&buf).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(request.timeout, None);
    // A zero timeout is still a timeout.
    encode_timed_request(&mut buf, "app::f", Some(Duration::ZERO), std::iter::empty());
    let Message::Request(request) = decode(&buf).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(request.timeout, Some(Duration::from_nanos(1)));
}

#[test]
fn every_truncation_is_an_error() {
    for msg in sample_messages() {
        for cut in 0..msg.len() {
            assert!(decode(&msg[..cut]).is_err(), "cut at {cut} of {msg:?}");
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    for mut msg in sample_messages() {
        msg.push(0);
        assert!(decode(&msg).is_err());
    }
}

#[test]
fn lying_lengths_and_counts_are_errors() {
    // A request claiming u32::MAX tasks in a few bytes.
    let mut msg = vec![REQUEST];
    msg.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode(&msg).is_err());
    // A response whose payload claims u64::MAX bytes.
    let mut msg = vec![RESPONSE];
    msg.extend_from_slice(&1u32.to_le_bytes());
    put_leb(&mut msg, 7);
    msg.push(0);
    put_leb(&mut msg, u64::MAX);
    assert!(decode(&msg).is_err());
    // An unknown tag, an unknown outcome kind, a non-UTF-8 ID.
    assert!(decode(&[99]).is_err());
    let mut msg = vec![RESPONSE];
    msg.extend_from_slice(&1u32.to_le_bytes());
    put_leb(&mut msg, 7);
    msg.push(9);
    put_leb(&mut msg, 0);
    assert!(decode(&msg).is_err());
    let mut buf = Vec::new();
    encode_request(
        &mut buf,
        "ab",
        [Task {
            seq: 0,
            args: b"",
            detached: Lens::NONE,
        }]
        .into_iter(),
    );
    // Tag, count, timeout, ID length, ID.
    assert_eq!(&buf[17..19], b"ab");
    buf[17] = 0xff;
    assert!(decode(&buf).is_err());
}

#[test]
fn pseudo_random_bytes_never_panic() {
    // A fixed xorshift stream: reproducible without a dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = sample_messages();
    for round in 0..20_000 {
        let mut msg = seeds[round % seeds.len()].clone();
        let flips = 1 + next() % 4;
        for _ in 0..flips {
            let i = (next() as usize) % msg.len();
            msg[i] = next() as u8;
        }
        let _ = decode(&msg);
    }
}

#[test]
fn values_round_trip_and_refuse_garbage() {
    let bytes = encode_value(&(5u32, String::from("hi"), 2.5f64)).unwrap();
    let back: (u32, String, f64) = decode_value(&bytes).unwrap();
    assert_eq!(back, (5, "hi".into(), 2.5));
    assert!(decode_value::<(u32, String)>(&bytes[..2]).is_err());
    let mut long = bytes.clone();
    long.push(1);
    assert!(decode_value::<(u32, String, f64)>(&long).is_err());
    // A Vec claiming an absurd length is an error, not an allocation.
    let absurd = encode_value(&u64::MAX).unwrap();
    assert!(decode_value::<Vec<u8>>(&absurd).is_err());
}

mod prop {
    use proptest::prelude::*;

    use super::*;
    use crate::contract::frame::{read_frame, write_frame};

    fn config() -> ProptestConfig {
        // Bounded so CI stays fast; raise PROPTEST_CASES for a longer hunt.
        ProptestConfig {
            cases: 2048,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_mutated_messages(
            which in 0usize..3,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let mut msg = sample_messages().swap_remove(which);
            for (at, byte) in edits {
                let i = at % msg.len();
                msg[i] = byte;
            }
            msg.truncate(cut % (msg.len() + 1));
            let _ = decode(&msg);
        }

        #[test]
        fn requests_round_trip(
            id in "[a-z:_]{0,24}",
            tasks in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..8),
        ) {
            let mut buf = Vec::new();
            encode_request(&mut buf, &id, tasks.iter().map(|(seq, args)| Task { seq: *seq, args, detached: Lens::NONE }));
            let Message::Request(back) = decode(&buf).unwrap() else { panic!("not a request") };
            prop_assert_eq!(back.id, id.as_str());
            prop_assert_eq!(back.tasks.len(), tasks.len());
            for (task, (seq, args)) in back.tasks.iter().zip(&tasks) {
                prop_assert_eq!((task.seq, task.args), (*seq, args.as_slice()));
            }
        }

        #[test]
        fn frames_never_allocate_past_the_limit(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            limit in 0usize..32,
        ) {
            // Whatever the header claims, a frame over the limit is refused
            // and one within it is at most `limit` bytes.
            let mut reader = &bytes[..];
            if let Ok(Some(frame)) = read_frame(&mut reader, limit) {
                prop_assert!(frame.len() <= limit);
            }
        }

        #[test]
        fn frames_round_trip(msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..6)) {
            let mut wire = Vec::new();
            for msg in &msgs {
                write_frame(&mut wire, msg).unwrap();
            }
            let mut reader = &wire[..];
            for msg in &msgs {
                prop_assert_eq!(&read_frame(&mut reader, 100).unwrap().unwrap(), msg);
            }
            prop_assert!(read_frame(&mut reader, 100).unwrap().is_none());
        }
    }
}

#[test]
fn byte_vectors_take_the_fast_path_with_bincode_s_bytes() {
    for len in [0usize, 1, 250, 251, 252, 65_535, 65_536, 70_000] {
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut fast = Vec::new();
        encode_elem(&bytes, &mut fast).unwrap();
        assert_eq!(fast, encode_value(&bytes).unwrap(), "length {len}");
        let mut input = &fast[..];
        assert_eq!(decode_elem::<Vec<u8>>(&mut input).unwrap(), bytes);
        assert!(input.is_empty());
        // The serde path reads what the fast path wrote, and the reverse.
        assert_eq!(decode_value::<Vec<u8>>(&fast).unwrap(), bytes);
    }
}

#[test]
fn values_follow_each_other_in_one_buffer() {
    let mut buf = Vec::new();
    encode_elem(&7u64, &mut buf).unwrap();
    encode_elem(&vec![1u8, 2, 3], &mut buf).unwrap();
    encode_elem(&String::from("x"), &mut buf).unwrap();
    let mut input = &buf[..];
    assert_eq!(decode_elem::<u64>(&mut input).unwrap(), 7);
    assert_eq!(decode_elem::<Vec<u8>>(&mut input).unwrap(), [1, 2, 3]);
    assert_eq!(decode_elem::<String>(&mut input).unwrap(), "x");
    assert!(end(input).is_ok());
    // Same bytes as the tuple through serde.
    assert_eq!(
        buf,
        encode_value(&(7u64, vec![1u8, 2, 3], String::from("x"))).unwrap()
    );
}

#[test]
fn truncated_or_lying_byte_vectors_are_errors() {
    let mut buf = Vec::new();
    encode_elem(&vec![9u8; 300], &mut buf).unwrap();
    for cut in 0..buf.len() {
        assert!(
            decode_elem::<Vec<u8>>(&mut &buf[..cut]).is_err(),
            "cut {cut}"
        );
    }
    let lying = [253, 255, 255, 255, 255, 255, 255, 255, 255];
    assert!(decode_elem::<Vec<u8>>(&mut &lying[..]).is_err());
    assert!(decode_elem::<Vec<u8>>(&mut &[254u8][..]).is_err());
}

#[test]
fn numbers_cross_in_leb128_and_no_number_past_64_bits_decodes() {
    for n in [
        0,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut buf = Vec::new();
        put_leb(&mut buf, n);
        let mut r = Reader(&buf);
        assert_eq!(r.leb("test"), Ok(n), "{n}: {buf:?}");
        assert!(r.0.is_empty());
        // Cut short, it is an error, never another number.
        for cut in 0..buf.len() {
            assert!(Reader(&buf[..cut]).leb("test").is_err());
        }
    }
    assert!(Reader(&[0xff; 10]).leb("test").is_err());
    assert!(
        Reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
            .leb("test")
            .is_err()
    );
}

#[test]
fn a_value_of_any_length_keeps_its_bytes_in_a_response() {
    for len in [0, 1, 127, 128, 129, 16_383, 16_384, 100_000] {
        let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut buf = Vec::new();
        begin_response(&mut buf);
        push_outcome(&mut buf, 3, Ok(&value));
        push_outcome(&mut buf, 4, Ok(b"x"));
        let Ok(Message::Response(outcomes)) = decode(&buf) else {
            panic!("{len}: not a response");
        };
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0].seq, 3);
        assert_eq!(
            outcomes[0].result.as_ref().map(|r| r.0),
            Ok(&value[..]),
            "{len}"
        );
        assert_eq!(outcomes[1].result.as_ref().map(|r| r.0), Ok(&b"x"[..]));
    }
}
