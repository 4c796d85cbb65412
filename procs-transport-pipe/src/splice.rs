//! Large frames written with `vmsplice`: the pipe takes references to the
//! sender's pages instead of copying them, and the reader's `read` copies
//! straight out of them.
//!
//! A write copies every byte into pipe pages allocated for it and the read
//! copies them out again, the two serialized on the pipe's lock. Splicing
//! leaves one copy, several times faster for large frames (the figures are
//! in BENCHMARKS.md, "Figures behind design choices").
//!
//! The catch: until the reader has read them, the pipe refers to the
//! sender's memory, so the bytes must not change. [`write_frame`] therefore
//! returns only once the pipe is empty again (the reader took everything),
//! so the borrowed message outlives its use like any `write`. Waiting is
//! safe in procs' protocol: a large message is read as soon as it is sent
//! (a worker reads a request's detached buffers right after the request; the
//! parent reads a response's right after the response), and a reader that
//! dies is seen as an error, not waited for.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use procs_core::transport::Backoff;
use procs_core::transport::frame::HEADER_LEN;

/// Messages at least this long are spliced: below it a copy is cheaper than
/// waiting for the reader to drain the pipe.
pub(crate) const SPLICE_MIN: usize = 1 << 20;

/// Writes `msg` as one frame (the same bytes as
/// [`procs_core::transport::frame::write_frame`]), splicing the body, and returns once
/// the reader has read all of it.
pub(crate) fn write_frame(w: &mut (impl Write + AsFd), msg: &[u8]) -> io::Result<()> {
    let header: [u8; HEADER_LEN] = (msg.len() as u64).to_le_bytes();
    w.write_all(&header)?;
    let fd = w.as_fd();
    let mut rest = msg;
    while !rest.is_empty() {
        let iov = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
        // SAFETY: `iov` describes memory borrowed for this whole call, and
        // the call returns only after the reader has read what the pipe took
        // from it (`drained` below), so the kernel never reads it after the
        // borrow ends.
        let n = unsafe { libc::vmsplice(fd.as_raw_fd(), &iov, 1, 0) };
        match n {
            n if n > 0 => rest = &rest[n as usize..],
            0 => return Err(io::ErrorKind::WriteZero.into()),
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => {}
                e => return Err(e),
            },
        }
    }
    drained(fd)
}

/// Waits until the pipe holds nothing: the reader has read every spliced
/// byte. Fails if the reader is gone, since nothing will ever drain it.
fn drained(fd: BorrowedFd<'_>) -> io::Result<()> {
    // The last megabyte takes the reader about as long as the spin: yield
    // first, then sleep, in case the reader is descheduled or stopped.
    let mut backoff = Backoff::new(
        Duration::from_micros(100),
        Duration::from_micros(20),
        Duration::from_millis(5),
    );
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes the byte count into `queued`.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut queued) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if queued == 0 {
            return Ok(());
        }
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: polls one fd we own, without waiting.
        unsafe { libc::poll(&mut poll, 1, 0) };
        if poll.revents & libc::POLLERR != 0 {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        backoff.wait();
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::io::Read;

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        // SAFETY: both fds are fresh and ours.
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    #[test]
    fn spliced_frames_read_like_written_ones_and_the_sender_may_reuse_its_buffer() {
        let (mut rx, mut tx) = pipe();
        let mut msg: Vec<u8> = (0..3 * SPLICE_MIN + 5).map(|i| (i % 251) as u8).collect();
        let expected = msg.clone();
        let reader = std::thread::spawn(move || {
            let mut frames = Vec::new();
            for _ in 0..2 {
                frames.push(
                    procs_core::transport::frame::read_frame(&mut rx, usize::MAX)
                        .unwrap()
                        .unwrap(),
                );
            }
            frames
        });
        write_frame(&mut tx, &msg).unwrap();
        // Returned: the reader has everything, so changing the buffer now
        // must not change what it got.
        msg.iter_mut().for_each(|b| *b = 0);
        write_frame(&mut tx, &msg).unwrap();
        let frames = reader.join().unwrap();
        assert!(
            frames[0] == expected,
            "the first frame changed after the send returned"
        );
        assert!(frames[1].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_reader_that_goes_away_is_an_error_not_a_wait() {
        let (mut rx, mut tx) = pipe();
        let msg = vec![1u8; 4 * SPLICE_MIN];
        let reader = std::thread::spawn(move || {
            let mut some = vec![0u8; 1000];
            rx.read_exact(&mut some).unwrap();
            // Dropped with most of the message unread.
        });
        let err = write_frame(&mut tx, &msg).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        reader.join().unwrap();
    }
}
