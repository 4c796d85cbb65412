//! Running a failed call again in the calling process, to reproduce it
//! under a debugger or with extra logging.
//!
//! The pool records a call's function ID and encoded arguments in the
//! [`CallContext`](crate::CallContext) of its failure. Nothing is copied for
//! calls that succeed: the arguments move from the finished job into the
//! error, on the failure path only.

use serde::de::DeserializeOwned;

use crate::error::{Error, Payload};
use crate::remote::registry::{CallError, Lookup, registry};
use crate::wire::detached::{Args, Input, Output};
use crate::wire::value::result_error;

/// What running a call again takes: the function's wire ID and the
/// arguments as they were sent, detached buffers included.
#[derive(Debug)]
pub(crate) struct Replay {
    pub(crate) id: &'static str,
    pub(crate) args: Args,
}

impl Error {
    /// Records the call this error is the failure of, for
    /// [`replay`](Error::replay), if the error carries a context.
    pub(crate) fn record_replay(&mut self, id: &'static str, args: Args) {
        if let Some(context) = self.context_mut() {
            context.recorded().replay = Some(Replay { id, args });
        }
    }

    /// Runs the failed call this error reports again, in the calling
    /// process, and returns its result decoded as `R` (the function's return
    /// type).
    ///
    /// The function is looked up by its ID in this program's registry and
    /// called on the arguments the worker was given, on the current thread:
    /// set a breakpoint in it, or turn on extra logging, and replay. A panic
    /// is not caught: it unwinds out of `replay` as from a direct call (wrap
    /// the call in [`std::panic::catch_unwind`] to keep going), and a crash
    /// (abort, segfault) takes this process down, as it took the worker. A
    /// call that hung in the worker hangs here too.
    ///
    /// Replay is for the errors of calls that ran, or were about to run, in
    /// a worker: those with a [`context`](Error::context)
    /// ([`Panicked`](Error::Panicked), [`WorkerDied`](Error::WorkerDied),
    /// [`Timeout`](Error::Timeout), [`WorkerLost`](Error::WorkerLost),
    /// [`Poisoned`](Error::Poisoned)). The error keeps the call's arguments
    /// for this until it is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotReplayable`] for an error that carries no call;
    /// [`Error::UnknownFunction`] or [`Error::DuplicateId`] if the ID does
    /// not name one function here; [`Error::Decode`] if the arguments do not
    /// decode as the function's parameters, or its result not as `R`;
    /// [`Error::Encode`] if its result does not encode.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::panic::{AssertUnwindSafe, catch_unwind};
    /// use procs_core::{call, proc};
    ///
    /// #[procs_derive::remote(crate = ::procs_core)]
    /// fn parse(line: String) -> u32 { line.trim().parse().expect("a number") }
    ///
    /// let err = call(proc!(parse("x1".into()))).unwrap_err();
    /// // Again, here: a debugger attached to this process stops in `parse`.
    /// let again = catch_unwind(AssertUnwindSafe(|| err.replay::<u32>()));
    /// assert!(again.is_err(), "the same panic, in this process");
    /// ```
    pub fn replay<R: DeserializeOwned + 'static>(&self) -> Result<R, Error> {
        let replay = self
            .context()
            .and_then(|context| context.replay())
            .ok_or(Error::NotReplayable)?;
        let id = replay.id;
        let remote = match registry().lookup(id) {
            Lookup::Found(remote) => remote,
            Lookup::Unknown => {
                return Err(Error::UnknownFunction {
                    id: id.to_owned(),
                    known: registry().ids(),
                });
            }
            Lookup::Duplicate => {
                return Err(Error::DuplicateId {
                    id: id.to_owned(),
                    definitions: registry().definitions(id),
                });
            }
        };
        // Copied, so that the error can be replayed again: replay is the
        // slow path of a failure.
        let mut input = Input::new(&replay.args.bytes, replay.args.detached.clone());
        let mut bytes = Vec::new();
        let mut detached = Vec::new();
        let mut out = Output {
            bytes: &mut bytes,
            detached: &mut detached,
            detach: true,
            marks: None,
        };
        (remote.invoke)(&mut input, &mut out).map_err(|error| match error {
            CallError::DecodeArgs(source) => Error::Decode {
                id: id.to_owned(),
                payload: Payload::Arguments,
                source,
            },
            CallError::EncodeResult(source) => Error::Encode {
                id: id.to_owned(),
                payload: Payload::Result,
                source,
            },
        })?;
        let mut input = Input::new(&bytes, detached);
        let value = input.take().and_then(|value| input.end().map(|()| value));
        value.map_err(|source| Error::Decode {
            id: id.to_owned(),
            payload: Payload::Result,
            source: result_error::<R>(source),
        })
    }
}
