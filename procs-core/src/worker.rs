//! The worker loop: serve requests until the parent goes away.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::process;

use crate::codec::{self, Failure, Hello, Message, Task};
use crate::error::{Location, PanicInfo};
use crate::registry::{CallError, Lookup, Remote, registry};
use crate::transport::Channel;

/// Exit code of a worker whose channel broke or carried garbage.
const EXIT_PROTOCOL: i32 = 123;

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicInfo>> = const { RefCell::new(None) };
}

pub(crate) fn serve(mut channel: impl Channel, max_message_size: usize) -> ! {
    // The parent reports panics with their message and location; printing
    // them here too would only duplicate them on the shared stderr.
    panic::set_hook(Box::new(record_panic));
    let registry = registry();
    let mut out = Vec::new();
    let hello = Hello {
        protocol: codec::PROTOCOL,
        fingerprint: registry.fingerprint(),
        pid: process::id(),
    };
    codec::encode_hello(&mut out, &hello);
    if let Err(error) = channel.send(&out) {
        fail(&format!("cannot greet the parent: {error}"));
    }
    loop {
        let msg = match channel.recv() {
            Ok(Some(msg)) => msg,
            // The parent closed the channel: the pool is done with us.
            Ok(None) => process::exit(0),
            Err(error) => fail(&format!("cannot receive: {error}")),
        };
        let tasks = match codec::decode(&msg) {
            Ok(Message::Request(tasks)) => tasks,
            Ok(_) => fail("unexpected message from the parent"),
            Err(error) => fail(&error.to_string()),
        };
        codec::begin_response(&mut out);
        // A batch calls one function many times: look it up once.
        let mut last: Option<(&str, &'static Remote)> = None;
        for task in tasks {
            let before = out.len();
            let remote = match last {
                Some((id, remote)) if id == task.id => Ok(remote),
                _ => find(task.id),
            };
            if let Ok(remote) = remote {
                last = Some((task.id, remote));
            }
            if let Err(failure) = remote.and_then(|remote| run(remote, &task, &mut out)) {
                codec::push_failure(&mut out, task.seq, &failure);
            }
            // A result over the limit would be refused by the parent's
            // channel and cost this worker; report it in its place instead.
            if out.len() > max_message_size {
                let size = (out.len() - before) as u64;
                codec::pop_outcome(&mut out, before);
                let failure = Failure::TooLarge {
                    size,
                    limit: max_message_size as u64,
                };
                codec::push_failure(&mut out, task.seq, &failure);
            }
        }
        if let Err(error) = channel.send(&out) {
            fail(&format!("cannot reply: {error}"));
        }
    }
}

fn fail(why: &str) -> ! {
    eprintln!("procs worker {}: {why}", process::id());
    process::exit(EXIT_PROTOCOL)
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
/// `out` is left as it was).
fn run(remote: &Remote, task: &Task<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
    let start = out.len();
    // AssertUnwindSafe: after a panic the task's state is dropped and `out`
    // is truncated back; the function's own globals are the user's to keep
    // consistent, as with threads.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        codec::push_outcome_with(out, task.seq, |out| (remote.invoke)(task.args, out))
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(CallError::DecodeArgs(error))) => Err(Failure::DecodeArgs(error.to_string())),
        Ok(Err(CallError::EncodeResult(error))) => Err(Failure::EncodeResult(error.to_string())),
        Err(payload) => {
            out.truncate(start);
            let recorded = LAST_PANIC.with(|last| last.borrow_mut().take());
            Err(Failure::Panicked(recorded.unwrap_or_else(|| PanicInfo {
                message: payload_message(&*payload),
                location: None,
                backtrace: None,
            })))
        }
    }
}

fn record_panic(info: &panic::PanicHookInfo<'_>) {
    let backtrace = Backtrace::capture();
    let panic = PanicInfo {
        message: payload_message(info.payload()),
        location: info.location().map(|l| Location {
            file: l.file().to_owned(),
            line: l.line(),
            column: l.column(),
        }),
        backtrace: (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string()),
    };
    LAST_PANIC.with(|last| *last.borrow_mut() = Some(panic));
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
