//! Types bincode cannot carry (it is not self-describing) fail with an error
//! that says which function, which argument or the result, the codec's cause,
//! and what to do instead.

use procs::{Error, Payload, Pool, proc, remote};
use serde::{Deserialize, Serialize};

#[remote]
fn takes_json(n: u32, value: serde_json::Value) -> u32 {
    n + u32::from(value.is_null())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Number(u64),
    Text(String),
}

#[remote]
fn returns_untagged(n: u64) -> Loose {
    if n % 2 == 0 {
        Loose::Number(n)
    } else {
        Loose::Text(n.to_string())
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Tagged {
    Point { x: i32 },
}

#[remote]
fn takes_tagged(t: Tagged) -> i32 {
    match t {
        Tagged::Point { x } => x,
    }
}

#[remote]
fn plain(n: u32) -> u32 {
    n + 1
}

fn pool() -> Pool {
    Pool::builder().workers(1).build().expect("pool starts")
}

/// The parts every such error must name.
fn assert_explains(error: &Error, id: &str, payload: Payload, what: &str) {
    let text = error.to_string();
    match error {
        Error::Decode {
            id: got,
            payload: p,
            ..
        }
        | Error::Encode {
            id: got,
            payload: p,
            ..
        } => {
            assert_eq!((got.as_str(), *p), (id, payload), "{text}");
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
    for part in [
        id,
        what,
        "AnyNotSupported",
        "not self-describing",
        "plain struct or enum",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[test]
fn a_json_value_argument_names_its_position_type_cause_and_the_limit() {
    let error = pool()
        .call(proc!(takes_json(1, serde_json::json!({"a": 1}))))
        .unwrap_err();
    assert_explains(
        &error,
        "wire_limits::takes_json",
        Payload::Arguments,
        "argument 2 (`serde_json::value::Value`)",
    );
}

#[test]
fn an_untagged_result_names_its_type_cause_and_the_limit() {
    let error = pool().call(proc!(returns_untagged(2))).unwrap_err();
    assert_explains(
        &error,
        "wire_limits::returns_untagged",
        Payload::Result,
        "`wire_limits::Loose`",
    );
}

#[test]
fn an_internally_tagged_argument_names_its_type_and_the_limit() {
    let pool = pool();
    let error = pool
        .call(proc!(takes_tagged(Tagged::Point { x: 1 })))
        .unwrap_err();
    assert_explains(
        &error,
        "wire_limits::takes_tagged",
        Payload::Arguments,
        "argument 1 (`wire_limits::Tagged`)",
    );
    // Only the call failed: the same pool answers the next one.
    assert_eq!(pool.call(proc!(plain(41))).unwrap(), 42);
}
