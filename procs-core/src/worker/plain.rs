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
//!
//! A batch's values are written straight into a run response
//! ([`serve_as_run`]), the form nearly every batch's answers take; the
//! first answer that cannot be in a run (a failure, a detached buffer, a
//! response over the size limit) turns the answers so far into ordinary
//! outcomes and the rest of the batch goes on as above. The run's count is
//! kept up to date call by call, so that a watchdog report of the answers
//! before a call that overran is a run the parent reads as it is.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::remote::registry::{CallError, Remote};
use crate::wire::codec::{self, Task};
use crate::wire::detached::{Input, Output};
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

/// As [`serve`], for calls numbered one after the other: their values are
/// written into `run` as a run response, and `true` is returned. `false` if
/// some answer could not be in a run: `out` (a response begun and still
/// empty) then holds every outcome, as [`serve`] leaves them.
pub(super) fn serve_as_run(
    remote: &Remote,
    msg: &[u8],
    tasks: &[Task<'_>],
    timeout: Option<Duration>,
    (out, run, detached_out, detach): (&mut Vec<u8>, &mut Vec<u8>, &mut Vec<Vec<u8>>, bool),
    limit: usize,
) -> bool {
    let Some(first) = tasks.first() else {
        return false;
    };
    codec::begin_run_response(run, first.seq);
    let items_at = run.len();
    // The call that left the run, and how: its error, or `None` for a
    // value that detached buffers or made the response too large (it is at
    // the end of `run`, from `at`).
    let mut left: Option<(usize, usize, Option<CallError>)> = None;
    // Where the running call's item starts: read after a panic.
    let mut running = (0, items_at);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        for (index, task) in tasks.iter().enumerate() {
            let at = codec::begin_item(run);
            running = (index, at);
            if let Some(timeout) = timeout {
                // The answers so far, which stay where they are until
                // `end`: none yet is the empty response `out`.
                let done = if index == 0 { &out[..] } else { &run[..at] };
                watchdog::begin(task.seq, timeout, done, &[]);
            }
            let mut input = Input::in_message(msg, task.args, Vec::new());
            let mut output = Output {
                bytes: &mut *run,
                detached: &mut *detached_out,
                detach,
                marks: None,
            };
            let ran = (remote.invoke)(&mut input, &mut output);
            if timeout.is_some() {
                watchdog::end();
            }
            match ran {
                Ok(()) if detached_out.is_empty() && run.len() <= limit => {
                    codec::end_item(run, at);
                    codec::end_run_response(run, index + 1);
                }
                Ok(()) => {
                    left = Some((index, at, None));
                    return;
                }
                Err(error) => {
                    left = Some((index, at, Some(error)));
                    return;
                }
            }
        }
    }));
    let (index, at, failure) = match (caught, left) {
        (Ok(()), None) => return true,
        (Ok(()), Some((index, at, None))) => (index, at, None),
        // Nothing of a failed or panicking call is kept; the calls before
        // it detached nothing.
        (Ok(()), Some((index, at, Some(error)))) => {
            detached_out.clear();
            (index, at, Some(failed(error)))
        }
        (Err(payload), _) => {
            if timeout.is_some() {
                watchdog::end();
            }
            let (index, at) = running;
            detached_out.clear();
            (index, at, Some(panicked(&*payload)))
        }
    };
    // The calls before `index` answered with plain values: they become
    // outcomes, each held to the limit as [`serve`] holds it.
    let answered = &run[items_at..at];
    for (task, span) in tasks.iter().zip(codec::items(answered)) {
        let since = (out.len(), 0);
        let span = span.expect("written above");
        codec::push_encoded_outcome(out, task.seq, &answered[span], &[]);
        keep_within(out, &mut Vec::new(), since, task.seq, limit);
    }
    let task = &tasks[index];
    match failure {
        Some(failure) => codec::push_failure(out, task.seq, &failure),
        None => {
            // The value after its one byte of length (an item's length has
            // not been written yet).
            let since = (out.len(), 0);
            codec::push_encoded_outcome(out, task.seq, &run[at + 1..], detached_out);
            keep_within(out, detached_out, since, task.seq, limit);
        }
    }
    let rest = &tasks[index + 1..];
    serve(
        remote,
        msg,
        rest,
        timeout,
        (out, detached_out, detach),
        limit,
    );
    false
}
