//! A reader that counts its reads, for [`Channel::reads`]: the slot skips
//! looking for worker output when answers arrive together in one read.
//!
//! [`Channel::reads`]: procs_core::transport::Channel::reads

use std::io::{self, Read};

/// `R`, counting the calls to its `read` (each a system call on a pipe).
#[derive(Debug)]
pub(crate) struct Counted<R> {
    inner: R,
    reads: u64,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R) -> Self {
        Counted { inner, reads: 0 }
    }

    /// The reads so far, failed ones included.
    pub(crate) fn reads(&self) -> u64 {
        self.reads
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod test {
    use std::io::{BufReader, Read};

    use super::Counted;

    #[test]
    fn reads_served_from_the_buffer_are_not_counted() {
        let mut reader = BufReader::with_capacity(8, Counted::new(&b"abcdefghij"[..]));
        let mut byte = [0; 1];
        reader.read_exact(&mut byte).unwrap();
        assert_eq!(reader.get_ref().reads(), 1);
        // The rest of the first 8 bytes come from the buffer.
        let mut seven = [0; 7];
        reader.read_exact(&mut seven).unwrap();
        assert_eq!(reader.get_ref().reads(), 1);
        reader.read_exact(&mut byte).unwrap();
        assert_eq!(reader.get_ref().reads(), 2);
    }
}
