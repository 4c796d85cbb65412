//! The queue between a worker's reading thread and its printing thread:
//! reading never waits for printing, so a worker never blocks on a full
//! pipe because the parent's stdout is slow or held (a caller that holds
//! `stdout().lock()` while it waits for results), which would stall its
//! call, and maybe the caller with it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::print::{self, Target};
use crate::util::sync::lock;

/// What the printing thread does next.
pub(super) enum Piece {
    /// Writes text for a stream; `open` if it ends mid-line.
    Text {
        id: u64,
        target: Target,
        text: String,
        open: bool,
    },
    /// Lets other streams write again: the stream paused mid-line.
    Release(u64),
}

/// How long [`Outbox::wait_printed`] waits for a printer that makes no
/// progress: it is then blocked (someone holds the parent's stdout), and
/// callers stop waiting for it until it moves again.
const STALL: Duration = Duration::from_millis(100);

/// How long a wait lasts for a printer known to be stalled, in case it
/// just moved again (the pool's end, say, after the holder let go).
const STALLED_GLIMPSE: Duration = Duration::from_millis(1);

#[derive(Default)]
pub(super) struct Outbox {
    queue: Mutex<Queue>,
    /// Signalled when a piece is queued or the outbox closes.
    pushed: Condvar,
    /// Signalled when a piece was printed.
    printed: Condvar,
}

#[derive(Default)]
struct Queue {
    pieces: VecDeque<Piece>,
    pushed: u64,
    printed: u64,
    /// No more pieces will come: the printer ends once it printed them.
    closed: bool,
    /// A wait for the printer timed out without progress.
    stalled: bool,
    /// Which of the parent's streams failed (stdout, stderr): their pieces
    /// are dropped.
    broken: [bool; 2],
}

impl Outbox {
    /// Starts the printing thread of a new outbox.
    pub(super) fn start() -> std::io::Result<Arc<Outbox>> {
        let outbox = Arc::new(Outbox::default());
        let printer = outbox.clone();
        std::thread::Builder::new()
            .name("procs-print".to_owned())
            .spawn(move || printer.print_until_closed())?;
        Ok(outbox)
    }

    pub(super) fn push(&self, piece: Piece) {
        let mut queue = lock(&self.queue);
        if matches!(&piece, Piece::Text { target, .. } if queue.broken[*target as usize]) {
            return;
        }
        queue.pieces.push_back(piece);
        queue.pushed += 1;
        drop(queue);
        self.pushed.notify_one();
    }

    pub(super) fn close(&self) {
        lock(&self.queue).closed = true;
        self.pushed.notify_one();
    }

    /// Waits until what was queued so far is printed, unless the printer
    /// makes no progress for [`STALL`] (then only a glimpse, as long as it
    /// stays stalled).
    pub(super) fn wait_printed(&self) {
        let mut queue = lock(&self.queue);
        let target = queue.pushed;
        while queue.printed < target {
            let before = queue.printed;
            let patience = if queue.stalled {
                STALLED_GLIMPSE
            } else {
                STALL
            };
            let (next, waited) = self
                .printed
                .wait_timeout(queue, patience)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue = next;
            if waited.timed_out() && queue.printed == before {
                queue.stalled = true;
                return;
            }
        }
    }

    fn print_until_closed(&self) {
        loop {
            let piece = {
                let mut queue = lock(&self.queue);
                loop {
                    if let Some(piece) = queue.pieces.pop_front() {
                        break piece;
                    }
                    if queue.closed {
                        return;
                    }
                    queue = self
                        .pushed
                        .wait(queue)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            };
            let failed = match piece {
                Piece::Text {
                    id,
                    target,
                    text,
                    open,
                } => {
                    let written = print::write(id, target, &text, open);
                    if !written {
                        print::release(id);
                    }
                    (!written).then_some(target)
                }
                Piece::Release(id) => {
                    print::release(id);
                    None
                }
            };
            let mut queue = lock(&self.queue);
            queue.printed += 1;
            queue.stalled = false;
            if let Some(target) = failed {
                queue.broken[target as usize] = true;
                let before = queue.pieces.len();
                queue.pieces.retain(
                    |piece| !matches!(piece, Piece::Text { target: t, .. } if *t == target),
                );
                queue.printed += (before - queue.pieces.len()) as u64;
            }
            drop(queue);
            self.printed.notify_all();
        }
    }
}
