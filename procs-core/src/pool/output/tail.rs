//! The last few KiB a worker wrote to stderr since its current call began,
//! for the call's error.

/// Bytes kept for an error's stderr tail.
pub(crate) const TAIL_BYTES: usize = 4 << 10;

/// The last [`TAIL_BYTES`] of stderr; trimmed only when twice as long, so
/// that appending costs a copy of what is appended.
#[derive(Debug, Default)]
pub(super) struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() > 2 * TAIL_BYTES {
            self.bytes.drain(..self.bytes.len() - TAIL_BYTES);
        }
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// The tail as text, `None` if nothing was written; a character cut by
    /// the trimming is dropped.
    pub(super) fn text(&self) -> Option<String> {
        let mut start = self.bytes.len().saturating_sub(TAIL_BYTES);
        while start < self.bytes.len() && self.bytes[start] & 0xC0 == 0x80 {
            start += 1;
        }
        let bytes = &self.bytes[start..];
        (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn keeps_the_last_bytes_on_a_character_boundary() {
        let mut tail = Tail::default();
        assert_eq!(tail.text(), None);
        tail.push(b"first\n");
        for _ in 0..3000 {
            tail.push("é".as_bytes());
        }
        tail.push(b"\nlast words\n");
        let text = tail.text().unwrap();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.ends_with("é\nlast words\n"));
        assert!(!text.contains('\u{FFFD}') && !text.contains("first"));
        tail.clear();
        assert_eq!(tail.text(), None);
    }
}
