//! Length-prefixed framing for transports built on byte streams.
//!
//! A frame is an 8-byte little-endian length followed by that many bytes.
//! Stream transports (pipes, sockets) use these two functions so that every
//! transport frames alike and enforces the size limit before allocating.

use std::io::{self, Read, Write};

/// The size of a frame's length prefix, in bytes.
///
/// # Examples
///
/// ```
/// let mut wire = Vec::new();
/// procs_core::transport::frame::write_frame(&mut wire, b"abc")?;
/// assert_eq!(wire.len(), procs_core::transport::frame::HEADER_LEN + 3);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const HEADER_LEN: usize = 8;

/// Messages up to this size are written with their header in one `write`.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Writes `msg` as one frame.
///
/// # Examples
///
/// ```
/// let mut wire = Vec::new();
/// procs_core::transport::frame::write_frame(&mut wire, b"hi")?;
/// assert_eq!(wire, [2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i']);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// Whatever the writer returns.
pub fn write_frame(w: &mut impl Write, msg: &[u8]) -> io::Result<()> {
    let header = (msg.len() as u64).to_le_bytes();
    if msg.len() <= COALESCE_LIMIT {
        // One syscall for small messages: a pipe round trip is dominated by
        // wake-ups, not bytes.
        let mut buf = Vec::with_capacity(HEADER_LEN + msg.len());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(msg);
        w.write_all(&buf)
    } else {
        w.write_all(&header)?;
        w.write_all(msg)
    }
}

/// Writes each of `msgs` as one frame, all with one `write` when they are
/// small together.
///
/// # Examples
///
/// ```
/// use procs_core::transport::frame::{read_frame, write_frames};
///
/// let mut wire = Vec::new();
/// write_frames(&mut wire, &[b"a", b"bc"])?;
/// let mut reader = &wire[..];
/// assert_eq!(read_frame(&mut reader, 8)?.as_deref(), Some(&b"a"[..]));
/// assert_eq!(read_frame(&mut reader, 8)?.as_deref(), Some(&b"bc"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// Whatever the writer returns.
pub fn write_frames(w: &mut impl Write, msgs: &[&[u8]]) -> io::Result<()> {
    let total: usize = msgs.iter().map(|msg| HEADER_LEN + msg.len()).sum();
    if total > COALESCE_LIMIT {
        return msgs.iter().try_for_each(|msg| write_frame(w, msg));
    }
    let mut buf = Vec::with_capacity(total);
    for msg in msgs {
        buf.extend_from_slice(&(msg.len() as u64).to_le_bytes());
        buf.extend_from_slice(msg);
    }
    w.write_all(&buf)
}

/// Reads one frame; `Ok(None)` if the stream ended cleanly before it.
///
/// # Examples
///
/// ```
/// use procs_core::transport::frame::{read_frame, write_frame};
///
/// let mut wire = Vec::new();
/// write_frame(&mut wire, b"hello")?;
/// let mut reader = &wire[..];
/// assert_eq!(read_frame(&mut reader, 1024)?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(read_frame(&mut reader, 1024)?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// [`io::ErrorKind::InvalidData`] when the frame is longer than `limit`
/// (nothing is allocated for it), [`io::ErrorKind::UnexpectedEof`] when the
/// stream ends inside a frame, and whatever the reader returns.
pub fn read_frame(r: &mut impl Read, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let Some(len) = read_header(r, limit)? else {
        return Ok(None);
    };
    // Read into spare capacity instead of a zeroed buffer: for a large frame
    // that spares one pass over memory the kernel is about to overwrite.
    let mut msg = Vec::with_capacity(len as usize);
    r.take(len).read_to_end(&mut msg)?;
    if msg.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(msg))
}

/// Reads one frame into `buf`, reusing its memory; `Ok(false)` if the stream
/// ended cleanly before it. What [`Channel::recv_into`](crate::transport::Channel::recv_into)
/// of a stream transport calls.
///
/// The bytes `buf` already holds are overwritten rather than zeroed first,
/// so a buffer kept at its full length is refilled in one pass.
///
/// # Examples
///
/// ```
/// use procs_core::transport::frame::{read_frame_into, write_frame};
///
/// let mut wire = Vec::new();
/// write_frame(&mut wire, b"hello")?;
/// let mut buf = vec![0; 64];
/// let mut reader = &wire[..];
/// assert!(read_frame_into(&mut reader, 1024, &mut buf)?);
/// assert_eq!(buf, b"hello");
/// assert!(!read_frame_into(&mut reader, 1024, &mut buf)?);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// As [`read_frame`]; on an error `buf`'s contents are unspecified.
pub fn read_frame_into(r: &mut impl Read, limit: usize, buf: &mut Vec<u8>) -> io::Result<bool> {
    let Some(len) = read_header(r, limit)? else {
        return Ok(false);
    };
    let len = len as usize;
    if buf.len() >= len {
        buf.truncate(len);
    } else if buf.capacity() >= len {
        buf.resize(len, 0);
    } else {
        // Memory to fault in anyway: let the reads do it.
        *buf = Vec::with_capacity(len);
        r.take(len as u64).read_to_end(buf)?;
        return match buf.len() == len {
            true => Ok(true),
            false => Err(io::ErrorKind::UnexpectedEof.into()),
        };
    }
    r.read_exact(buf)?;
    Ok(true)
}

/// Reads a frame's header and checks its length against `limit`; `None` if
/// the stream ended before it.
fn read_header(r: &mut impl Read, limit: usize) -> io::Result<Option<u64>> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match r.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u64::from_le_bytes(header);
    if len > limit as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            FrameTooLarge { len, limit },
        ));
    }
    Ok(Some(len))
}

/// A frame header announced more bytes than the limit allows.
///
/// # Examples
///
/// ```
/// use procs_core::transport::frame::{read_frame, FrameTooLarge};
///
/// let wire = 100u64.to_le_bytes();
/// let err = read_frame(&mut &wire[..], 10).unwrap_err();
/// let too_large = err.get_ref().unwrap().downcast_ref::<FrameTooLarge>().unwrap();
/// assert_eq!((too_large.len, too_large.limit), (100, 10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
pub struct FrameTooLarge {
    /// The announced length.
    pub len: u64,
    /// The limit in force.
    pub limit: usize,
}

#[cfg(test)]
mod test {
    use super::*;

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for msg in msgs {
            write_frame(&mut wire, msg).unwrap();
        }
        wire
    }

    #[test]
    fn round_trips_empty_small_and_large() {
        let big = vec![7u8; COALESCE_LIMIT * 3];
        let wire = framed(&[b"", b"abc", &big]);
        let mut r = &wire[..];
        assert_eq!(read_frame(&mut r, usize::MAX).unwrap().unwrap(), b"");
        assert_eq!(read_frame(&mut r, usize::MAX).unwrap().unwrap(), b"abc");
        assert_eq!(read_frame(&mut r, usize::MAX).unwrap().unwrap(), big);
        assert!(read_frame(&mut r, usize::MAX).unwrap().is_none());
    }

    #[test]
    fn every_truncation_is_an_error_or_clean_end() {
        let wire = framed(&[b"hello world"]);
        for cut in 0..wire.len() {
            let result = read_frame(&mut &wire[..cut], 1024);
            if cut == 0 {
                assert!(result.unwrap().is_none());
            } else {
                assert_eq!(result.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
            }
        }
    }

    #[test]
    fn oversized_header_is_refused_before_allocation() {
        let wire = u64::MAX.to_le_bytes();
        let err = read_frame(&mut &wire[..], 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("exceeds the limit"));
    }

    #[test]
    fn frames_read_into_buffers_of_every_size() {
        let wire = framed(&[b"", b"abc", b"hello world"]);
        for start in [vec![], vec![9; 2], Vec::with_capacity(100), vec![9; 100]] {
            let mut r = &wire[..];
            let mut buf = start.clone();
            for expected in [&b""[..], b"abc", b"hello world"] {
                assert!(read_frame_into(&mut r, 64, &mut buf).unwrap());
                assert_eq!(buf, expected);
            }
            assert!(!read_frame_into(&mut r, 64, &mut buf).unwrap());
        }
        let mut buf = vec![0; 100];
        let err = read_frame_into(&mut &u64::MAX.to_le_bytes()[..], 64, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut r = &wire[..wire.len() - 1];
        for _ in 0..2 {
            read_frame_into(&mut r, 64, &mut buf).unwrap();
        }
        let err = read_frame_into(&mut r, 64, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn limit_is_inclusive() {
        let wire = framed(&[b"12345"]);
        assert!(read_frame(&mut &wire[..], 5).unwrap().is_some());
        assert!(read_frame(&mut &wire[..], 4).is_err());
    }
}
