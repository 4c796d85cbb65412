//! What a worker's `tracing` events, spans and `log` records look like on
//! the wire (feature `tracing`): plain data, since callsites and span IDs
//! mean nothing in another process. The parent rebuilds callsites from
//! [`Meta`] and maps the worker's span IDs to its own.
//!
//! One trace message is self-contained: it lists the metadata its records
//! use, by index, and a span it mentions but did not open is taken for the
//! caller's.

use serde::{Deserialize, Serialize};

use crate::contract::BoxError;
use crate::wire::codec;
use crate::wire::value::{decode_value, encode_value};

/// A callsite's metadata, as data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) target: String,
    /// 0 (`TRACE`) to 4 (`ERROR`).
    pub(crate) level: u8,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) module_path: Option<String>,
    pub(crate) fields: Vec<String>,
    pub(crate) is_span: bool,
}

/// A recorded field value: the primitive types `tracing` visits as such,
/// and everything else as its `Debug` rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Value {
    Str(String),
    Debug(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

/// Field values by their index in the metadata's fields.
pub(crate) type Values = Vec<(u16, Value)>;

/// One thing that happened in the worker, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Record {
    /// The metadata the next records call `meta` number N (the Nth `Meta`
    /// of the message).
    Meta(Meta),
    /// A span opened, under the worker's span `parent` (`None`: a root in
    /// the worker, which goes under the caller's span).
    NewSpan {
        id: u64,
        parent: Option<u64>,
        meta: u32,
        values: Values,
    },
    /// Values recorded on an open span.
    Update {
        id: u64,
        values: Values,
    },
    Enter(u64),
    Exit(u64),
    Close(u64),
    Event {
        parent: Option<u64>,
        meta: u32,
        values: Values,
    },
}

/// A trace message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// The worker's process ID, for the records' context.
    pub(crate) pid: u32,
    pub(crate) records: Vec<Record>,
}

/// Encodes `batch` as a trace message into `buf`, replacing its contents.
pub(crate) fn encode(buf: &mut Vec<u8>, batch: &Batch) -> Result<(), BoxError> {
    let bytes = encode_value(batch)?;
    codec::encode_trace(buf, &bytes);
    Ok(())
}

/// Decodes a trace message (one [`codec::is_trace`] accepted).
pub(crate) fn decode(msg: &[u8]) -> Result<Batch, BoxError> {
    decode_value(codec::trace_payload(msg))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_batch_survives_the_wire() {
        let batch = Batch {
            pid: 7,
            records: vec![
                Record::Meta(Meta {
                    name: "event src/lib.rs:3".into(),
                    target: "app::db".into(),
                    level: 2,
                    file: Some("src/lib.rs".into()),
                    line: Some(3),
                    module_path: Some("app::db".into()),
                    fields: vec!["message".into(), "rows".into()],
                    is_span: false,
                }),
                Record::Event {
                    parent: None,
                    meta: 0,
                    values: vec![(0, Value::Debug("hi".into())), (1, Value::U64(3))],
                },
            ],
        };
        let mut msg = Vec::new();
        encode(&mut msg, &batch).expect("encodes");
        assert!(codec::is_trace(&msg));
        assert_eq!(decode(&msg).expect("decodes"), batch);
    }
}
