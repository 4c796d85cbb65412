//! A job's calls: one by one, or packed.
//!
//! `pmap` over tiny calls spent more on per-call structures (a `Spec`, a
//! `Task` with its own argument buffer, each moved a few times) than on the
//! calls. So a batch of plain calls, as `pmap` makes them, is *packed*: the
//! arguments are encoded one after the other into one buffer as the input
//! is drained, and the request is written from it. The rare paths that deal
//! with calls one at a time (a split batch, a retry, a death) unpack it
//! first.

use std::ops::Range;

use crate::wire::codec;
use crate::wire::detached::{Args, Lens};

/// One call of a job: its position in its `call` and its encoded arguments.
pub(crate) struct Task {
    pub(crate) index: usize,
    pub(crate) args: Args,
}

/// Consecutive calls of one function with arguments encoded in one buffer,
/// none of them with detached buffers.
#[derive(Default)]
pub(crate) struct Packed {
    /// The position of the first call; the others follow it.
    pub(crate) first: usize,
    pub(crate) bytes: Vec<u8>,
    /// Where each call's arguments end in `bytes`.
    pub(crate) ends: Vec<usize>,
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
        self.ends.len()
    }

    /// Where the arguments of the call at `offset` lie in `bytes`.
    fn span(&self, offset: usize) -> Range<usize> {
        let start = offset.checked_sub(1).map_or(0, |before| self.ends[before]);
        start..self.ends[offset]
    }

    fn unpack(&self) -> Vec<Task> {
        (0..self.len())
            .map(|offset| Task {
                index: self.first + offset,
                args: Args::from_bytes(self.bytes[self.span(offset)].to_vec()),
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
                let calls = (0..packed.len()).map(|offset| codec::Task {
                    seq: (packed.first + offset) as u64,
                    args: &packed.bytes[packed.span(offset)],
                    detached: Lens::NONE,
                });
                codec::encode_timed_request(buf, id, timeout, calls);
                Vec::new()
            }
        }
    }

    /// The bytes the calls take in a request, detached buffers included:
    /// exact one by one, and for packed calls a bound found without
    /// walking them (a slot asks before every send; an excess only keeps a
    /// request from being pipelined).
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
            Tasks::Packed(packed) => {
                let last = (packed.first + packed.len()) as u64;
                let most = packed.bytes.len();
                // No call's number or length takes more than the last's
                // number or all the bytes do.
                let each = codec::task_len(last, most, 0) - most;
                most + packed.len() * each
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn packed() -> Packed {
        let mut packed = Packed::new(7);
        for args in [&[1u8][..], &[], &[2, 3]] {
            packed.bytes.extend_from_slice(args);
            packed.ends.push(packed.bytes.len());
        }
        packed
    }

    #[test]
    fn packed_calls_unpack_to_the_same_calls() {
        let mut tasks = Tasks::Packed(packed());
        assert_eq!(tasks.indexes().collect::<Vec<_>>(), [7, 8, 9]);
        let bound = tasks.wire_len();
        let each = tasks.each();
        let args: Vec<&[u8]> = each.iter().map(|t| &t.args.bytes[..]).collect();
        assert_eq!(args, [&[1u8][..], &[], &[2, 3]]);
        assert_eq!(tasks.indexes().collect::<Vec<_>>(), [7, 8, 9]);
        assert!(tasks.wire_len() <= bound);
    }

    #[test]
    fn packed_calls_encode_the_request_of_the_same_calls() {
        let packed = Tasks::Packed(packed());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(packed.encode(&mut a, "f", None, true).is_empty());
        let mut each = Tasks::Packed(self::packed());
        each.each();
        each.encode(&mut b, "f", None, true);
        assert_eq!(a, b);
        // Tag, count, timeout, ID length, ID: then the calls, exactly as
        // counted one by one, and within the packed bound.
        assert_eq!(a.len(), 1 + 4 + 8 + 4 + 1 + each.wire_len());
        assert!(each.wire_len() <= packed.wire_len());
    }
}
