//! The wire format: user values through bincode, envelopes by hand.
//!
//! Keeping the codec in one module lets it be swapped (bincode 2 carries an
//! "unmaintained" advisory). Envelopes are hand-encoded so that argument and
//! result bytes are copied once into a reused buffer and borrowed on decode.

use std::any::Any;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::BoxError;
use crate::detached::{Args, Lens, Output};
use crate::error::{Error, PanicInfo, Payload};

/// Bumped whenever the envelope layout or its meaning changes.
pub(crate) const PROTOCOL: u32 = 3;

const HELLO: u8 = 1;
const REQUEST: u8 = 2;
const RESPONSE: u8 = 3;
/// A worker's last words under `panic = "abort"`: sent from the panic hook,
/// before the abort, instead of a response.
const DYING: u8 = 4;

fn config() -> impl bincode::config::Config {
    // The frame limit already bounds the input; this bounds what length
    // prefixes inside it may claim.
    bincode::config::standard().with_limit::<{ 1 << 32 }>()
}

/// Encodes a whole value (a failure, or an argument tuple by ID).
pub(crate) fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, BoxError> {
    Ok(bincode::serde::encode_to_vec(value, config())?)
}

/// Decodes a whole value, refusing trailing bytes.
pub(crate) fn decode_value<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, BoxError> {
    let mut input = bytes;
    let value = decode_elem(&mut input)?;
    end(input)?;
    Ok(value)
}

/// Refuses bytes left over after the last value.
pub(crate) fn end(rest: &[u8]) -> Result<(), BoxError> {
    match rest.len() {
        0 => Ok(()),
        n => Err(format!("{n} trailing bytes").into()),
    }
}

/// Appends one value (an argument or a return value) to `out`.
///
/// A `Vec<u8>` is written with one copy instead of serde's byte-by-byte
/// sequence; the bytes are the same as bincode's, so either side may use
/// either path.
pub(crate) fn encode_elem<T: Serialize + 'static>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), BoxError> {
    if let Some(bytes) = (value as &dyn Any).downcast_ref::<Vec<u8>>() {
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
        return Ok(());
    }
    bincode::serde::encode_into_std_write(value, out, config())?;
    Ok(())
}

/// Decodes one value from the front of `input` and advances past it.
pub(crate) fn decode_elem<T: DeserializeOwned + 'static>(input: &mut &[u8]) -> Result<T, BoxError> {
    let mut slot: Option<T> = None;
    if let Some(bytes) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>() {
        let len = take_varint(input)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= input.len())
            .ok_or("byte buffer longer than its message")?;
        let (head, tail) = input.split_at(len);
        *bytes = Some(head.to_vec());
        *input = tail;
    } else {
        let (value, used) = bincode::serde::decode_from_slice(input, config())?;
        slot = Some(value);
        *input = &input[used..];
    }
    Ok(slot.expect("set above"))
}

/// bincode's varint: below 251 in one byte, else a marker and 2, 4 or 8
/// little-endian bytes.
fn put_varint(out: &mut Vec<u8>, n: u64) {
    if n < 251 {
        out.push(n as u8);
    } else if n <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn take_varint(input: &mut &[u8]) -> Result<u64, BoxError> {
    let (&first, rest) = input.split_first().ok_or("truncated length")?;
    let width = match first {
        0..251 => {
            *input = rest;
            return Ok(u64::from(first));
        }
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return Err("invalid length marker".into()),
    };
    if rest.len() < width {
        return Err("truncated length".into());
    }
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(&rest[..width]);
    *input = &rest[width..];
    Ok(u64::from_le_bytes(buf))
}

/// The first message of every worker: who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) protocol: u32,
    pub(crate) fingerprint: u64,
    pub(crate) pid: u32,
}

/// A request: calls of one function (so its ID travels once).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) id: &'a str,
    pub(crate) tasks: Vec<Task<'a>>,
}

/// One call in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Task<'a> {
    pub(crate) seq: u64,
    pub(crate) args: &'a [u8],
    /// The buffers detached from the arguments, which follow the request.
    pub(crate) detached: Lens<'a>,
}

/// One call's outcome in a response: the encoded value and the lengths of
/// the buffers detached from it (which follow the response), or a failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome<'a> {
    pub(crate) seq: u64,
    pub(crate) result: Result<(&'a [u8], Lens<'a>), Failure>,
}

/// Why a call failed inside a worker that lived on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Failure {
    Panicked(PanicInfo),
    UnknownFunction { known: Vec<String> },
    DuplicateId,
    DecodeArgs(String),
    EncodeResult(String),
    TooLarge { size: u64, limit: u64 },
}

impl Failure {
    pub(crate) fn into_error(self, id: &str) -> Error {
        let id = id.to_owned();
        match self {
            Failure::Panicked(panic) => Error::Panicked {
                id,
                panic: Box::new(panic),
            },
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
            Failure::TooLarge { size, limit } => Error::TooLarge { id, size, limit },
        }
    }
}

/// A decoded message, borrowing from the bytes it came from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    Hello(Hello),
    Request(Request<'a>),
    Response(Vec<Outcome<'a>>),
    /// The worker is about to abort: the call `seq` of the request it was
    /// running panicked (or a thread of the worker did, while it ran).
    Dying {
        seq: u64,
        panic: PanicInfo,
    },
}

/// Encodes a [`Message::Dying`] into `buf`, replacing its contents.
pub(crate) fn encode_dying(buf: &mut Vec<u8>, seq: u64, panic: &PanicInfo) {
    buf.clear();
    buf.push(DYING);
    buf.extend_from_slice(&seq.to_le_bytes());
    let bytes = encode_value(panic).expect("panics always encode");
    put_bytes64(buf, &bytes);
}

/// Whether `msg` is a [`Message::Dying`], which the parent checks before
/// taking a message for a response.
pub(crate) fn is_dying(msg: &[u8]) -> bool {
    msg.first() == Some(&DYING)
}

pub(crate) fn encode_hello(buf: &mut Vec<u8>, hello: &Hello) {
    buf.clear();
    buf.push(HELLO);
    buf.extend_from_slice(&hello.protocol.to_le_bytes());
    buf.extend_from_slice(&hello.fingerprint.to_le_bytes());
    buf.extend_from_slice(&hello.pid.to_le_bytes());
}

/// Encodes a request for calls of the function `id`.
pub(crate) fn encode_request<'a>(
    buf: &mut Vec<u8>,
    id: &str,
    tasks: impl ExactSizeIterator<Item = Task<'a>>,
) {
    buf.clear();
    buf.push(REQUEST);
    buf.extend_from_slice(&(tasks.len() as u32).to_le_bytes());
    put_bytes32(buf, id.as_bytes());
    for task in tasks {
        buf.extend_from_slice(&task.seq.to_le_bytes());
        put_bytes64(buf, task.args);
        put_lens(buf, task.detached);
    }
}

/// Encodes a request for `calls` (sequence number and arguments) of the
/// function `id` into `buf`, and returns the buffers to send after it. With
/// `detach` false (attached workers), every buffer goes inline instead (see
/// [`Args::inlined`]).
pub(crate) fn encode_calls<'a, I>(
    buf: &mut Vec<u8>,
    id: &str,
    calls: I,
    detach: bool,
) -> Vec<&'a Vec<u8>>
where
    I: ExactSizeIterator<Item = (u64, &'a Args)> + Clone,
{
    if detach {
        let each = calls.clone().map(|(seq, args)| Task {
            seq,
            args: &args.bytes,
            detached: Lens::Buffers(&args.detached),
        });
        encode_request(buf, id, each);
        return calls.flat_map(|(_, args)| &args.detached).collect();
    }
    let inlined: Vec<_> = calls.clone().map(|(_, args)| args.inlined()).collect();
    let each = calls.zip(&inlined).map(|((seq, _), args)| Task {
        seq,
        args,
        detached: Lens::NONE,
    });
    encode_request(buf, id, each);
    Vec::new()
}

/// The longest of a request and the buffers sent after it: what the
/// message size limit applies to.
pub(crate) fn largest_message(request: &[u8], detached: &[&Vec<u8>]) -> usize {
    detached
        .iter()
        .map(|b| b.len())
        .fold(request.len(), usize::max)
}

fn put_lens(buf: &mut Vec<u8>, lens: Lens<'_>) {
    buf.extend_from_slice(&(lens.len() as u32).to_le_bytes());
    for len in lens.iter() {
        buf.extend_from_slice(&len.to_le_bytes());
    }
}

/// Starts a response; add outcomes with [`push_outcome`], then [`finish_response`].
pub(crate) fn begin_response(buf: &mut Vec<u8>) {
    buf.clear();
    buf.push(RESPONSE);
    buf.extend_from_slice(&0u32.to_le_bytes());
}

#[cfg(test)]
pub(crate) fn push_outcome(buf: &mut Vec<u8>, seq: u64, result: Result<&[u8], &Failure>) {
    match result {
        Ok(bytes) => push_outcome_with(buf, seq, &mut Vec::new(), true, |out| {
            out.bytes.extend_from_slice(bytes);
            Ok::<(), ()>(())
        })
        .expect("copying cannot fail"),
        Err(failure) => push_failure(buf, seq, failure),
    }
}

/// Appends a successful outcome whose value `write` appends in place (no
/// intermediate buffer), detaching large byte buffers onto `detached`. If
/// `write` fails, `buf` and `detached` are left as they were.
pub(crate) fn push_outcome_with<E>(
    buf: &mut Vec<u8>,
    seq: u64,
    detached: &mut Vec<Vec<u8>>,
    detach: bool,
    write: impl FnOnce(&mut Output<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let start = buf.len();
    let first_detached = detached.len();
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.push(0);
    let len_at = buf.len();
    buf.extend_from_slice(&0u64.to_le_bytes());
    let mut out = Output {
        bytes: buf,
        detached,
        detach,
        marks: None,
    };
    if let Err(error) = write(&mut out) {
        buf.truncate(start);
        detached.truncate(first_detached);
        return Err(error);
    }
    let len = (buf.len() - len_at - 8) as u64;
    buf[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
    put_lens(buf, Lens::Buffers(&detached[first_detached..]));
    bump_count(buf);
    Ok(())
}

pub(crate) fn push_failure(buf: &mut Vec<u8>, seq: u64, failure: &Failure) {
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.push(1);
    let bytes = encode_value(failure).expect("failures always encode");
    put_bytes64(buf, &bytes);
    bump_count(buf);
}

/// Removes the outcome pushed last, which starts at `start`.
pub(crate) fn pop_outcome(buf: &mut Vec<u8>, start: usize) {
    buf.truncate(start);
    let count = u32::from_le_bytes(buf[1..5].try_into().expect("4 bytes")) - 1;
    buf[1..5].copy_from_slice(&count.to_le_bytes());
}

fn bump_count(buf: &mut [u8]) {
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
            let len = r.u32("request")? as usize;
            let id = std::str::from_utf8(r.bytes(len, "request")?)
                .map_err(|_| Error::Malformed("request"))?;
            // Each task takes at least 20 bytes: a lying count cannot make us
            // allocate more than the message itself justifies.
            let mut tasks = Vec::with_capacity(count.min(r.0.len() / 20));
            for _ in 0..count {
                let seq = r.u64("request")?;
                let len = r.u64("request")?;
                let args = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "request")?;
                let detached = r.lens("request")?;
                tasks.push(Task {
                    seq,
                    args,
                    detached,
                });
            }
            Message::Request(Request { id, tasks })
        }
        DYING => {
            let seq = r.u64("dying")?;
            let len = r.u64("dying")?;
            let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "dying")?;
            let panic = decode_value(bytes).map_err(|_| Error::Malformed("dying"))?;
            Message::Dying { seq, panic }
        }
        RESPONSE => {
            let mut outcomes = Vec::new();
            decode_response(msg, |outcome| {
                outcomes.push(outcome);
                Ok(())
            })?;
            return Ok(Message::Response(outcomes));
        }
        _ => return Err(Error::Malformed("message")),
    };
    if !r.0.is_empty() {
        return Err(Error::Malformed("message"));
    }
    Ok(message)
}

/// Decodes a response outcome by outcome, handing each to `each` as it goes
/// (a batch's answer is not collected first); stops at the first error,
/// from the message or from `each`.
pub(crate) fn decode_response<'a>(
    msg: &'a [u8],
    mut each: impl FnMut(Outcome<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut r = Reader(msg);
    if r.u8("message")? != RESPONSE {
        return Err(Error::Malformed("response"));
    }
    let count = r.u32("response")?;
    for _ in 0..count {
        let seq = r.u64("response")?;
        let kind = r.u8("response")?;
        let len = r.u64("response")?;
        let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "response")?;
        let result = match kind {
            0 => Ok((bytes, r.lens("response")?)),
            1 => Err(decode_value(bytes).map_err(|_| Error::Malformed("response"))?),
            _ => return Err(Error::Malformed("response")),
        };
        each(Outcome { seq, result })?;
    }
    if !r.0.is_empty() {
        return Err(Error::Malformed("message"));
    }
    Ok(())
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

    /// A count of `u64` lengths, then the lengths.
    fn lens(&mut self, what: &'static str) -> Result<Lens<'a>, Error> {
        let count = self.u32(what)? as usize;
        Ok(Lens::Wire(self.bytes(count.saturating_mul(8), what)?))
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
