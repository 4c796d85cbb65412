//! A ready-made [`Channel`] over any byte stream.

use std::io::{self, BufReader, Read, Write};

use crate::contract::{Channel, frame};

/// A [`Channel`] over a byte stream (a socket, a pipe pair), framed with
/// [`frame`] and holding to its `max_message_size` before allocating.
///
/// Reads are buffered (a frame's header and a small body cost one `read`);
/// writes go straight to the stream, a small frame in one `write`. Errors
/// are [`io::Error`]s: an oversized frame is `InvalidData`, which the
/// default [`Channel::fault`] reads as a protocol fault; a stream that ends
/// inside a frame is `UnexpectedEof`.
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use procs_core::transport::{Channel, StreamChannel};
///
/// let (a, b) = UnixStream::pair()?;
/// let mut parent = StreamChannel::new(a, 1 << 20);
/// let mut worker = StreamChannel::new(b, 1 << 20);
/// parent.send(b"ping")?;
/// assert_eq!(worker.recv()?.as_deref(), Some(&b"ping"[..]));
/// drop(parent);
/// assert_eq!(worker.recv()?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct StreamChannel<S: Read + Write> {
    stream: BufReader<S>,
    max_message_size: usize,
}

impl<S: Read + Write> StreamChannel<S> {
    /// Wraps `stream`, refusing messages longer than `max_message_size`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use procs_core::transport::StreamChannel;
    /// let (a, _b) = UnixStream::pair()?;
    /// let channel = StreamChannel::new(a, 1 << 20);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(stream: S, max_message_size: usize) -> StreamChannel<S> {
        StreamChannel {
            stream: BufReader::with_capacity(64 * 1024, stream),
            max_message_size,
        }
    }

    /// The stream, for settings such as `set_nodelay`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::net::UnixStream;
    /// # use procs_core::transport::StreamChannel;
    /// let (a, _b) = UnixStream::pair()?;
    /// let channel = StreamChannel::new(a, 1 << 20);
    /// channel.get_ref().set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }
}

impl<S: Read + Write + Send + 'static> Channel for StreamChannel<S> {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // The buffer only holds bytes read ahead; writing past it is sound.
        frame::write_frame(self.stream.get_mut(), msg)
    }

    fn send_many(&mut self, msgs: &[&[u8]]) -> io::Result<()> {
        frame::write_frames(self.stream.get_mut(), msgs)
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        frame::read_frame(&mut self.stream, self.max_message_size)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        frame::read_frame_into(&mut self.stream, self.max_message_size, buf)
    }
}
