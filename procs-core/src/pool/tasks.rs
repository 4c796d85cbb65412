//! A job's calls: one by one, or packed.
//!
//! `pmap` over tiny calls spent more on per-call structures (a `Spec`, a
//! `Task` with its own argument buffer, each moved a few times) than on the
//! calls. So a batch of plain calls, as `pmap` makes them, is *packed*: the
//! arguments are encoded one after the other into one buffer as the input
//! is drained, and the request is written from it. The rare paths that deal
//! with calls one at a time (a split batch, a retry, a death) unpack it
//! first.

use crate::wire::codec;
use crate::wire::detached::Args;

/// One call of a job: its position in its `call` and its encoded arguments.
pub(crate) struct Task {
    pub(crate) index: usize,
    pub(crate) args: Args,
}

/// Consecutive calls of one function with arguments encoded in one buffer,
/// none of them with detached buffers: the body of a run request
/// (`codec::run`), each call's length then its arguments.
#[derive(Default)]
pub(crate) struct Packed {
    /// The position of the first call; the others follow it.
    pub(crate) first: usize,
    pub(crate) bytes: Vec<u8>,
    len: usize,
}

impl Packed {
    /// No calls yet; the first will be call `first`.
    pub(crate) fn new(first: usize) -> Packed {
        Packed {
            first,
            ..Packed::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Packs the next call, whose arguments `pack` appends to the buffer:
    /// kept if it says so, else nothing of the call stays.
    pub(crate) fn pack<T>(
        &mut self,
        pack: impl FnOnce(&mut Vec<u8>) -> Option<T>,
        packed: impl Fn(&T) -> bool,
    ) -> Option<T> {
        let at = codec::begin_item(&mut self.bytes);
        let what = pack(&mut self.bytes);
        if what.as_ref().is_some_and(packed) {
            codec::end_item(&mut self.bytes, at);
            self.len += 1;
        } else {
            self.bytes.truncate(at);
        }
        what
    }

    fn unpack(&self) -> Vec<Task> {
        codec::items(&self.bytes)
            .enumerate()
            .map(|(offset, span)| Task {
                index: self.first + offset,
                args: Args::from_bytes(self.bytes[span.expect("packed here")].to_vec()),
            })
            .collect()
    }
}

/// A job's calls.
pub(crate) enum Tasks {
    Each(Vec<Task>),
    Packed(Packed),
}

impl Default for Tasks {
    fn default() -> Tasks {
        Tasks::Each(Vec::new())
    }
}

impl From<Vec<Task>> for Tasks {
    fn from(tasks: Vec<Task>) -> Tasks {
        Tasks::Each(tasks)
    }
}

impl Tasks {
    pub(crate) fn len(&self) -> usize {
        match self {
            Tasks::Each(tasks) => tasks.len(),
            Tasks::Packed(packed) => packed.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some call's arguments detached buffers.
    pub(crate) fn detaches(&self) -> bool {
        match self {
            Tasks::Each(tasks) => tasks.iter().any(|t| !t.args.detached.is_empty()),
            Tasks::Packed(_) => false,
        }
    }

    /// The position of the call at `offset`.
    pub(crate) fn index(&self, offset: usize) -> usize {
        match self {
            Tasks::Each(tasks) => tasks[offset].index,
            Tasks::Packed(packed) => packed.first + offset,
        }
    }

    /// The calls' positions, in order.
    pub(crate) fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|offset| self.index(offset))
    }

    /// The calls one by one, unpacked if they were packed.
    pub(crate) fn each(&mut self) -> &mut Vec<Task> {
        if let Tasks::Packed(packed) = self {
            *self = Tasks::Each(packed.unpack());
        }
        match self {
            Tasks::Each(tasks) => tasks,
            Tasks::Packed(_) => unreachable!("unpacked above"),
        }
    }

    /// Encodes the request for the calls of `id` into `buf`, and returns the
    /// buffers to send after it (see [`codec::encode_calls`]).
    pub(crate) fn encode<'a>(
        &'a self,
        buf: &mut Vec<u8>,
        id: &str,
        timeout: Option<std::time::Duration>,
        detach: bool,
    ) -> Vec<&'a Vec<u8>> {
        match self {
            Tasks::Each(tasks) => {
                let calls = tasks.iter().map(|t| (t.index as u64, &t.args));
                codec::encode_calls(buf, id, timeout, calls, detach)
            }
            Tasks::Packed(packed) => {
                let calls = (packed.first as u64, packed.len());
                codec::encode_run_request(buf, id, timeout, calls, &packed.bytes);
                Vec::new()
            }
        }
    }

    /// The bytes the calls take in a request, detached buffers included
    /// (a slot asks before every send).
    pub(crate) fn wire_len(&self) -> usize {
        let header = crate::contract::frame::HEADER_LEN;
        match self {
            Tasks::Each(tasks) => tasks
                .iter()
                .map(|t| {
                    let detached = t.args.detached.len();
                    let inline = codec::task_len(t.index as u64, t.args.bytes.len(), detached);
                    inline
                        + t.args
                            .detached
                            .iter()
                            .map(|b| header + b.len())
                            .sum::<usize>()
                })
                .sum(),
            Tasks::Packed(packed) => packed.bytes.len() + codec::leb_len(packed.first as u64),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::codec::{Message, Request, decode};

    /// Calls 7, 8 and 9, the last with arguments too long for a one-byte
    /// length; and one that was not kept between them.
    fn packed() -> Packed {
        let mut packed = Packed::new(7);
        for args in [&[1u8][..], &[], &[5; 4], &[2; 300]] {
            let keep = args.len() != 4;
            packed.pack(
                |bytes| {
                    bytes.extend_from_slice(args);
                    Some(keep)
                },
                |keep| *keep,
            );
        }
        packed
    }

    fn args() -> Vec<Vec<u8>> {
        vec![vec![1], vec![], vec![2; 300]]
    }

    #[test]
    fn packed_calls_unpack_to_the_same_calls() {
        let mut tasks = Tasks::Packed(packed());
        assert_eq!(tasks.indexes().collect::<Vec<_>>(), [7, 8, 9]);
        let each = tasks.each();
        let unpacked: Vec<Vec<u8>> = each.iter().map(|t| t.args.bytes.to_vec()).collect();
        assert_eq!(unpacked, args());
        assert_eq!(tasks.indexes().collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn packed_calls_encode_a_request_for_the_same_calls() {
        let packed = Tasks::Packed(packed());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(packed.encode(&mut a, "f", None, true).is_empty());
        let mut each = Tasks::Packed(self::packed());
        each.each();
        each.encode(&mut b, "f", None, true);
        let (Ok(Message::Request(a_request)), Ok(Message::Request(b_request))) =
            (decode(&a), decode(&b))
        else {
            panic!("not requests")
        };
        assert_eq!(a_request, b_request);
        let Request { id, tasks, .. } = a_request;
        assert_eq!(id, "f");
        let seqs: Vec<u64> = tasks.iter().map(|t| t.seq).collect();
        assert_eq!(seqs, [7, 8, 9]);
        let args: Vec<Vec<u8>> = tasks.iter().map(|t| t.args.to_vec()).collect();
        assert_eq!(args, self::args());
        // Tag, count, timeout, ID length, ID: then the calls, exactly as
        // counted, packed or one by one.
        assert_eq!(a.len(), 1 + 4 + 8 + 4 + 1 + packed.wire_len());
        assert_eq!(b.len(), 1 + 4 + 8 + 4 + 1 + each.wire_len());
    }
}
