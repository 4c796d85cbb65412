//! A spare large buffer per link, to receive detached buffers into memory
//! that is already mapped.
//!
//! A fresh allocation of hundreds of MiB is a fresh mapping: the kernel
//! faults in and zeroes every page on first touch, which on a VM costs
//! several times a copy of the same bytes (BENCHMARKS.md, "Figures behind
//! design choices"). A worker echoing or transforming
//! large buffers therefore receives the next argument into the buffer of its
//! last result, and the parent receives a call's result into the buffer its
//! argument was sent from.
//!
//! A spare is kept while a link is idle, so it is marked `MADV_FREE`: the
//! kernel takes its pages back when memory runs short (they then read as
//! zeros, which is fine for a buffer about to be overwritten), and leaves
//! them in place otherwise.

use crate::contract::BoxError;
use crate::wire::Broke;
use crate::wire::detached::DETACH_MIN;

#[derive(Debug, Default)]
pub(crate) struct Spare(Option<Vec<u8>>);

impl Spare {
    /// Keeps `buf` as the spare if it is large and larger than the spare
    /// already kept; drops the smaller of the two.
    pub(crate) fn give(&mut self, buf: Vec<u8>) {
        let kept = self.0.as_ref().map_or(0, Vec::capacity);
        if buf.capacity() < DETACH_MIN || buf.capacity() <= kept {
            return;
        }
        lazy_free(&buf);
        self.0 = Some(buf);
    }

    /// Receives a detached buffer of `len` bytes with `recv_into` (a
    /// channel's), into the spare if it fits.
    pub(crate) fn receive<E: Into<BoxError>>(
        &mut self,
        len: u64,
        recv_into: impl FnOnce(&mut Vec<u8>) -> Result<bool, E>,
    ) -> Result<Vec<u8>, Broke> {
        // A lying length cannot make us allocate: the spare is used only if
        // it is big enough, and the channel checks the real length.
        let mut buf = self.take_for(usize::try_from(len).unwrap_or(usize::MAX));
        match recv_into(&mut buf) {
            Ok(true) if buf.len() as u64 == len => Ok(buf),
            Ok(true) => Err(Broke::Garbage),
            Ok(false) => Err(Broke::Link(None)),
            Err(error) => Err(Broke::Link(Some(error.into()))),
        }
    }

    /// A buffer to receive `len` bytes into: the spare if it fits without
    /// wasting more than half of itself, else an empty one.
    ///
    /// The spare keeps its length, so that receiving into it overwrites
    /// bytes instead of zeroing them first.
    fn take_for(&mut self, len: usize) -> Vec<u8> {
        match self.0.take() {
            Some(buf) if buf.capacity() >= len && buf.capacity() / 2 <= len => buf,
            other => {
                self.0 = other;
                Vec::new()
            }
        }
    }
}

/// Tells the kernel it may reclaim the whole pages inside `buf`'s
/// allocation.
fn lazy_free(buf: &Vec<u8>) {
    const PAGE: usize = 4096;
    let start = buf.as_ptr() as usize;
    let first = start.next_multiple_of(PAGE);
    let end = (start + buf.capacity()) & !(PAGE - 1);
    if end > first {
        // SAFETY: the range lies inside `buf`'s allocation, which stays
        // allocated; MADV_FREE only lets the kernel replace its contents
        // with zeros, and every byte of a spare is overwritten before it is
        // read.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_FREE) };
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keeps_the_largest_large_buffer() {
        let mut spare = Spare::default();
        spare.give(vec![0; 10]);
        assert!(spare.take_for(10).capacity() < DETACH_MIN);
        spare.give(vec![1; DETACH_MIN]);
        spare.give(vec![2; 2 * DETACH_MIN]);
        spare.give(vec![3; DETACH_MIN]);
        let buf = spare.take_for(2 * DETACH_MIN);
        assert_eq!(buf.len(), 2 * DETACH_MIN, "keeps its length");
        assert!(spare.take_for(DETACH_MIN).is_empty(), "taken");
    }

    #[test]
    fn refuses_to_hand_out_a_buffer_much_too_large_or_too_small() {
        let mut spare = Spare::default();
        spare.give(vec![0; 4 * DETACH_MIN]);
        assert_eq!(spare.take_for(DETACH_MIN).capacity(), 0);
        assert_eq!(spare.take_for(5 * DETACH_MIN).capacity(), 0);
        assert_eq!(spare.take_for(3 * DETACH_MIN).len(), 4 * DETACH_MIN);
    }
}
