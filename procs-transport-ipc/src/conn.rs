//! An established link: messages over the socket pair, large ones streamed
//! through the shared memory rings.
//!
//! # Protocol
//!
//! A message of at most [`SHARED_MEMORY_THRESHOLD`] bytes is one `Inline`
//! packet. A larger one is a `Large(len)` packet followed by its `Chunk(n)`
//! packets, each saying that the next slot of the sender's ring holds the
//! next `n` bytes; before its first large message, an end sends its ring
//! (`Ring`). The receiver hands every slot back with a `Credit` packet once
//! it has copied the chunk out. Credits for our ring travel on the same
//! socket as the peer's messages and may come at any point in its packet
//! stream, even between a `Large` and its chunks.
//!
//! # Why nothing can hang
//!
//! Every wait is a blocking read of our socket (never a futex or a shared
//! counter), and that read ends when the peer's process dies, because the
//! kernel closes its end: a peer killed mid-message is an error, never a
//! hang.
//!
//! Each end is driven by one thread, which is either sending or receiving.
//! A receiver always reads on, and hands each slot back as soon as it has
//! emptied it, so a sender that waits for a slot gets one unless the peer is
//! itself stuck in a send. That is the one cycle to break: both ends send at
//! once (the parent a request, the worker a response), and neither reads.
//! So a sender waiting for a slot does not only wait for credits: it reads
//! everything the peer sends meanwhile, whole messages and the chunks of a
//! large one (which it copies out of the peer's ring and credits back at
//! once), and keeps those messages for its next `recv`. Both ends then keep
//! emptying each other's rings, and both sends finish. The cost of that
//! rare case is memory: a large message received while sending goes into a
//! fresh buffer (at most the size limit), not into the caller's.
//!
//! Only tiny packets are ever sent while the peer may not be reading:
//! credits (at most [`SLOTS`] outstanding) and `Chunk`s (at most [`SLOTS`]
//! before the sender must read), well inside a socket buffer; inline
//! messages are bounded by procs' own pipelining limit, as on any transport.
//!
//! [`SLOTS`]: crate::ring::SLOTS

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use ipc_channel::IpcError;
use ipc_channel::TryRecvError;
use ipc_channel::ipc::{IpcReceiver, IpcSender};
use procs_core::transport::Backoff;

use crate::channel::{ipc_error, is_reset, too_large};
use crate::error::Error;
use crate::packet::{Bytes, Packet, SHARED_MEMORY_THRESHOLD, unwinding};
use crate::ring::{CHUNK, RecvRing, SendRing};

/// How long a read that expects a packet soon polls before blocking.
const POLL: Duration = Duration::from_micros(100);

/// The data path of an established channel.
pub(crate) struct Conn {
    tx: IpcSender<Packet>,
    rx: IpcReceiver<Packet>,
    /// Our ring, made with our first large message.
    ring: Option<SendRing>,
    /// The peer's ring, once it has sent it.
    peer_ring: Option<RecvRing>,
    /// Messages that arrived whole while a send waited for a slot.
    arrived: VecDeque<Vec<u8>>,
    /// A large message that began to arrive while a send waited for a slot.
    partial: Option<Partial>,
}

/// A large message partly received.
struct Partial {
    buf: Vec<u8>,
    len: usize,
}

impl Conn {
    pub(crate) fn new(tx: IpcSender<Packet>, rx: IpcReceiver<Packet>) -> Conn {
        Conn {
            tx,
            rx,
            ring: None,
            peer_ring: None,
            arrived: VecDeque::new(),
            partial: None,
        }
    }

    /// Sends one message; `max` is our own limit, for what arrives meanwhile.
    pub(crate) fn send(&mut self, msg: &[u8], max: usize) -> io::Result<()> {
        if msg.len() <= SHARED_MEMORY_THRESHOLD {
            return self.put(Packet::Inline(Bytes(msg.to_vec())));
        }
        if self.ring.is_none() {
            let (ring, theirs) = SendRing::new().map_err(Error::into_io)?;
            self.put(Packet::Ring(theirs))?;
            self.ring = Some(ring);
        }
        self.put(Packet::Large(msg.len() as u64))?;
        for chunk in msg.chunks(CHUNK) {
            while !self.ring.as_ref().is_some_and(SendRing::has_room) {
                self.read_while_sending(max)?;
            }
            self.ring.as_mut().expect("made above").fill(chunk);
            self.put(Packet::Chunk(chunk.len() as u32))?;
        }
        Ok(())
    }

    /// Receives one message into `buf`; `false` when the peer closed the
    /// link between messages.
    pub(crate) fn recv_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<bool> {
        if let Some(msg) = self.arrived.pop_front() {
            *buf = msg;
            return Ok(true);
        }
        if let Some(Partial {
            buf: mut started,
            len,
        }) = self.partial.take()
        {
            let done = started.len();
            self.stream(&mut started, done, len)?;
            *buf = started;
            return Ok(true);
        }
        loop {
            let Some(packet) = self.read()? else {
                return Ok(false);
            };
            match packet {
                Packet::Inline(Bytes(bytes)) => {
                    if bytes.len() > max {
                        return Err(too_large(bytes.len() as u64, max));
                    }
                    *buf = bytes;
                    return Ok(true);
                }
                Packet::Large(len) => {
                    let len = checked_len(len, max)?;
                    // Into memory already mapped: overwritten, not zeroed first.
                    buf.truncate(len);
                    buf.reserve_exact(len - buf.len());
                    self.stream(buf, 0, len)?;
                    return Ok(true);
                }
                other => self.absorb(other)?,
            }
        }
    }

    /// Receives the rest of a large message of `len` bytes into `buf`,
    /// whose first `done` bytes have arrived (it may hold stale bytes past
    /// them: a reused buffer).
    fn stream(&mut self, buf: &mut Vec<u8>, mut done: usize, len: usize) -> io::Result<()> {
        while done < len {
            let Some(packet) = self.read_soon()? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the link inside a message",
                ));
            };
            match packet {
                Packet::Chunk(n) => done += self.take_chunk(n, buf, done, len)?,
                other => self.absorb(other)?,
            }
        }
        buf.truncate(len);
        Ok(())
    }

    /// Copies the chunk of `n` bytes that just arrived to `buf[done..]`,
    /// and hands its slot back; returns `n`.
    fn take_chunk(
        &mut self,
        n: u32,
        buf: &mut Vec<u8>,
        done: usize,
        len: usize,
    ) -> io::Result<usize> {
        let n = n as usize;
        let Some(ring) = &mut self.peer_ring else {
            return Err(Error::Unexpected("chunk without a ring").into_io());
        };
        if n != CHUNK.min(len - done) {
            return Err(Error::Unexpected("wrongly sized chunk").into_io());
        }
        ring.empty_into(n, buf, done);
        match self.put(Packet::Credit) {
            // A peer that is gone needs no credit; the next read says so.
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe || is_reset(&error) => {}
            other => other?,
        }
        Ok(n)
    }

    /// Waits for a slot of our ring to be handed back, reading whatever
    /// the peer sends meanwhile (see the module docs: this is what keeps
    /// two ends sending at once from waiting on each other).
    fn read_while_sending(&mut self, max: usize) -> io::Result<()> {
        let Some(packet) = self.read_soon()? else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        match packet {
            Packet::Inline(Bytes(bytes)) if self.partial.is_none() => {
                if bytes.len() > max {
                    return Err(too_large(bytes.len() as u64, max));
                }
                self.arrived.push_back(bytes);
            }
            Packet::Large(len) if self.partial.is_none() => {
                let len = checked_len(len, max)?;
                self.partial = Some(Partial {
                    buf: Vec::with_capacity(len),
                    len,
                });
            }
            Packet::Chunk(n) if self.partial.is_some() => {
                let Partial { mut buf, len } = self.partial.take().expect("checked above");
                let done = buf.len();
                let n = self.take_chunk(n, &mut buf, done, len)?;
                if done + n == len {
                    self.arrived.push_back(buf);
                } else {
                    self.partial = Some(Partial { buf, len });
                }
            }
            other => self.absorb(other)?,
        }
        Ok(())
    }

    /// Takes in a packet that is not part of a message: a credit for our
    /// ring, or the peer's ring. Anything else is out of place.
    fn absorb(&mut self, packet: Packet) -> io::Result<()> {
        match packet {
            Packet::Credit => match &mut self.ring {
                Some(ring) => ring.credit().map_err(Error::into_io),
                None => Err(Error::Unexpected("credit").into_io()),
            },
            Packet::Ring(shm) if self.peer_ring.is_none() => {
                self.peer_ring = Some(RecvRing::new(shm).map_err(Error::into_io)?);
                Ok(())
            }
            other => Err(Error::Unexpected(other.kind()).into_io()),
        }
    }

    /// Sends one packet.
    fn put(&self, packet: Packet) -> io::Result<()> {
        match unwinding(|| self.tx.send(packet)).map_err(Error::into_io)? {
            Ok(()) => Ok(()),
            Err(IpcError::Disconnected) => Err(io::ErrorKind::BrokenPipe.into()),
            Err(error) => Err(ipc_error(error)),
        }
    }

    /// The next packet; `None` when the peer has closed the link.
    fn read(&self) -> io::Result<Option<Packet>> {
        closed_or(unwinding(|| self.rx.recv()).map_err(Error::into_io)?)
    }

    /// Like [`read`](Self::read), for a packet due within about one chunk's
    /// copy (the peer is streaming to us, or emptying our ring): polls for
    /// [`POLL`] before blocking, since waking a thread that blocked costs
    /// tens of microseconds on a small VM, a chunk's copy about a hundred.
    fn read_soon(&self) -> io::Result<Option<Packet>> {
        let mut backoff = Backoff::new(POLL, Duration::ZERO, Duration::ZERO);
        loop {
            match unwinding(|| self.rx.try_recv()).map_err(Error::into_io)? {
                Ok(packet) => return Ok(Some(packet)),
                Err(TryRecvError::IpcError(error)) => return closed_or(Err(error)),
                Err(TryRecvError::Empty) => {}
            }
            if backoff.spun() {
                return self.read();
            }
            backoff.wait();
        }
    }
}

/// A packet, `None` for a closed link, or the error.
fn closed_or(received: Result<Packet, IpcError>) -> io::Result<Option<Packet>> {
    match received {
        Ok(packet) => Ok(Some(packet)),
        Err(IpcError::Disconnected) => Ok(None),
        // The peer died with packets of ours unread: a socket packet
        // arrives whole or not at all, so this is a close too.
        Err(IpcError::Io(error)) if is_reset(&error) => Ok(None),
        Err(error) => Err(ipc_error(error)),
    }
}

/// The length of a large message, refused over `max` before anything is
/// allocated (and under the threshold: such a message travels inline).
fn checked_len(len: u64, max: usize) -> io::Result<usize> {
    match usize::try_from(len) {
        Ok(len) if len > max => Err(too_large(len as u64, max)),
        Ok(len) if len > SHARED_MEMORY_THRESHOLD => Ok(len),
        Ok(_) => Err(Error::Unexpected("short large message").into_io()),
        Err(_) => Err(too_large(len, max)),
    }
}

#[cfg(test)]
mod test {
    use std::thread;

    use ipc_channel::ipc;
    use procs_core::transport::Channel;

    use super::*;
    use crate::IpcChannel;
    use crate::ring::RING_SIZE;

    const MAX: usize = 64 << 20;

    fn pair() -> (IpcChannel, IpcChannel) {
        let (to_b, from_a) = ipc::channel().unwrap();
        let (to_a, from_b) = ipc::channel().unwrap();
        (
            IpcChannel::ready(to_b, from_b, MAX),
            IpcChannel::ready(to_a, from_a, MAX),
        )
    }

    /// Messages of every route, several ring-fulls long included.
    fn messages(seed: u8) -> Vec<Vec<u8>> {
        [
            0,
            100,
            SHARED_MEMORY_THRESHOLD + 1,
            3 * RING_SIZE + 12345,
            7,
            CHUNK,
            RING_SIZE,
        ]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            (0..len)
                .map(|j| (j as u8).wrapping_mul(31) ^ seed ^ i as u8)
                .collect()
        })
        .collect()
    }

    #[test]
    fn both_ends_sending_at_once_do_not_wait_on_each_other() {
        let (mut a, mut b) = pair();
        let from_b = thread::spawn(move || {
            for msg in messages(2) {
                b.send(&msg).unwrap();
            }
            let mut got = Vec::new();
            let mut buf = vec![0xEE; 5 << 20];
            while b.recv_into(&mut buf).unwrap() {
                got.push(buf.clone());
            }
            got
        });
        for msg in messages(1) {
            a.send(&msg).unwrap();
        }
        let mut buf = Vec::new();
        for msg in messages(2) {
            assert!(a.recv_into(&mut buf).unwrap());
            assert!(
                buf == msg,
                "a message of {} bytes arrived garbled",
                msg.len()
            );
        }
        drop(a);
        assert!(from_b.join().unwrap() == messages(1));
    }

    #[test]
    fn a_peer_gone_inside_a_message_is_an_error() {
        let (to_b, from_a) = ipc::channel().unwrap();
        let (to_a, _from_b) = ipc::channel().unwrap();
        let mut b = IpcChannel::ready(to_a, from_a, MAX);
        let (mut ring, theirs) = SendRing::new().unwrap();
        to_b.send(Packet::Ring(theirs)).unwrap();
        to_b.send(Packet::Large(3 * CHUNK as u64)).unwrap();
        ring.fill(&[1; CHUNK]);
        to_b.send(Packet::Chunk(CHUNK as u32)).unwrap();
        drop(to_b);
        let err = b.recv().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_send_waiting_for_a_slot_ends_when_the_peer_goes() {
        let (mut a, b) = pair();
        let sending = thread::spawn(move || a.send(&vec![3; 4 * RING_SIZE]));
        // However far the send got, dropping the reader ends it.
        thread::sleep(std::time::Duration::from_millis(20));
        drop(b);
        let err = sending.join().unwrap().unwrap_err();
        let kind = err.kind();
        assert!(
            matches!(
                kind,
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    }

    #[test]
    fn a_peer_that_breaks_the_protocol_is_refused() {
        let bad = [
            vec![Packet::Credit],
            vec![Packet::Chunk(1)],
            vec![Packet::Large(10)],
            vec![Packet::Large(MAX as u64 + 1)],
        ];
        for packets in bad {
            let (to_b, from_a) = ipc::channel().unwrap();
            let (to_a, _from_b) = ipc::channel().unwrap();
            let mut b = IpcChannel::ready(to_a, from_a, MAX);
            for packet in packets {
                to_b.send(packet).unwrap();
            }
            let err = b.recv().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
    }
}
