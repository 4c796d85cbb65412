//! What travels over the sockets, and how a message picks its route.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use ipc_channel::ipc::{IpcSender, IpcSharedMemory};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;

/// Messages up to this size travel inside the socket; larger ones stream
/// through a shared memory ring, made once per channel and direction, whose
/// file descriptor travels once in the socket.
///
/// 64 KiB keeps every inline packet well under one socket buffer (208 KiB on
/// Linux by default), so `ipc-channel` never fragments a packet of ours: a
/// packet arrives whole or not at all. Above it, copying through the ring
/// (the sender fills one chunk while the receiver empties the previous one)
/// beats several trips through the kernel's socket buffer.
///
/// # Examples
///
/// ```
/// assert_eq!(procs_transport_ipc::SHARED_MEMORY_THRESHOLD, 64 * 1024);
/// ```
pub const SHARED_MEMORY_THRESHOLD: usize = 64 * 1024;

/// One packet on a channel.
#[derive(Serialize, Deserialize)]
pub(crate) enum Packet {
    /// The worker's first packet: the sender the parent will reach it with.
    Hello(IpcSender<Packet>),
    /// A message of at most [`SHARED_MEMORY_THRESHOLD`] bytes.
    Inline(Bytes),
    /// The sender's ring, once per channel, before its first large message.
    Ring(IpcSharedMemory),
    /// A larger message, of this many bytes, follows in `Chunk`s.
    Large(u64),
    /// The next chunk of the current large message, of this many bytes, is
    /// in the next slot of the sender's ring.
    Chunk(u32),
    /// The receiver has copied one chunk out of the sender's ring: the
    /// oldest filled slot is free again.
    Credit,
}

impl Packet {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Packet::Hello(_) => "hello",
            Packet::Inline(_) => "inline data",
            Packet::Ring(_) => "ring",
            Packet::Large(_) => "large message",
            Packet::Chunk(_) => "chunk",
            Packet::Credit => "credit",
        }
    }
}

/// Runs a call into ipc-channel, turning its panics into [`Error::Panicked`].
pub(crate) fn unwinding<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    // AssertUnwindSafe: after a panic the channel is reported dead and never
    // used again.
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_owned());
        Error::Panicked(message)
    })
}

/// A byte vector serialized as bytes (one length and one copy), not as a
/// sequence of `u8`s.
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;

        impl Visitor<'_> for BytesVisitor {
            type Value = Bytes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }

        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let err = unwinding(|| panic!("boom {}", 1)).unwrap_err();
        assert!(matches!(err, Error::Panicked(ref m) if m == "boom 1"));
    }
}
