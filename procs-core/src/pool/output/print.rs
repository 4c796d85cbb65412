//! Writing forwarded output through `print!`/`eprint!`, one writer at a
//! time, and keeping a line that goes out in pieces whole: while a stream
//! is in the middle of such a line, other streams wait for its end.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::util::sync::lock;

/// Which of the parent's streams a worker stream goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Stdout = 0,
    Stderr = 1,
}

/// The stream in the middle of a line, if any, by its id.
static OWNER: Mutex<Option<u64>> = Mutex::new(None);

/// Signalled when [`OWNER`] changes.
static TURN: Condvar = Condvar::new();

/// Longest wait for another stream's line to end: its reading thread gives
/// the line up sooner when its worker pauses, so this only bounds the
/// damage of a worker that writes one endless line.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Writes `text` for stream `id` once no other stream is mid-line; `open`
/// says whether `text` leaves a line unfinished, which the others must then
/// wait for. `false` if writing failed (the parent's stream is gone).
pub(super) fn write(id: u64, target: Target, text: &str, open: bool) -> bool {
    let mut owner = lock(&OWNER);
    while owner.is_some_and(|other| other != id) {
        let (next, waited) = TURN
            .wait_timeout(owner, MAX_WAIT)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        owner = next;
        if waited.timed_out() {
            break;
        }
    }
    // `print!` panics when the stream fails (a closed pipe); the worker's
    // output then has nowhere to go, and the reading must go on regardless
    // so that the worker never blocks on a full pipe.
    let written = catch_unwind(AssertUnwindSafe(|| match target {
        Target::Stdout => print!("{text}"),
        Target::Stderr => eprint!("{text}"),
    }))
    .is_ok();
    *owner = open.then_some(id);
    drop(owner);
    TURN.notify_all();
    written
}

/// Lets other streams write again if stream `id` was mid-line.
pub(super) fn release(id: u64) {
    let mut owner = lock(&OWNER);
    if *owner == Some(id) {
        *owner = None;
        drop(owner);
        TURN.notify_all();
    }
}
