//! Serving a batch of plain calls: no deadline, no CPU limit, no detached
//! arguments, and panics that unwind.
//!
//! Such calls need nothing around each one but the unwind frame that
//! catches its panic, and one frame can hold the whole batch: a batch of
//! thousands of tiny calls then pays for the frame and the checks a call
//! with a deadline or a CPU limit needs once, not once per call. After a
//! panic, the calls before it keep their outcomes, the panicking call gets
//! its failure, and the loop resumes after it under a new frame.

use std::panic::{self, AssertUnwindSafe};

use crate::remote::registry::Remote;
use crate::wire::codec::{self, Task};
use crate::wire::detached::Input;
use crate::worker::serve::{failed, keep_within, panicked};

/// Runs `tasks`, calls of `remote` whose arguments lie in `msg`, appending
/// their outcomes to `out`.
pub(super) fn serve(
    remote: &Remote,
    msg: &[u8],
    tasks: &[Task<'_>],
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
                let start = task.args.as_ptr() as usize - msg.as_ptr() as usize;
                let mut input = Input::within(msg, start..start + task.args.len(), Vec::new());
                let ran = codec::push_outcome_with(out, task.seq, detached_out, detach, |out| {
                    (remote.invoke)(&mut input, out)
                });
                if let Err(error) = ran {
                    codec::push_failure(out, task.seq, &failed(error));
                }
                keep_within(out, detached_out, since, task.seq, limit);
            }
        }));
        let Err(payload) = caught else {
            return;
        };
        let (at, before, first_detached) = running;
        out.truncate(before);
        detached_out.truncate(first_detached);
        codec::push_failure(out, tasks[at].seq, &panicked(&*payload));
        next = at + 1;
    }
}
