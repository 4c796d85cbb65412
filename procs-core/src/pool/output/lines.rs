//! Cutting one worker stream into whole lines (and over-long lines into
//! pieces) and writing them out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::outbox::{Outbox, Piece};
use super::print::Target;

/// A line longer than this goes out in pieces of this size, so that
/// holding it back costs bounded memory.
pub(super) const LONG_LINE: usize = 64 << 10;

/// Ids of streams, for [`print`]'s turn taking.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One worker stream on its way out.
pub(super) struct Lines {
    id: u64,
    target: Target,
    prefix: Option<String>,
    /// The unfinished line.
    pending: Vec<u8>,
    /// Whether the next byte written starts a line (takes the prefix).
    at_start: bool,
    /// Whether a piece of a line was written and its end was not: others
    /// wait for it.
    owning: bool,
    /// Where the text goes to be printed.
    outbox: Arc<Outbox>,
}

impl Lines {
    pub(super) fn new(target: Target, prefix: Option<String>, outbox: Arc<Outbox>) -> Lines {
        Lines {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            target,
            prefix,
            pending: Vec::new(),
            at_start: true,
            owning: false,
            outbox,
        }
    }

    /// Takes bytes the worker wrote: writes the whole lines among them (in
    /// one go), keeps an unfinished line, and writes it in pieces if it
    /// grows too long.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
            let mut lines = std::mem::take(&mut self.pending);
            if lines.is_empty() {
                self.emit(&bytes[..=end], false);
            } else {
                lines.extend_from_slice(&bytes[..=end]);
                self.emit(&lines, false);
                lines.clear();
            }
            // Keeps the allocation for the next unfinished line.
            self.pending = lines;
            bytes = &bytes[end + 1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() > LONG_LINE {
            let pending = std::mem::take(&mut self.pending);
            let cut = char_boundary(&pending, LONG_LINE);
            self.emit(&pending[..cut], true);
            self.pending = pending;
            self.pending.drain(..cut);
        }
    }

    /// Writes the unfinished line as it is, and lets others write.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            self.yield_line();
        } else {
            let pending = std::mem::take(&mut self.pending);
            self.emit(&pending, false);
            self.pending = pending;
            self.pending.clear();
        }
    }

    /// Lets others write even though a line is being written in pieces:
    /// its worker paused in the middle.
    pub(super) fn yield_line(&mut self) {
        if self.owning {
            self.outbox.push(Piece::Release(self.id));
            self.owning = false;
        }
    }

    pub(super) fn owns_line(&self) -> bool {
        self.owning
    }

    pub(super) fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes `bytes`; `open` if they end in the middle of a line.
    fn emit(&mut self, bytes: &[u8], open: bool) {
        if bytes.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let text = match &self.prefix {
            None => text.into_owned(),
            Some(prefix) => prefixed(&text, prefix, self.at_start),
        };
        self.outbox.push(Piece::Text {
            id: self.id,
            target: self.target,
            text,
            open,
        });
        self.owning = open;
        self.at_start = bytes.last() == Some(&b'\n');
    }
}

/// `text` with `prefix` before each line (before the first only if it
/// starts a line).
fn prefixed(text: &str, prefix: &str, at_start: bool) -> String {
    let lines = text.split_inclusive('\n');
    let mut out = String::with_capacity(text.len() + prefix.len() * (1 + text.len() / 32));
    for (index, line) in lines.enumerate() {
        if index > 0 || at_start {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

/// The largest cut at most `at` that does not split a UTF-8 character
/// (`at` itself if the bytes there are not UTF-8 anyway).
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&cut| bytes.get(cut).is_none_or(|b| b & 0xC0 != 0x80))
        .filter(|&cut| cut > 0)
        .unwrap_or(at)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn prefixes_every_line_that_starts_here() {
        assert_eq!(prefixed("a\nb\n", "[p] ", true), "[p] a\n[p] b\n");
        assert_eq!(prefixed("rest\nnext", "[p] ", false), "rest\n[p] next");
    }

    #[test]
    fn cuts_long_lines_between_characters() {
        let text = "ab€€".as_bytes();
        assert_eq!(char_boundary(text, 3), 2);
        assert_eq!(char_boundary(text, 5), 5);
        assert_eq!(char_boundary(b"abcd", 2), 2);
    }
}
