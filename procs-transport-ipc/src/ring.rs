//! The shared memory ring that large messages stream through.
//!
//! Each end of a channel owns one ring for the messages it sends: a memfd
//! of [`SLOTS`] × [`CHUNK`] bytes (8 MiB), made and mapped once, with the
//! channel's first large message, and mapped once by the peer (its file
//! descriptor travels once, in a `Packet::Ring`). A channel that carries
//! large messages both ways thus holds two rings, 16 MiB, mapped in both
//! processes; one that never does holds none.
//!
//! A large message crosses in chunks of [`CHUNK`] bytes, slot after slot:
//! the sender copies a chunk into the next slot and says so on the socket,
//! the receiver copies it out and hands the slot back (a credit) on the
//! socket. With [`SLOTS`] slots in flight the sender fills slot *k* + 1
//! while the receiver empties slot *k*, on the other CPU, so a direction
//! costs about one copy rather than two in a row, and the ring's pages are
//! faulted in once per channel rather than once per message.
//!
//! The ring holds no state of its own (no shared counters): which slot is
//! next follows from the order of the packets on the socket, so a peer that
//! dies or scribbles over the ring can garble the bytes of its own message,
//! never make this side wait or read outside the ring.

use ipc_channel::ipc::IpcSharedMemory;

use crate::error::Error;
use crate::packet::unwinding;

/// Bytes per slot: the largest chunk of a message.
///
/// 1 MiB amortizes the two socket packets per chunk (some µs) over about
/// 100 µs of copying.
pub(crate) const CHUNK: usize = 1 << 20;

/// Slots per ring: how far the sender may run ahead of the receiver.
pub(crate) const SLOTS: usize = 8;

/// Bytes per ring.
pub(crate) const RING_SIZE: usize = SLOTS * CHUNK;

/// The ring this end sends through.
pub(crate) struct SendRing {
    shm: IpcSharedMemory,
    /// Slots the receiver has handed back and we have not filled since.
    free: usize,
    /// The number of the next chunk; its slot is `next % SLOTS`.
    next: usize,
}

impl SendRing {
    /// Makes a ring, and a second mapping of it to send to the peer.
    pub(crate) fn new() -> Result<(SendRing, IpcSharedMemory), Error> {
        // ipc-channel asserts that memfd_create, ftruncate and mmap succeed;
        // under memory pressure that is a panic, not a crash. from_byte
        // writes every byte, so our side's pages are faulted in here, once.
        let (shm, theirs) = unwinding(|| {
            let shm = IpcSharedMemory::from_byte(0, RING_SIZE);
            let theirs = shm.clone();
            (shm, theirs)
        })?;
        let ring = SendRing {
            shm,
            free: SLOTS,
            next: 0,
        };
        Ok((ring, theirs))
    }

    /// Whether a slot is free to fill.
    pub(crate) fn has_room(&self) -> bool {
        self.free > 0
    }

    /// Copies `chunk` (at most [`CHUNK`] bytes) into the next slot, which
    /// must be free.
    pub(crate) fn fill(&mut self, chunk: &[u8]) {
        assert!(self.has_room() && chunk.len() <= CHUNK);
        let start = (self.next % SLOTS) * CHUNK;
        // SAFETY: the peer reads this slot only after the packet that
        // follows this copy, and hands it back before we fill it again; no
        // other mapping in this process writes the ring.
        let ring = unsafe { self.shm.deref_mut() };
        ring[start..start + chunk.len()].copy_from_slice(chunk);
        self.free -= 1;
        self.next += 1;
    }

    /// Takes one slot back from the receiver.
    pub(crate) fn credit(&mut self) -> Result<(), Error> {
        if self.free == SLOTS {
            return Err(Error::Unexpected("surplus credit"));
        }
        self.free += 1;
        Ok(())
    }
}

/// The peer's ring, which this end receives through.
pub(crate) struct RecvRing {
    shm: IpcSharedMemory,
    /// The number of the next chunk to arrive.
    next: usize,
}

impl RecvRing {
    pub(crate) fn new(shm: IpcSharedMemory) -> Result<RecvRing, Error> {
        if shm.len() != RING_SIZE {
            return Err(Error::Unexpected("wrongly sized ring"));
        }
        Ok(RecvRing { shm, next: 0 })
    }

    /// Copies the next chunk, `len` bytes, to `buf[at..]`, growing `buf`
    /// as needed: `buf` holds at least `at` bytes, and those from `at` on,
    /// if any, are overwritten rather than zeroed first.
    pub(crate) fn empty_into(&mut self, len: usize, buf: &mut Vec<u8>, at: usize) {
        assert!(len <= CHUNK && at <= buf.len());
        let start = (self.next % SLOTS) * CHUNK;
        self.next += 1;
        let src = self.shm.as_ptr().wrapping_add(start);
        let kept = (buf.len() - at).min(len);
        buf.reserve(len - kept);
        // SAFETY: `src..src + len` lies in the ring (`len <= CHUNK`), and
        // `buf` has room for `at + len` bytes, the first `at + kept` of them
        // initialized; the rest are initialized here before `set_len`. The
        // peer writes the slot meanwhile only if it breaks the protocol,
        // which garbles this message's bytes and nothing else.
        unsafe {
            std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr().add(at), len);
            buf.set_len(buf.len().max(at + len));
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn chunks_cross_slot_after_slot() {
        let (mut tx, theirs) = SendRing::new().unwrap();
        let mut rx = RecvRing::new(theirs).unwrap();
        let mut buf = vec![9; 3];
        for round in 0..2 * SLOTS {
            assert!(tx.has_room());
            tx.fill(&[round as u8; 5]);
            // Overwrites the last byte, appends four.
            let at = buf.len() - 1;
            rx.empty_into(5, &mut buf, at);
            tx.credit().unwrap();
        }
        let mut expected = vec![9; 2];
        expected.extend((0..2 * SLOTS).flat_map(|r| [r as u8; 4]));
        expected.push(2 * SLOTS as u8 - 1);
        assert_eq!(buf, expected);
    }

    #[test]
    fn a_full_ring_waits_for_credit() {
        let (mut tx, _theirs) = SendRing::new().unwrap();
        for _ in 0..SLOTS {
            tx.fill(&[1]);
        }
        assert!(!tx.has_room());
        for _ in 0..SLOTS {
            tx.credit().unwrap();
            assert!(tx.has_room());
        }
        assert!(tx.credit().is_err(), "more credit than slots");
    }
}
