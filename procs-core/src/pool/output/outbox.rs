//! The queue between a worker's reading thread and its printing thread:
//! reading never waits for a printer that is stuck, so a worker never
//! blocks on a full pipe because the parent's stdout is held (a caller that
//! holds `stdout().lock()` while it waits for results), which would stall
//! its call and the caller with it. A printer that is merely slow (a slow
//! terminal) holds the reading back once [`BACKLOG`] bytes wait, so memory
//! stays bounded and the worker slows down as it would writing there
//! itself; only a stuck printer lets the queue grow.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// Bytes queued beyond which pushing waits for the printer, unless it is
/// stalled.
const BACKLOG: usize = 4 << 20;

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
    /// Bytes of text queued.
    bytes: usize,
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
        if let Piece::Text { target, text, .. } = &piece {
            if queue.broken[*target as usize] {
                return;
            }
            while queue.bytes > BACKLOG && !queue.stalled {
                queue = self.wait_for_progress(queue, STALL);
            }
            queue.bytes += text.len();
        }
        queue.pieces.push_back(piece);
        queue.pushed += 1;
        drop(queue);
        self.pushed.notify_one();
    }

    /// Waits up to `patience` for the printer to print something; marks it
    /// stalled if it did not.
    fn wait_for_progress<'a>(
        &self,
        mut queue: MutexGuard<'a, Queue>,
        patience: Duration,
    ) -> MutexGuard<'a, Queue> {
        let before = queue.printed;
        let deadline = Instant::now() + patience;
        // A wake-up may come without progress (spuriously): wait on.
        while queue.printed == before {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                queue.stalled = true;
                break;
            }
            queue = self
                .printed
                .wait_timeout(queue, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        queue
    }

    pub(super) fn close(&self) {
        lock(&self.queue).closed = true;
        self.pushed.notify_one();
    }

    /// Waits until what was queued so far is printed, unless the printer
    /// makes no progress for [`STALL`] (then only a glimpse, as long as it
    /// stays stalled).
    pub(super) fn wait_printed(&self) {
        self.wait_printed_with(false);
    }

    /// [`wait_printed`](Self::wait_printed) for a worker's last words: a
    /// printer that was stalled gets [`STALL`] too, not a glimpse. The
    /// holder of the parent's stdout may just have let go, and the printer
    /// then needs a moment to wake up (more than a glimpse on a loaded
    /// machine: lines were lost at the pool's end); a printer still stuck
    /// costs [`STALL`] once, at the end of a worker.
    pub(super) fn wait_all_printed(&self) {
        self.wait_printed_with(true);
    }

    fn wait_printed_with(&self, patient: bool) {
        let mut queue = lock(&self.queue);
        let target = queue.pushed;
        while queue.printed < target {
            let before = queue.printed;
            let patience = if queue.stalled && !patient {
                STALLED_GLIMPSE
            } else {
                STALL
            };
            queue = self.wait_for_progress(queue, patience);
            if queue.printed == before {
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
                        if let Piece::Text { text, .. } = &piece {
                            queue.bytes -= text.len();
                        }
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
                let mut dropped_bytes = 0;
                queue.pieces.retain(|piece| match piece {
                    Piece::Text {
                        target: t, text, ..
                    } if *t == target => {
                        dropped_bytes += text.len();
                        false
                    }
                    _ => true,
                });
                queue.printed += (before - queue.pieces.len()) as u64;
                queue.bytes -= dropped_bytes;
            }
            drop(queue);
            self.printed.notify_all();
        }
    }
}
