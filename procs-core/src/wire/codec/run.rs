//! Runs: a batch's calls, or its answers, without an envelope per call.
//!
//! Most batches are calls of one function numbered one after the other,
//! none with detached buffers, and their answers are plain values. For
//! those, a call's number, the kind of its outcome and its (empty) list of
//! detached buffers are implied, and each call is only its length and its
//! bytes. `pmap` writes a run request's body as it encodes the arguments,
//! so the slot sends it with one copy; a worker writes its values straight
//! into a run response (`worker::plain::serve_as_run`; a response made
//! call by call, under a CPU limit or `panic = "abort"`, is rewritten as a
//! run when it can be one), so the slot hands it to the caller whole, and
//! the caller reads each value's length as it reaches it. Neither slot thread
//! walks a batch call by call (doing so was a third of the CPU a batch of
//! tiny calls cost, BENCHMARKS.md).
//!
//! Layout, after the tag: the count (`u32`), for a request its timeout and
//! function ID as in a request, the first call's number (LEB128), then per
//! call its length (LEB128) and its bytes.

use std::ops::Range;
use std::time::Duration;

use super::{Malformed, Outcome, RESPONSE, Reader, Task, put_bytes32, put_leb, timeout_nanos};
use crate::wire::detached::Lens;

pub(super) const RUN_REQUEST: u8 = 7;
pub(super) const RUN_RESPONSE: u8 = 8;

/// Starts an item (a call's arguments) at the end of a run's body: its
/// length goes where this returns, once [`end_item`] knows it.
#[inline]
pub(crate) fn begin_item(body: &mut Vec<u8>) -> usize {
    body.push(0);
    body.len() - 1
}

/// Ends the item begun at `at`: everything after its length is its bytes.
#[inline]
pub(crate) fn end_item(body: &mut Vec<u8>, at: usize) {
    let len = body.len() - at - 1;
    match body.get_mut(at) {
        Some(first) if len < 0x80 => *first = len as u8,
        _ => long_item(body, at, len),
    }
}

/// One byte was kept for the length: enough for a tiny item; a longer one
/// moves along for the bytes its length needs.
#[cold]
#[inline(never)]
fn long_item(body: &mut Vec<u8>, at: usize, len: usize) {
    let mut leb = Vec::with_capacity(10);
    put_leb(&mut leb, len as u64);
    body.splice(at..=at, leb);
}

/// The items of a run's body, in order; `None` for one that does not fit.
pub(crate) fn items(body: &[u8]) -> impl Iterator<Item = Option<Range<usize>>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        (at < body.len()).then(|| {
            // After a bad length, nothing more can be read.
            next_item(body, &mut at).or_else(|| {
                at = body.len();
                None
            })
        })
    })
}

/// Where the item whose length is at `*at` in `msg` lies, moving `*at` past
/// it; `None` if the message is malformed there.
#[inline]
pub(crate) fn next_item(msg: &[u8], at: &mut usize) -> Option<Range<usize>> {
    // Nearly every item of a run is shorter than 128 bytes: one byte of
    // length.
    let &len = msg.get(*at)?;
    if len >= 0x80 {
        return next_long_item(msg, at);
    }
    let start = *at + 1;
    let end = start + usize::from(len);
    if end > msg.len() {
        return None;
    }
    *at = end;
    Some(start..end)
}

#[inline(never)]
fn next_long_item(msg: &[u8], at: &mut usize) -> Option<Range<usize>> {
    let mut r = Reader(msg.get(*at..)?);
    let len = usize::try_from(r.leb("run").ok()?).ok()?;
    let start = msg.len() - r.0.len();
    r.bytes(len, "run").ok()?;
    *at = start + len;
    Some(start..start + len)
}

/// Encodes a request for `count` calls of `id`, numbered from `first`, whose
/// arguments are the items of `body` (made with [`begin_item`] and
/// [`end_item`]).
pub(crate) fn encode_run_request(
    buf: &mut Vec<u8>,
    id: &str,
    timeout: Option<Duration>,
    (first, count): (u64, usize),
    body: &[u8],
) {
    buf.clear();
    buf.push(RUN_REQUEST);
    buf.extend_from_slice(&(count as u32).to_le_bytes());
    buf.extend_from_slice(&timeout_nanos(timeout).to_le_bytes());
    put_bytes32(buf, id.as_bytes());
    put_leb(buf, first);
    buf.extend_from_slice(body);
}

/// The calls of a run request whose tag, count, timeout and ID `r` has
/// read.
pub(super) fn run_tasks<'a>(r: &mut Reader<'a>, count: usize) -> Result<Vec<Task<'a>>, Malformed> {
    let first = r.leb("request")?;
    // Each call takes at least a byte: a lying count cannot make us
    // allocate more than the message itself justifies.
    let mut tasks = Vec::with_capacity(count.min(r.0.len()));
    for offset in 0..count {
        let len = r.leb("request")?;
        tasks.push(Task {
            seq: seq(first, offset, "request")?,
            args: r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "request")?,
            detached: Lens::NONE,
        });
    }
    Ok(tasks)
}

/// Starts a run response in `run` for calls numbered from `first`, whose
/// values the worker then appends as items ([`begin_item`], [`end_item`]);
/// [`end_run_response`] writes their count.
pub(crate) fn begin_run_response(run: &mut Vec<u8>, first: u64) {
    run.clear();
    run.push(RUN_RESPONSE);
    run.extend_from_slice(&0u32.to_le_bytes());
    put_leb(run, first);
}

/// Ends the run response begun in `run` with [`begin_run_response`]: it
/// holds `count` items.
pub(crate) fn end_run_response(run: &mut [u8], count: usize) {
    run[1..5].copy_from_slice(&(count as u32).to_le_bytes());
}

/// Rewrites `response`, a response message, into `run` as a run, if every
/// outcome in it is a value without detached buffers and their call
/// numbers follow each other; false otherwise (`run` is then unspecified).
pub(crate) fn response_as_run(response: &[u8], run: &mut Vec<u8>) -> bool {
    let mut r = Reader(response);
    let (Ok(RESPONSE), Ok(count)) = (r.u8("response"), r.u32("response")) else {
        return false;
    };
    run.clear();
    run.push(RUN_RESPONSE);
    run.extend_from_slice(&count.to_le_bytes());
    let mut next = None;
    for _ in 0..count {
        let Ok(seq) = r.leb("response") else {
            return false;
        };
        if next.is_some_and(|next| next != seq) {
            return false;
        }
        if next.is_none() {
            put_leb(run, seq);
        }
        next = seq.checked_add(1);
        let (Ok(0), Ok(len)) = (r.u8("response"), r.leb("response")) else {
            return false;
        };
        let Ok(bytes) = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "response") else {
            return false;
        };
        if r.leb("response") != Ok(0) {
            return false;
        }
        put_leb(run, len);
        run.extend_from_slice(bytes);
    }
    count > 0 && r.0.is_empty()
}

/// A run response's first call number and count, and where its first
/// value's length lies; `None` if `msg` is not a run response.
pub(crate) fn run_response(msg: &[u8]) -> Option<(u64, usize, usize)> {
    let mut r = Reader(msg);
    if r.u8("response").ok()? != RUN_RESPONSE {
        return None;
    }
    let count = r.u32("response").ok()? as usize;
    let first = r.leb("response").ok()?;
    Some((first, count, msg.len() - r.0.len()))
}

/// Decodes a run response whose tag and count `r` has read, outcome by
/// outcome.
pub(super) fn decode_run_response<'a, E: From<Malformed>>(
    r: &mut Reader<'a>,
    count: u32,
    mut each: impl FnMut(Outcome<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let first = r.leb("response")?;
    for offset in 0..count as usize {
        let len = r.leb("response")?;
        let bytes = r.bytes(usize::try_from(len).unwrap_or(usize::MAX), "response")?;
        each(Outcome {
            seq: seq(first, offset, "response")?,
            result: Ok((bytes, Lens::NONE)),
        })?;
    }
    Ok(())
}

fn seq(first: u64, offset: usize, what: &'static str) -> Result<u64, Malformed> {
    first.checked_add(offset as u64).ok_or(Malformed(what))
}

#[cfg(test)]
mod test {
    use super::super::{Message, Request, begin_response, decode, push_outcome};
    use super::*;
    use crate::wire::codec::Failure;

    /// A run body of `args`.
    fn body(args: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for arg in args {
            let at = begin_item(&mut body);
            body.extend_from_slice(arg);
            end_item(&mut body, at);
        }
        body
    }

    /// A response of plain values numbered from `first`.
    fn response(first: u64, values: &[&[u8]]) -> Vec<u8> {
        let mut buf = Vec::new();
        begin_response(&mut buf);
        for (offset, value) in values.iter().enumerate() {
            push_outcome(&mut buf, first + offset as u64, Ok(value));
        }
        buf
    }

    #[test]
    fn a_run_request_decodes_to_its_calls_numbered_from_the_first() {
        let long = vec![7; 200];
        let args: [&[u8]; 3] = [b"a", b"", &long];
        let mut buf = Vec::new();
        let timeout = Some(Duration::from_secs(2));
        encode_run_request(&mut buf, "app::f", timeout, (1000, 3), &body(&args));
        let Ok(Message::Request(Request { id, timeout, tasks })) = decode(&buf) else {
            panic!("not a request")
        };
        assert_eq!((id, timeout), ("app::f", Some(Duration::from_secs(2))));
        let calls: Vec<(u64, &[u8])> = tasks.iter().map(|t| (t.seq, t.args)).collect();
        assert_eq!(calls, [(1000, args[0]), (1001, args[1]), (1002, args[2])]);
        assert!(tasks.iter().all(|t| t.detached.len() == 0));
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        buf.push(0);
        assert!(decode(&buf).is_err(), "a trailing byte");
        // A count larger than the calls in the body.
        encode_run_request(&mut buf, "f", None, (0, 4), &body(&args));
        assert!(decode(&buf).is_err());
    }

    #[test]
    fn a_plain_response_becomes_a_run_with_the_same_outcomes() {
        let long = vec![9; 300];
        let values: [&[u8]; 3] = [b"xyz", b"", &long];
        let general = response(41, &values);
        let mut run = Vec::new();
        assert!(response_as_run(&general, &mut run));
        assert!(run.len() < general.len());
        assert_eq!(decode(&run), decode(&general));
        let (first, count, mut at) = run_response(&run).expect("a run");
        assert_eq!((first, count), (41, 3));
        for value in values {
            let range = next_item(&run, &mut at).expect("fits");
            assert_eq!(&run[range], value);
        }
        assert_eq!(at, run.len());
        assert_eq!(next_item(&run, &mut at), None);
        assert_eq!(run_response(&general), None);
        for cut in 0..run.len() {
            assert!(decode(&run[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_run_response_written_item_by_item_reads_as_the_same_outcomes() {
        let long = vec![5; 130];
        let values: [&[u8]; 3] = [b"", &long, b"ok"];
        let mut run = Vec::new();
        begin_run_response(&mut run, 77);
        for value in values {
            let at = begin_item(&mut run);
            run.extend_from_slice(value);
            end_item(&mut run, at);
        }
        end_run_response(&mut run, values.len());
        assert_eq!(decode(&run), decode(&response(77, &values)));
        let mut rewritten = Vec::new();
        assert!(response_as_run(&response(77, &values), &mut rewritten));
        assert_eq!(run, rewritten);
    }

    #[test]
    fn only_plain_values_numbered_in_order_make_a_run() {
        let mut run = Vec::new();
        // A failure among the values.
        let mut buf = response(0, &[b"a"]);
        push_outcome(&mut buf, 1, Err(&Failure::DuplicateId));
        assert!(!response_as_run(&buf, &mut run));
        // A value with detached buffers.
        let mut buf = Vec::new();
        begin_response(&mut buf);
        let detached = &mut Vec::new();
        super::super::push_outcome_with(&mut buf, 0, detached, true, |out| {
            out.bytes.push(1);
            out.detached.push(vec![0; 8]);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert!(!response_as_run(&buf, &mut run));
        // Numbers that skip one, or go back.
        let mut buf = response(0, &[b"a"]);
        push_outcome(&mut buf, 2, Ok(b"b"));
        assert!(!response_as_run(&buf, &mut run));
        let mut buf = response(5, &[b"a"]);
        push_outcome(&mut buf, 5, Ok(b"b"));
        assert!(!response_as_run(&buf, &mut run));
        // No outcome, and a message that is not a response.
        assert!(!response_as_run(&response(0, &[]), &mut run));
        assert!(!response_as_run(b"\x03\x01", &mut run));
    }

    #[test]
    fn items_of_a_body_read_back_in_order() {
        let long = vec![1; 128];
        let args: [&[u8]; 3] = [&long, b"q", b""];
        let body = body(&args);
        let read: Vec<&[u8]> = items(&body).map(|span| &body[span.unwrap()]).collect();
        assert_eq!(read, args);
        // A length past the end.
        assert_eq!(items(&[5, 1]).collect::<Vec<_>>(), [None]);
    }
}
