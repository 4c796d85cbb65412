//! What the pool knew about a failed call beyond its failure: kept apart
//! from the variants so that every failure of a call carries the same
//! context, and so that an empty context costs one pointer.

use std::fmt;

use super::Error;

/// The context of a failed call: carried by the errors of calls that ran
/// (or were about to run) in a worker, [`Error::Panicked`],
/// [`Error::WorkerDied`], [`Error::Timeout`], [`Error::WorkerLost`],
/// [`Error::Poisoned`], [`Error::OutOfMemory`] and [`Error::CpuTimeLimit`],
/// and reached through [`Error::context`].
///
/// What it can hold: the failures of the call's earlier attempts when it
/// was [retried](crate::Builder::retries) ([`earlier_attempts`]), and the
/// call itself, its function ID and encoded arguments, for
/// [`Error::replay`].
///
/// [`earlier_attempts`]: CallContext::earlier_attempts
///
/// It is empty unless the pool recorded something for the call; its
/// `Display` adds what it holds to the error's message, so it shows up at
/// the end of the error's line.
///
/// # Examples
///
/// ```
/// use procs_core::{CallContext, Error};
///
/// let err = Error::WorkerLost { id: "app::f".into(), context: CallContext::default() };
/// assert!(err.context().is_some_and(CallContext::is_empty));
/// assert_eq!(err.to_string(), "lost the link to the worker running `app::f`");
/// ```
///
#[derive(Debug, Default)]
pub struct CallContext {
    /// Boxed and optional: every pending result of a batch has room for an
    /// `Error`, and most failures carry no context.
    inner: Option<Box<Recorded>>,
}

/// What was recorded; each field is optional in spirit (empty when
/// unknown), so that a context records only what applies.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    // -- retries (issue 16): the failures of the call's earlier attempts,
    // oldest first; empty when the call ran once.
    pub(crate) earlier_attempts: Vec<Error>,
    // -- replay (issue 16): the call's function ID and encoded arguments.
    pub(crate) replay: Option<super::replay::Replay>,
    // --- output (issue 17): the stderr tail ---
    /// The last few KiB the call's worker wrote to stderr since the call
    /// began (see `pool::output`).
    pub(crate) stderr_tail: Option<String>,
    // --- end output ---
}

impl CallContext {
    /// Whether nothing was recorded for the call.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(procs_core::CallContext::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// The failures of the call's earlier attempts, oldest first, when the
    /// pool [retried](crate::Builder::retries) it; empty when it ran once.
    /// The error that carries this context is the last attempt's.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::{CallContext, Error};
    ///
    /// let err = Error::WorkerLost { id: "app::f".into(), context: CallContext::default() };
    /// assert!(err.context().unwrap().earlier_attempts().is_empty());
    /// assert_eq!(err.attempts(), 1);
    /// ```
    pub fn earlier_attempts(&self) -> &[Error] {
        self.inner
            .as_deref()
            .map_or(&[], |recorded| &recorded.earlier_attempts)
    }

    /// The call recorded for [`Error::replay`](Error::replay), if any.
    pub(crate) fn replay(&self) -> Option<&super::replay::Replay> {
        self.inner.as_deref()?.replay.as_ref()
    }

    /// The recorded context, created on first use.
    pub(crate) fn recorded(&mut self) -> &mut Recorded {
        self.inner.get_or_insert_with(Box::default)
    }
}

impl fmt::Display for CallContext {
    /// Writes nothing for an empty context; otherwise what it holds, each
    /// piece led by a space or a separator, to follow the error's message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(recorded) = &self.inner else {
            return Ok(());
        };
        // -- retries (issue 16)
        if !recorded.earlier_attempts.is_empty() {
            write!(
                f,
                " (after {} attempts)",
                recorded.earlier_attempts.len() + 1
            )?;
        }
        // --- output (issue 17): the stderr tail's last line ---
        if let Some(line) = recorded.stderr_tail.as_deref().and_then(last_line) {
            write!(f, "; last stderr line: {line:?}")?;
        }
        // --- end output ---
        Ok(())
    }
}

// --- output (issue 17): the stderr tail ---
impl CallContext {
    /// The last few KiB (at most 4 KiB) that the call's worker wrote to its
    /// stderr since the call began, if it wrote anything and the pool
    /// forwards worker output (see [`Output`](crate::Output)). The error's
    /// message shows its last non-empty line.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(procs_core::CallContext::default().stderr_tail(), None);
    /// ```
    pub fn stderr_tail(&self) -> Option<&str> {
        self.inner.as_ref()?.stderr_tail.as_deref()
    }

    /// Records the stderr tail of the call, if there is one.
    pub(crate) fn set_stderr_tail(&mut self, tail: Option<String>) {
        if let Some(tail) = tail {
            self.recorded().stderr_tail = Some(tail);
        }
    }
}

/// The last line of `text` with something in it, without its line end.
fn last_line(text: &str) -> Option<&str> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .rfind(|line| !line.trim().is_empty())
}
// --- end output ---

impl Error {
    // --- output (issue 17): the stderr tail ---
    /// What the worker wrote to stderr while running the failed call: its
    /// last few KiB, for the errors of calls that crashed, timed out or
    /// panicked (see [`CallContext::stderr_tail`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(procs_core::Error::PoolClosed.stderr_tail(), None);
    /// ```
    pub fn stderr_tail(&self) -> Option<&str> {
        self.context()?.stderr_tail()
    }
    // --- end output ---

    /// The context of a failed call, for the errors that carry one (see
    /// [`CallContext`]); `None` for errors that are not a call's failure in
    /// a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::Error;
    ///
    /// assert!(Error::PoolClosed.context().is_none());
    /// ```
    pub fn context(&self) -> Option<&CallContext> {
        match self {
            Error::Panicked { context, .. }
            | Error::WorkerDied { context, .. }
            | Error::Timeout { context, .. }
            | Error::WorkerLost { context, .. }
            | Error::Poisoned { context, .. }
            | Error::OutOfMemory { context, .. }
            | Error::CpuTimeLimit { context, .. } => Some(context),
            _ => None,
        }
    }

    /// The context to record into, for the errors that carry one.
    pub(crate) fn context_mut(&mut self) -> Option<&mut CallContext> {
        match self {
            Error::Panicked { context, .. }
            | Error::WorkerDied { context, .. }
            | Error::Timeout { context, .. }
            | Error::WorkerLost { context, .. }
            | Error::Poisoned { context, .. }
            | Error::OutOfMemory { context, .. }
            | Error::CpuTimeLimit { context, .. } => Some(context),
            _ => None,
        }
    }

    /// How many times the call ran: 1 unless the pool
    /// [retried](crate::Builder::retries) it. The earlier attempts' errors
    /// are in [`CallContext::earlier_attempts`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::Error;
    ///
    /// assert_eq!(Error::PoolClosed.attempts(), 1);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Poisoned { attempts, .. } => *attempts,
            _ => self
                .context()
                .map_or(1, |context| context.earlier_attempts().len() as u32 + 1),
        }
    }
}
