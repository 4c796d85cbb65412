//! The worker loop: serve requests until the parent goes away.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process;
use std::time::Duration;

use crate::contract::Channel;
use crate::remote::registry::{CallError, Lookup, Remote, registry};
use crate::wire::Broke;
use crate::wire::codec::{self, Failure, Hello, Message, Request};
use crate::wire::detached::{Input, Lens};
use crate::wire::env::WorkerExit;
use crate::wire::panic::{Location, PanicInfo};
use crate::wire::spare::Spare;
use crate::worker::{dying, limits, plain, watchdog};

/// The largest request buffer kept for the next request; a larger one is
/// given back once its request is served.
const KEEP_REQUEST_BUFFER: usize = 1 << 20;

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicInfo>> = const { RefCell::new(None) };
}

/// Serves calls on `channel`; `detach` says whether large byte buffers of
/// results may travel as messages of their own (not for attached workers,
/// whose transports may carry one message per answer).
pub(crate) fn serve_calls(mut channel: impl Channel, max_message_size: usize, detach: bool) -> ! {
    // The parent reports a task's panics with their message and location;
    // printing them here too would only duplicate them on the shared stderr.
    dying::install_hook(|panic| LAST_PANIC.with(|last| *last.borrow_mut() = Some(panic)));
    let registry = registry();
    let mut out = Vec::new();
    // The response as a run (`codec::run`), when it can be one.
    let mut run_out = Vec::new();
    // The buffers detached from the results of one response; once sent, the
    // largest is kept to receive the next large argument into.
    let mut detached_out = Vec::new();
    let mut spare = Spare::default();
    #[cfg(feature = "tracing")]
    let mut trace_buf = Vec::new();
    let hello = Hello {
        protocol: codec::PROTOCOL,
        fingerprint: registry.fingerprint(),
        pid: process::id(),
    };
    codec::encode_hello(&mut out, &hello);
    if let Err(error) = channel.send(&out) {
        fail(&format!("cannot greet the parent: {error}"));
    }
    // Requests arrive in one buffer, reused: a fresh one per batch of tiny
    // calls cost its pages' faults and zeroing every time.
    let mut msg = Vec::new();
    loop {
        if msg.capacity() > KEEP_REQUEST_BUFFER {
            msg = Vec::new();
        }
        match channel.recv_into(&mut msg) {
            Ok(true) => {}
            // The parent closed the channel: the pool is done with us.
            Ok(false) => process::exit(0),
            Err(error) => fail(&format!("cannot receive: {error}")),
        }
        let Request { id, timeout, tasks } = match codec::decode(&msg) {
            Ok(Message::Request(request)) => request,
            Ok(_) => fail("unexpected message from the parent"),
            Err(error) => fail(&error.to_string()),
        };
        if let Some(timeout) = timeout {
            watchdog::arm(&mut channel, timeout);
        }
        // The arguments' detached buffers follow the request.
        let mut inbox =
            receive_detached(&mut channel, tasks.iter().map(|t| t.detached), &mut spare);
        codec::begin_response(&mut out);
        // A batch calls one function many times: look it up once.
        let remote = find(id);
        let limit = max_message_size;
        let plain = !cfg!(panic = "abort")
            && !limits::cpu_limited()
            && tasks.iter().all(|task| task.detached.len() == 0);
        // `Some(true)` when the answers went straight into a run.
        let mut as_run = None;
        if let (Ok(remote), true) = (&remote, plain) {
            if numbered_in_order(&tasks) {
                let output = (&mut out, &mut run_out, &mut detached_out, detach);
                let served = plain::serve_as_run(remote, &msg, &tasks, timeout, output, limit);
                as_run = Some(served);
            } else {
                let output = (&mut out, &mut detached_out, detach);
                plain::serve(remote, &msg, &tasks, timeout, output, limit);
            }
        } else {
            for task in tasks {
                let before = out.len();
                let first_detached = detached_out.len();
                // Most calls have none: no drain, no vector made per call.
                let detached: Vec<_> = match task.detached.len() {
                    0 => Vec::new(),
                    n => inbox.drain(..n).collect(),
                };
                let ran = match &remote {
                    Ok(remote) => dying::while_running(&mut channel, task.seq, || {
                        // The CPU limit is per task, batch or not.
                        limits::during_task(|| {
                            let output = (&mut out, &mut detached_out, detach);
                            // The arguments' bytes are read in place, with the
                            // rest of the request after them to read ahead in.
                            let input = Input::in_message(&msg, task.args, detached);
                            run(remote, task.seq, input, timeout, output)
                        })
                    }),
                    Err(failure) => Err(failure.clone()),
                };
                if let Err(failure) = ran {
                    codec::push_failure(&mut out, task.seq, &failure);
                }
                let since = (before, first_detached);
                keep_within(&mut out, &mut detached_out, since, task.seq, limit);
            }
        }
        // What the tasks printed goes out before their results: once the
        // parent has them, it may exit and take this worker with it (the
        // parent-death signal is SIGKILL), and std's line buffer would keep
        // a `print!` without newline forever. Stderr is unbuffered.
        let _ = io::stdout().flush();
        // The tasks' tracing records go first too: the caller has them all
        // once it has the results.
        #[cfg(feature = "tracing")]
        if let Err(error) = crate::worker::trace::flush(&mut channel, &mut trace_buf) {
            fail(&format!("cannot send tracing records: {error}"));
        }
        // All plain values (nearly every batch) go as a run, which the
        // parent's slot passes on without walking it; calls served one by
        // one (above) are rewritten as a run when they can be.
        let reply = match as_run {
            Some(true) => &run_out,
            Some(false) => &out,
            None if codec::response_as_run(&out, &mut run_out) => &run_out,
            None => &out,
        };
        if let Err(error) = channel.send(reply) {
            fail(&format!("cannot reply: {error}"));
        }
        for buf in detached_out.drain(..) {
            if let Err(error) = channel.send(&buf) {
                fail(&format!("cannot reply: {error}"));
            }
            spare.give(buf);
        }
    }
}

/// Whether the calls are numbered one after the other, as a run's are.
fn numbered_in_order(tasks: &[codec::Task<'_>]) -> bool {
    tasks
        .windows(2)
        .all(|pair| pair[0].seq.checked_add(1) == Some(pair[1].seq))
}

/// Receives the buffers detached from a request's arguments, in order.
fn receive_detached<'a>(
    channel: &mut impl Channel,
    lens: impl Iterator<Item = Lens<'a>>,
    spare: &mut Spare,
) -> Vec<Vec<u8>> {
    let mut bufs = Vec::new();
    for lens in lens.filter(|lens| lens.len() > 0) {
        for len in lens.iter() {
            match spare.receive(len, |buf| channel.recv_into(buf)) {
                Ok(buf) => bufs.push(buf),
                Err(Broke::Garbage) => fail("a detached buffer of another length than announced"),
                Err(Broke::Link(None)) => process::exit(0),
                Err(Broke::Link(Some(error))) => fail(&format!("cannot receive: {error}")),
            }
        }
    }
    bufs
}

fn fail(why: &str) -> ! {
    eprintln!("procs worker {}: {why}", process::id());
    WorkerExit::Protocol.exit()
}

/// Replaces the outcome pushed last, which starts at `before` in `out` and
/// `detached`, with `TooLarge` if it is over `limit`: the parent's channel
/// would refuse it and cost this worker.
#[inline]
pub(super) fn keep_within(
    out: &mut Vec<u8>,
    detached: &mut Vec<Vec<u8>>,
    (before, first_detached): (usize, usize),
    seq: u64,
    limit: usize,
) {
    if out.len() <= limit && detached.len() == first_detached {
        return;
    }
    let largest = detached[first_detached..]
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    if out.len() > limit || largest > limit {
        let size = (out.len() - before).max(largest) as u64;
        codec::pop_outcome(out, before);
        detached.truncate(first_detached);
        let failure = Failure::TooLarge {
            size,
            limit: limit as u64,
        };
        codec::push_failure(out, seq, &failure);
    }
}

/// The registered function `id` names. Nothing in a message can make the
/// worker run anything but a registered function.
fn find(id: &str) -> Result<&'static Remote, Failure> {
    let registry = registry();
    match registry.lookup(id) {
        Lookup::Found(remote) => Ok(remote),
        Lookup::Unknown => Err(Failure::UnknownFunction {
            known: registry.ids(),
        }),
        Lookup::Duplicate => Err(Failure::DuplicateId),
    }
}

/// Runs one task, appending its outcome to `out` on success (on failure
/// `out` is left as it was); with a `timeout`, under the worker's watchdog
/// from the moment it starts until the function returns.
fn run(
    remote: &Remote,
    seq: u64,
    mut input: Input<'_>,
    timeout: Option<Duration>,
    (out, detached_out, detach): (&mut Vec<u8>, &mut Vec<Vec<u8>>, bool),
) -> Result<(), Failure> {
    let start = out.len();
    let first_detached = detached_out.len();
    // AssertUnwindSafe: after a panic the task's state is dropped and `out`
    // is truncated back; the function's own globals are the user's to keep
    // consistent, as with threads.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        codec::push_outcome_with(out, seq, detached_out, detach, |out| {
            // Published once the outcome's header is written: from here on
            // the answers before this call stay where they are until `end`
            // (the function's result is encoded after it).
            if let Some(timeout) = timeout {
                let (done, finished) = (&out.bytes[..start], &out.detached[..first_detached]);
                watchdog::begin(seq, timeout, done, finished);
            }
            (remote.invoke)(&mut input, out)
        })
    }));
    // Before `out` changes again (a failure is recorded in it).
    watchdog::end();
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(failed(error)),
        Err(payload) => {
            out.truncate(start);
            detached_out.truncate(first_detached);
            Err(panicked(&*payload))
        }
    }
}

/// The failure of a call that returned an error.
pub(super) fn failed(error: CallError) -> Failure {
    match error {
        CallError::DecodeArgs(error) => Failure::DecodeArgs(error.to_string()),
        CallError::EncodeResult(error) => Failure::EncodeResult(error.to_string()),
    }
}

/// The failure of a call that panicked with `payload`: what the panic hook
/// recorded of it, or its message.
pub(super) fn panicked(payload: &(dyn std::any::Any + Send)) -> Failure {
    let recorded = LAST_PANIC.with(|last| last.borrow_mut().take());
    Failure::Panicked(recorded.unwrap_or_else(|| PanicInfo {
        message: payload_message(payload),
        location: None,
        backtrace: None,
    }))
}

/// What the parent reports of a panic.
pub(crate) fn panic_info(info: &panic::PanicHookInfo<'_>) -> PanicInfo {
    let backtrace = Backtrace::capture();
    PanicInfo {
        message: payload_message(info.payload()),
        location: info.location().map(|l| Location {
            file: l.file().to_owned(),
            line: l.line(),
            column: l.column(),
        }),
        backtrace: (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string()),
    }
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
