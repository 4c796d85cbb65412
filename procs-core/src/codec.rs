//! The wire format: user values through bincode, envelopes by hand.
//!
//! Keeping the codec in one module lets it be swapped (bincode 2 carries an
//! "unmaintained" advisory). Envelopes are hand-encoded so that argument and
//! result bytes are copied once into a reused buffer and borrowed on decode.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Error, PanicInfo, Payload};

/// Bumped whenever the envelope layout or its meaning changes.
pub(crate) const PROTOCOL: u32 = 1;

const HELLO: u8 = 1;
const REQUEST: u8 = 2;
const RESPONSE: u8 = 3;

fn config() -> impl bincode::config::Config {
    // The frame limit already bounds the input; this bounds what length
    // prefixes inside it may claim.
    bincode::config::standard().with_limit::<{ 1 << 32 }>()
}

/// Encodes a user value (arguments or a return value).
pub(crate) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, crate::BoxError> {
    Ok(bincode::serde::encode_to_vec(value, config())?)
}

/// Decodes a user value, refusing trailing bytes.
pub(crate) fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, crate::BoxError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - used).into());
    }
    Ok(value)
}

/// The first message of every worker: who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) protocol: u32,
    pub(crate) fingerprint: u64,
    pub(crate) pid: u32,
}

/// One call in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Task<'a> {
    pub(crate) seq: u64,
    pub(crate) id: &'a str,
    pub(crate) args: &'a [u8],
}

/// One call's outcome in a response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome<'a> {
    pub(crate) seq: u64,
    pub(crate) result: Result<&'a [u8], Failure>,
}

/// Why a call failed inside a worker that lived on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Failure {
    Panicked(PanicInfo),
    UnknownFunction { known: Vec<String> },
    DuplicateId,
    DecodeArgs(String),
    EncodeResult(String),
}

impl Failure {
    pub(crate) fn into_error(self, id: &str) -> Error {
        let id = id.to_owned();
        match self {
            Failure::Panicked(panic) => Error::Panicked { id, panic },
            Failure::UnknownFunction { known } => Error::UnknownFunction { id, known },
            Failure::DuplicateId => Error::DuplicateId { id },
            Failure::DecodeArgs(msg) => Error::Decode {
                id,
                payload: Payload::Arguments,
                source: msg.into(),
            },
            Failure::EncodeResult(msg) => Error::Encode {
                id,
                payload: Payload::Result,
                source: msg.into(),
            },
        }
    }
}

/// A decoded message, borrowing from the bytes it came from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    Hello(Hello),
    Request(Vec<Task<'a>>),
    Response(Vec<Outcome<'a>>),
}

pub(crate) fn encode_hello(buf: &mut Vec<u8>, hello: &Hello) {
    buf.clear();
    buf.push(HELLO);
    buf.extend_from_slice(&hello.protocol.to_le_bytes());
    buf.extend_from_slice(&hello.fingerprint.to_le_bytes());
    buf.extend_from_slice(&hello.pid.to_le_bytes());
}

pub(crate) fn encode_request<'a>(
    buf: &mut Vec<u8>,
    tasks: impl ExactSizeIterator<Item = Task<'a>>,
) {
    buf.clear();
    buf.push(REQUEST);
    buf.extend_from_slice(&(tasks.len() as u32).to_le_bytes());
    for task in tasks {
        buf.extend_from_slice(&task.seq.to_le_bytes());
        put_bytes32(buf, task.id.as_bytes());
        put_bytes64(buf, task.args);
    }
}

/// Starts a response; add outcomes with [`push_outcome`], then [`finish_response`].
pub(crate) fn begin_response(buf: &mut Vec<u8>) {
    buf.clear();
    buf.push(RESPONSE);
    buf.extend_from_slice(&0u32.to_le_bytes());
}

pub(crate) fn push_outcome(buf: &mut Vec<u8>, seq: u64, result: Result<&[u8], &Failure>) {
    buf.extend_from_slice(&seq.to_le_bytes());
    match result {
        Ok(bytes) => {
            buf.push(0);
            put_bytes64(buf, bytes);
        }
        Err(failure) => {
            buf.push(1);
            let bytes = encode_value(failure).expect("failures always encode");
            put_bytes64(buf, &bytes);
        }
    }
    let count = u32::from_le_bytes(buf[1..5].try_into().expect("4 bytes")) + 1;
    buf[1..5].copy_from_slice(&count.to_le_bytes());
}

fn put_bytes32(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

fn put_bytes64(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Decodes one message. Never panics; every malformation is an error.
pub(crate) fn decode(msg: &[u8]) -> Result<Message<'_>, Error> {
    let mut r = Reader(msg);
    let message = match r.u8("message")? {
        HELLO => Message::Hello(Hello {
            protocol: r.u32("hello")?,
            fingerprint: r.u64("hello")?,
            pid: r.u32("hello")?,
        }),
        REQUEST => {
            let count = r.u32("request")? as usize;
            // Each task takes at least 20 bytes: a lying count cannot make us
            // allocate more than the message itself justifies.
            let mut tasks = Vec::with_capacity(count.min(r.0.len() / 20));
            for _ in 0..count {
                let seq = r.u64("request")?;
                let len = r.u32("request")? as usize;
                let id = std::str::from_utf8(r.bytes(len, "request")?)
                    .map_err(|_| Error::Malformed("request"))?;
                let len = r.u64("request")?;
                let args = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "request")?;
                tasks.push(Task { seq, id, args });
            }
            Message::Request(tasks)
        }
        RESPONSE => {
            let count = r.u32("response")? as usize;
            let mut outcomes = Vec::with_capacity(count.min(r.0.len() / 17));
            for _ in 0..count {
                let seq = r.u64("response")?;
                let kind = r.u8("response")?;
                let len = r.u64("response")?;
                let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "response")?;
                let result = match kind {
                    0 => Ok(bytes),
                    1 => Err(decode_value(bytes).map_err(|_| Error::Malformed("response"))?),
                    _ => return Err(Error::Malformed("response")),
                };
                outcomes.push(Outcome { seq, result });
            }
            Message::Response(outcomes)
        }
        _ => return Err(Error::Malformed("message")),
    };
    if !r.0.is_empty() {
        return Err(Error::Malformed("message"));
    }
    Ok(message)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Error> {
        Ok(self.bytes(N, what)?.try_into().expect("length checked"))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        self.array(what).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod test;
