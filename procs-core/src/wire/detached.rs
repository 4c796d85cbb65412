//! Large byte buffers that travel as messages of their own.
//!
//! A top-level `Vec<u8>` argument or return value of at least [`DETACH_MIN`]
//! bytes is not copied into its call's message. It is *detached*: the
//! message holds a one-byte marker where the buffer would be and lists the
//! buffer's length, and the buffer follows the message on the link as a
//! message of its own, in order. So the sender writes straight from the
//! caller's buffer, and the receiver reads straight into the buffer it hands
//! over (the function's argument, or the caller's result): no copy on either
//! side beyond the transport's own, and no fresh memory when a buffer can be
//! reused (see [`Spare`](crate::wire::spare::Spare)).

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

use smallvec::SmallVec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::contract::BoxError;
use crate::wire::value;

/// Byte buffers at least this long are detached; shorter ones are cheaper
/// to copy than to send alone.
pub(crate) const DETACH_MIN: usize = 64 << 10;

/// Stands for the next detached buffer where a byte buffer's length would be
/// (a byte bincode never writes there).
pub(crate) const MARKER: u8 = 255;

/// Where encoded values go: the message being built, and the buffers to send
/// after it. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Output<'a> {
    pub(crate) bytes: &'a mut Vec<u8>,
    pub(crate) detached: &'a mut Vec<Vec<u8>>,
    /// Whether large byte buffers are detached at all (not for attached
    /// workers, see [`Args::inlined`]).
    pub(crate) detach: bool,
    /// Where to note the position of each marker, if anywhere.
    pub(crate) marks: Option<&'a mut Vec<usize>>,
}

impl Output<'_> {
    /// Appends `value`, detaching it if it is a large byte buffer.
    pub(crate) fn put<T: Serialize + 'static>(&mut self, value: T) -> Result<(), BoxError> {
        let mut value = Some(value);
        if let Some(slot) = (&mut value as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>() {
            let buf = slot.take().expect("set above");
            if self.detach && buf.len() >= DETACH_MIN {
                if let Some(marks) = self.marks.as_deref_mut() {
                    marks.push(self.bytes.len());
                }
                self.bytes.push(MARKER);
                self.detached.push(buf);
                return Ok(());
            }
            return value::encode_elem(&buf, self.bytes);
        }
        value::encode_elem(value.as_ref().expect("set above"), self.bytes)
    }
}

/// Where encoded values come from: a message's bytes, and the buffers that
/// followed it. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Input<'a> {
    pub(crate) bytes: &'a [u8],
    /// `bytes` and what follows them in their message, if known: read
    /// ahead by the decoder (see [`value::decode_elem_in`]).
    room: &'a [u8],
    pub(crate) detached: std::vec::IntoIter<Vec<u8>>,
    /// Values taken so far, so that an error can say which one failed.
    pub(crate) taken: usize,
}

impl<'a> Input<'a> {
    pub(crate) fn new(bytes: &'a [u8], detached: Vec<Vec<u8>>) -> Input<'a> {
        Input {
            bytes,
            room: bytes,
            detached: detached.into_iter(),
            taken: 0,
        }
    }

    /// The values in `part`, a slice of `msg`, read in place.
    pub(crate) fn in_message(msg: &'a [u8], part: &[u8], detached: Vec<Vec<u8>>) -> Input<'a> {
        let start = part.as_ptr() as usize - msg.as_ptr() as usize;
        Input::within(msg, start..start + part.len(), detached)
    }

    /// The values in `msg[range]`, a part of a message.
    pub(crate) fn within(msg: &'a [u8], range: Range<usize>, detached: Vec<Vec<u8>>) -> Input<'a> {
        Input {
            room: &msg[range.start..],
            ..Input::new(&msg[range], detached)
        }
    }

    /// Takes the next value, a detached buffer if the marker stands there.
    #[inline]
    pub(crate) fn take<T: DeserializeOwned + 'static>(&mut self) -> Result<T, BoxError> {
        let before = self.bytes.len();
        let value = self.take_here();
        self.room = &self.room[before - self.bytes.len()..];
        value
    }

    #[inline]
    fn take_here<T: DeserializeOwned + 'static>(&mut self) -> Result<T, BoxError> {
        self.taken += 1;
        let mut slot: Option<T> = None;
        if let [MARKER, rest @ ..] = self.bytes {
            if let Some(buf) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>() {
                *buf = Some(
                    self.detached
                        .next()
                        .ok_or("a detached byte buffer is missing")?,
                );
                self.bytes = rest;
                return Ok(slot.expect("set above"));
            }
        }
        value::decode_elem_in(&mut self.bytes, self.room)
    }

    /// Refuses bytes or buffers left over after the last value.
    pub(crate) fn end(&self) -> Result<(), BoxError> {
        value::end(self.bytes)?;
        match self.detached.len() {
            0 => Ok(()),
            n => Err(format!("{n} detached byte buffers left over").into()),
        }
    }
}

/// Encoded arguments up to this many bytes are kept inline in their
/// [`Args`]: most calls of a batch of tiny calls then allocate nothing.
const INLINE: usize = 24;

/// A call's encoded arguments, owned: what a [`Proc`](crate::Proc) carries.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) bytes: SmallVec<[u8; INLINE]>,
    pub(crate) detached: Vec<Vec<u8>>,
    /// The position in `bytes` of each detached buffer's marker.
    marks: Vec<usize>,
}

impl Args {
    /// Encodes arguments with `write`, through a buffer reused by the
    /// thread: a short encoding is copied inline, a long one keeps the
    /// buffer (so the thread never holds on to a large one).
    pub(crate) fn encode<E>(
        write: impl FnOnce(&mut Output<'_>) -> Result<(), E>,
    ) -> Result<Args, E> {
        thread_local! {
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|cell| {
            // A `Serialize` impl that makes a `Proc` finds the buffer taken.
            let mut own = Vec::new();
            let mut borrowed = cell.try_borrow_mut();
            Args::encode_in(borrowed.as_deref_mut().unwrap_or(&mut own), write)
        })
    }

    /// [`Args::encode`] through `scratch`.
    pub(crate) fn encode_in<E>(
        scratch: &mut Vec<u8>,
        write: impl FnOnce(&mut Output<'_>) -> Result<(), E>,
    ) -> Result<Args, E> {
        scratch.clear();
        let mut detached = Vec::new();
        let mut marks = Vec::new();
        write(&mut Output {
            bytes: scratch,
            detached: &mut detached,
            detach: true,
            marks: Some(&mut marks),
        })?;
        let bytes = match scratch.len() {
            // Byte by byte: for a few bytes this beats `from_slice`, whose
            // call to `memcpy` cost more than the copy (about 7 ns a call).
            n if n <= INLINE => scratch.iter().copied().collect(),
            _ => SmallVec::from_vec(std::mem::take(scratch)),
        };
        Ok(Args {
            bytes,
            detached,
            marks,
        })
    }

    /// Encodes arguments with `write` at the end of `bytes`, after the
    /// arguments of other calls (see `pool::tasks`): `None` when they are
    /// there, or the arguments on their own when they detached buffers
    /// (such a call travels alone). Only packed arguments are left in
    /// `bytes`, also on an error.
    pub(crate) fn pack<E>(
        bytes: &mut Vec<u8>,
        write: impl FnOnce(&mut Output<'_>) -> Result<(), E>,
    ) -> Result<Option<Args>, E> {
        let start = bytes.len();
        let mut detached = Vec::new();
        let mut marks = Vec::new();
        let written = write(&mut Output {
            bytes,
            detached: &mut detached,
            detach: true,
            marks: Some(&mut marks),
        });
        if written.is_ok() && detached.is_empty() {
            return Ok(None);
        }
        let own = SmallVec::from_slice(&bytes[start..]);
        bytes.truncate(start);
        written?;
        marks.iter_mut().for_each(|mark| *mark -= start);
        Ok(Some(Args {
            bytes: own,
            detached,
            marks,
        }))
    }

    /// Arguments encoded elsewhere, none detached.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Args {
        Args {
            bytes: SmallVec::from_vec(bytes),
            detached: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The arguments with every detached buffer put back in its place, as
    /// one message: for attached workers, whose transports may carry
    /// exactly one message each way per call (MPI's links do).
    pub(crate) fn inlined(&self) -> Cow<'_, [u8]> {
        if self.detached.is_empty() {
            return Cow::Borrowed(&self.bytes);
        }
        let mut out = Vec::with_capacity(self.len() + 9 * self.detached.len());
        let mut from = 0;
        for (&at, buf) in self.marks.iter().zip(&self.detached) {
            out.extend_from_slice(&self.bytes[from..at]);
            value::encode_elem(buf, &mut out).expect("byte buffers always encode");
            from = at + 1;
        }
        out.extend_from_slice(&self.bytes[from..]);
        Cow::Owned(out)
    }

    /// The bytes on the wire, detached buffers included.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() + self.detached.iter().map(Vec::len).sum::<usize>()
    }
}

/// The lengths of the buffers detached from one task or outcome: as listed in
/// a received message, or taken from the buffers about to be sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lens<'a> {
    /// Little-endian `u64`s, as on the wire.
    Wire(&'a [u8]),
    Buffers(&'a [Vec<u8>]),
}

impl Lens<'_> {
    pub(crate) const NONE: Lens<'static> = Lens::Buffers(&[]);

    pub(crate) fn len(&self) -> usize {
        match self {
            Lens::Wire(bytes) => bytes.len() / 8,
            Lens::Buffers(bufs) => bufs.len(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (wire, bufs) = match *self {
            Lens::Wire(bytes) => (bytes, &[][..]),
            Lens::Buffers(bufs) => (&[][..], bufs),
        };
        let wire = wire
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
        wire.chain(bufs.iter().map(|b| b.len() as u64))
    }
}

impl PartialEq for Lens<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Lens<'_> {}

#[cfg(test)]
mod test {
    use super::*;

    fn encode<T: Serialize + 'static>(value: T) -> Args {
        Args::encode(|out| out.put(value)).unwrap()
    }

    #[test]
    fn large_byte_buffers_are_detached_without_a_copy() {
        let big = vec![7u8; DETACH_MIN];
        let at = big.as_ptr();
        let args = encode(big);
        assert_eq!(args.bytes[..], [MARKER]);
        assert_eq!(args.detached.len(), 1);
        assert_eq!(args.detached[0].as_ptr(), at, "moved, not copied");
        assert_eq!(args.len(), 1 + DETACH_MIN);

        let mut input = Input::new(&args.bytes, args.detached);
        let back: Vec<u8> = input.take().unwrap();
        assert_eq!(back.as_ptr(), at, "handed over, not copied");
        input.end().unwrap();
    }

    #[test]
    fn small_buffers_and_other_values_stay_inline() {
        let args = Args::encode(|out| {
            out.put(vec![1u8; DETACH_MIN - 1])?;
            out.put(String::from("x"))?;
            out.put(vec![2u16; DETACH_MIN])
        })
        .unwrap();
        assert!(args.detached.is_empty());
        assert!(args.bytes.spilled(), "a long encoding is not inline");
        let small = encode((7u64, 'x'));
        assert!(!small.bytes.spilled(), "a short one is");
        assert_eq!(
            small.bytes[..],
            crate::wire::value::encode_value(&(7u64, 'x')).unwrap()
        );
        let mut input = Input::new(&args.bytes, Vec::new());
        assert_eq!(input.take::<Vec<u8>>().unwrap().len(), DETACH_MIN - 1);
        assert_eq!(input.take::<String>().unwrap(), "x");
        assert_eq!(input.take::<Vec<u16>>().unwrap().len(), DETACH_MIN);
        input.end().unwrap();
    }

    #[test]
    fn inlined_arguments_decode_as_the_detached_ones() {
        let big = vec![5u8; DETACH_MIN];
        let args = Args::encode(|out| {
            out.put(7u32)?;
            out.put(big.clone())?;
            out.put(String::from("between"))?;
            out.put(big.clone())?;
            out.put(vec![1u8, 2])
        })
        .unwrap();
        assert_eq!(args.detached.len(), 2);
        let inlined = args.inlined();
        let mut input = Input::new(&inlined, Vec::new());
        assert_eq!(input.take::<u32>().unwrap(), 7);
        assert_eq!(input.take::<Vec<u8>>().unwrap(), big);
        assert_eq!(input.take::<String>().unwrap(), "between");
        assert_eq!(input.take::<Vec<u8>>().unwrap(), big);
        assert_eq!(input.take::<Vec<u8>>().unwrap(), [1, 2]);
        input.end().unwrap();
        let small = encode(3u8);
        assert!(matches!(small.inlined(), Cow::Borrowed(b) if b == [3]));
    }

    #[test]
    fn missing_or_extra_buffers_are_errors() {
        let args = encode(vec![0u8; DETACH_MIN]);
        let mut input = Input::new(&args.bytes, Vec::new());
        assert!(input.take::<Vec<u8>>().is_err());

        let input = Input::new(&[], vec![vec![1]]);
        assert!(input.end().unwrap_err().to_string().contains("left over"));

        // The marker means nothing to any other type.
        let mut input = Input::new(&[MARKER], vec![vec![1]]);
        assert!(input.take::<String>().is_err());
    }

    #[test]
    fn lengths_read_alike_from_the_wire_and_from_buffers() {
        let bufs = [vec![0u8; 3], vec![0u8; 300]];
        let wire: Vec<u8> = [3u64, 300].iter().flat_map(|n| n.to_le_bytes()).collect();
        assert_eq!(Lens::Wire(&wire), Lens::Buffers(&bufs));
        assert_eq!(Lens::Wire(&wire).len(), 2);
        assert_eq!(Lens::NONE.len(), 0);
    }
}
