//! Serving a batch of plain calls: no CPU limit, no detached arguments,
//! and panics that unwind.
//!
//! Such calls need nothing around each one but the unwind frame that
//! catches its panic (and, with a deadline, the watchdog's start and end),
//! and one frame can hold the whole batch: a batch of thousands of tiny
//! calls then pays for the frame and for what a call under a CPU limit or
//! `panic = "abort"` needs once, not once per call. After a panic, the
//! calls before it keep their outcomes, the panicking call gets its
//! failure, and the loop resumes after it under a new frame.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::remote::registry::Remote;
use crate::wire::codec::{self, Task};
use crate::wire::detached::Input;
use crate::worker::serve::{failed, keep_within, panicked};
use crate::worker::watchdog;

/// Runs `tasks`, calls of `remote` whose arguments lie in `msg`, each held
/// to `timeout` from its start, appending their outcomes to `out`.
pub(super) fn serve(
    remote: &Remote,
    msg: &[u8],
    tasks: &[Task<'_>],
    timeout: Option<Duration>,
    (out, detached_out, detach): (&mut Vec<u8>, &mut Vec<Vec<u8>>, bool),
    limit: usize,
) {
    let mut next = 0;
    while next < tasks.len() {
        // Where the running call is: read after a panic.
        let mut running = (next, out.len(), detached_out.len());
        // AssertUnwindSafe: after a panic the call's outcome is truncated
        // away, as on the call-by-call path.
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            for (at, task) in tasks.iter().enumerate().skip(next) {
                let since = (out.len(), detached_out.len());
                running = (at, since.0, since.1);
                // The arguments' bytes are read in place, with the rest of
                // the request after them to read ahead in.
                let mut input = Input::in_message(msg, task.args, Vec::new());
                let ran = codec::push_outcome_with(out, task.seq, detached_out, detach, |out| {
                    // Published once the outcome's header is written: the
                    // answers before this call stay where they are until
                    // `end` (as on the call-by-call path).
                    if let Some(timeout) = timeout {
                        let (done, finished) = (&out.bytes[..since.0], &out.detached[..since.1]);
                        watchdog::begin(task.seq, timeout, done, finished);
                    }
                    (remote.invoke)(&mut input, out)
                });
                // Before `out` changes again (a failure is recorded in it).
                if timeout.is_some() {
                    watchdog::end();
                }
                if let Err(error) = ran {
                    codec::push_failure(out, task.seq, &failed(error));
                }
                keep_within(out, detached_out, since, task.seq, limit);
            }
        }));
        let Err(payload) = caught else {
            return;
        };
        if timeout.is_some() {
            watchdog::end();
        }
        let (at, before, first_detached) = running;
        out.truncate(before);
        detached_out.truncate(first_detached);
        codec::push_failure(out, tasks[at].seq, &panicked(&*payload));
        next = at + 1;
    }
}
