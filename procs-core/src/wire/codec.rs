//! The envelopes: hello, request and response, encoded by hand.
//!
//! User values go through [`value`](crate::wire::value); envelopes are
//! hand-encoded so that argument and result bytes are copied once into a
//! reused buffer and borrowed on decode.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::detached::{Args, Lens, Output};
use crate::wire::panic::PanicInfo;
use crate::wire::value::{decode_value, encode_value};

mod run;

pub(crate) use run::{
    begin_item, begin_run_response, encode_run_request, end_item, end_run_response, items,
    next_item, response_as_run, run_response,
};

/// Bumped whenever the envelope layout or its meaning changes.
pub(crate) const PROTOCOL: u32 = 6;

const HELLO: u8 = 1;
const REQUEST: u8 = 2;
const RESPONSE: u8 = 3;
/// A worker's last words under `panic = "abort"`: sent from the panic hook,
/// before the abort, instead of a response.
const DYING: u8 = 4;
/// `tracing` records of the running request, sent before its response
/// (`wire::trace`, feature `tracing`).
const TRACE: u8 = 5;
/// A worker's report that a call ran past its deadline: sent by the
/// worker's watchdog thread, followed by the answers the request's earlier
/// calls gave (a response and its detached buffers).
const OVERRAN: u8 = 6;

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
    /// Each call's own deadline, from when it starts running; `None` for
    /// calls that may run forever.
    pub(crate) timeout: Option<Duration>,
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

/// A message that is not valid procs protocol; names the part that is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed {} message", self.0)
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
    /// The call `seq` of the request the worker was running passed its
    /// deadline; the answers of the calls before it follow as a response.
    Overran {
        seq: u64,
    },
}

/// Encodes a [`Message::Overran`] into a fixed buffer: the worker's
/// watchdog sends it without allocating.
pub(crate) fn encode_overran(seq: u64) -> [u8; 9] {
    let mut msg = [OVERRAN; 9];
    msg[1..].copy_from_slice(&seq.to_le_bytes());
    msg
}

/// Whether `msg` is a [`Message::Overran`], which the parent checks before
/// taking a message for a response.
pub(crate) fn is_overran(msg: &[u8]) -> bool {
    msg.first() == Some(&OVERRAN)
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

/// Whether `msg` is a trace message, which the parent replays before it
/// takes the next message for a response.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn is_trace(msg: &[u8]) -> bool {
    msg.first() == Some(&TRACE)
}

/// Encodes a trace message carrying `payload` into `buf`, replacing its
/// contents.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn encode_trace(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.clear();
    buf.push(TRACE);
    buf.extend_from_slice(payload);
}

/// The payload of a trace message.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn trace_payload(msg: &[u8]) -> &[u8] {
    msg.get(1..).unwrap_or_default()
}

pub(crate) fn encode_hello(buf: &mut Vec<u8>, hello: &Hello) {
    buf.clear();
    buf.push(HELLO);
    buf.extend_from_slice(&hello.protocol.to_le_bytes());
    buf.extend_from_slice(&hello.fingerprint.to_le_bytes());
    buf.extend_from_slice(&hello.pid.to_le_bytes());
}

/// Encodes a request for calls of the function `id`, without deadline.
#[cfg(any(test, feature = "testkit"))]
pub(crate) fn encode_request<'a>(
    buf: &mut Vec<u8>,
    id: &str,
    tasks: impl ExactSizeIterator<Item = Task<'a>>,
) {
    encode_timed_request(buf, id, None, tasks);
}

/// Encodes a request for calls of the function `id`, each with `timeout`.
pub(crate) fn encode_timed_request<'a>(
    buf: &mut Vec<u8>,
    id: &str,
    timeout: Option<Duration>,
    tasks: impl ExactSizeIterator<Item = Task<'a>>,
) {
    buf.clear();
    buf.push(REQUEST);
    buf.extend_from_slice(&(tasks.len() as u32).to_le_bytes());
    buf.extend_from_slice(&timeout_nanos(timeout).to_le_bytes());
    put_bytes32(buf, id.as_bytes());
    for task in tasks {
        put_leb(buf, task.seq);
        put_leb(buf, task.args.len() as u64);
        buf.extend_from_slice(task.args);
        put_lens(buf, task.detached);
    }
}

/// Encodes a request for `calls` (sequence number and arguments) of the
/// function `id`, each with `timeout`, into `buf`, and returns the buffers
/// to send after it. With
/// `detach` false (attached workers), every buffer goes inline instead (see
/// [`Args::inlined`]).
pub(crate) fn encode_calls<'a, I>(
    buf: &mut Vec<u8>,
    id: &str,
    timeout: Option<Duration>,
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
        encode_timed_request(buf, id, timeout, each);
        return calls.flat_map(|(_, args)| &args.detached).collect();
    }
    let inlined: Vec<_> = calls.clone().map(|(_, args)| args.inlined()).collect();
    let each = calls.zip(&inlined).map(|((seq, _), args)| Task {
        seq,
        args,
        detached: Lens::NONE,
    });
    encode_timed_request(buf, id, timeout, each);
    Vec::new()
}

/// A timeout on the wire: nanoseconds, 0 for none (a zero timeout is sent
/// as one nanosecond: it has passed as soon as the call starts either way).
fn timeout_nanos(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |t| {
        u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

/// The longest of a request and the buffers sent after it: what the
/// message size limit applies to.
pub(crate) fn largest_message(request: &[u8], detached: &[&Vec<u8>]) -> usize {
    detached
        .iter()
        .map(|b| b.len())
        .fold(request.len(), usize::max)
}

#[inline]
fn put_lens(buf: &mut Vec<u8>, lens: Lens<'_>) {
    put_leb(buf, lens.len() as u64);
    if lens.len() == 0 {
        // Nearly every call: no iterator set up for nothing.
        return;
    }
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
        Ok(bytes) => push_encoded_outcome(buf, seq, bytes, &[]),
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
    put_leb(buf, seq);
    buf.push(0);
    // One byte for the length, which is not known yet: enough for a tiny
    // value; a longer one moves along for the bytes it needs.
    let len_at = buf.len();
    buf.push(0);
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
    let len = (buf.len() - len_at - 1) as u64;
    match len {
        0..0x80 => buf[len_at] = len as u8,
        _ => {
            let mut leb = Vec::with_capacity(10);
            put_leb(&mut leb, len);
            buf.splice(len_at..len_at + 1, leb);
        }
    }
    put_lens(buf, Lens::Buffers(&detached[first_detached..]));
    bump_count(buf);
    Ok(())
}

/// Appends a successful outcome whose value is already encoded, followed on
/// the link by `detached`.
pub(crate) fn push_encoded_outcome(
    buf: &mut Vec<u8>,
    seq: u64,
    value: &[u8],
    detached: &[Vec<u8>],
) {
    put_leb(buf, seq);
    buf.push(0);
    put_leb(buf, value.len() as u64);
    buf.extend_from_slice(value);
    put_lens(buf, Lens::Buffers(detached));
    bump_count(buf);
}

pub(crate) fn push_failure(buf: &mut Vec<u8>, seq: u64, failure: &Failure) {
    put_leb(buf, seq);
    buf.push(1);
    let bytes = encode_value(failure).expect("failures always encode");
    put_leb(buf, bytes.len() as u64);
    buf.extend_from_slice(&bytes);
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

/// A number in LEB128: seven bits a byte, low bits first. The numbers in a
/// batch's envelopes (call numbers, lengths) are small: eight bytes each
/// made up most of a tiny call's bytes on the wire.
#[inline]
fn put_leb(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push(n as u8 | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// The bytes [`put_leb`] writes for `n`.
pub(crate) fn leb_len(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).div_ceil(7).max(1)
}

/// The bytes one call takes in a request, detached buffers excepted.
pub(crate) fn task_len(seq: u64, args: usize, detached: usize) -> usize {
    leb_len(seq) + leb_len(args as u64) + args + leb_len(detached as u64) + 8 * detached
}

fn put_bytes64(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Decodes one message. Never panics; every malformation is an error.
pub(crate) fn decode(msg: &[u8]) -> Result<Message<'_>, Malformed> {
    let mut r = Reader(msg);
    let message = match r.u8("message")? {
        HELLO => Message::Hello(Hello {
            protocol: r.u32("hello")?,
            fingerprint: r.u64("hello")?,
            pid: r.u32("hello")?,
        }),
        tag @ (REQUEST | run::RUN_REQUEST) => {
            let count = r.u32("request")? as usize;
            let timeout = match r.u64("request")? {
                0 => None,
                nanos => Some(Duration::from_nanos(nanos)),
            };
            let len = r.u32("request")? as usize;
            let id =
                std::str::from_utf8(r.bytes(len, "request")?).map_err(|_| Malformed("request"))?;
            if tag == run::RUN_REQUEST {
                let tasks = run::run_tasks(&mut r, count)?;
                return finished(r, Message::Request(Request { id, timeout, tasks }));
            }
            // Each task takes at least 3 bytes: a lying count cannot make us
            // allocate more than the message itself justifies.
            let mut tasks = Vec::with_capacity(count.min(r.0.len() / 3));
            for _ in 0..count {
                let seq = r.leb("request")?;
                let len = r.leb("request")?;
                let args = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "request")?;
                let detached = r.lens("request")?;
                tasks.push(Task {
                    seq,
                    args,
                    detached,
                });
            }
            Message::Request(Request { id, timeout, tasks })
        }
        DYING => {
            let seq = r.u64("dying")?;
            let len = r.u64("dying")?;
            let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "dying")?;
            let panic = decode_value(bytes).map_err(|_| Malformed("dying"))?;
            Message::Dying { seq, panic }
        }
        OVERRAN => Message::Overran {
            seq: r.u64("overran")?,
        },
        RESPONSE | run::RUN_RESPONSE => {
            let mut outcomes = Vec::new();
            decode_response(msg, |outcome| {
                outcomes.push(outcome);
                Ok::<(), Malformed>(())
            })?;
            return Ok(Message::Response(outcomes));
        }
        _ => return Err(Malformed("message")),
    };
    finished(r, message)
}

/// `message`, if nothing follows it.
fn finished<'a>(r: Reader<'a>, message: Message<'a>) -> Result<Message<'a>, Malformed> {
    if !r.0.is_empty() {
        return Err(Malformed("message"));
    }
    Ok(message)
}

/// Decodes a response outcome by outcome, handing each to `each` as it goes
/// (a batch's answer is not collected first); stops at the first error,
/// from the message or from `each`.
pub(crate) fn decode_response<'a, E: From<Malformed>>(
    msg: &'a [u8],
    mut each: impl FnMut(Outcome<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let mut r = Reader(msg);
    let tag = r.u8("message")?;
    if tag != RESPONSE && tag != run::RUN_RESPONSE {
        return Err(Malformed("response").into());
    }
    let count = r.u32("response")?;
    if tag == run::RUN_RESPONSE {
        run::decode_run_response(&mut r, count, &mut each)?;
    } else {
        decode_outcomes(&mut r, count, &mut each)?;
    }
    if !r.0.is_empty() {
        return Err(Malformed("message").into());
    }
    Ok(())
}

/// The outcomes of a response whose tag and count `r` has read.
fn decode_outcomes<'a, E: From<Malformed>>(
    r: &mut Reader<'a>,
    count: u32,
    mut each: impl FnMut(Outcome<'a>) -> Result<(), E>,
) -> Result<(), E> {
    for _ in 0..count {
        let seq = r.leb("response")?;
        let kind = r.u8("response")?;
        let len = r.leb("response")?;
        let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "response")?;
        let result = match kind {
            0 => Ok((bytes, r.lens("response")?)),
            1 => Err(decode_value(bytes).map_err(|_| Malformed("response"))?),
            _ => return Err(Malformed("response").into()),
        };
        each(Outcome { seq, result })?;
    }
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        if n > self.0.len() {
            return Err(Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Malformed> {
        Ok(self.bytes(N, what)?.try_into().expect("length checked"))
    }

    /// A count of `u64` lengths, then the lengths.
    fn lens(&mut self, what: &'static str) -> Result<Lens<'a>, Malformed> {
        let count = usize::try_from(self.leb(what)?).unwrap_or(usize::MAX);
        Ok(Lens::Wire(self.bytes(count.saturating_mul(8), what)?))
    }

    /// A number written by [`put_leb`]; one past 64 bits is an error.
    fn leb(&mut self, what: &'static str) -> Result<u64, Malformed> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(Malformed(what));
            }
            n |= bits << shift;
            if byte < 0x80 {
                return Ok(n);
            }
        }
        Err(Malformed(what))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Malformed> {
        self.array(what).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod test;
