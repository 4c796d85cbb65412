//! What the pool knew about a failed call beyond its failure: kept apart
//! from the variants so that every failure of a call carries the same
//! context, and so that an empty context costs one pointer.

use std::fmt;

/// The context of a failed call: carried by the errors of calls that ran
/// (or were about to run) in a worker, [`Error::Panicked`],
/// [`Error::WorkerDied`], [`Error::Timeout`], [`Error::WorkerLost`],
/// [`Error::OutOfMemory`] and [`Error::CpuTimeLimit`], and
/// reached through [`Error::context`].
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
/// [`Error::Panicked`]: crate::Error::Panicked
/// [`Error::WorkerDied`]: crate::Error::WorkerDied
/// [`Error::Timeout`]: crate::Error::Timeout
/// [`Error::WorkerLost`]: crate::Error::WorkerLost
/// [`Error::OutOfMemory`]: crate::Error::OutOfMemory
/// [`Error::CpuTimeLimit`]: crate::Error::CpuTimeLimit
/// [`Error::context`]: crate::Error::context
#[derive(Debug, Default)]
pub struct CallContext {
    /// Boxed and optional: every pending result of a batch has room for an
    /// `Error`, and most failures carry no context.
    inner: Option<Box<Recorded>>,
}

/// What was recorded; each field is optional in spirit (empty when
/// unknown), so that a context records only what applies.
#[derive(Debug, Default)]
pub(crate) struct Recorded {}

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

    /// The recorded context, created on first use.
    #[allow(dead_code)]
    pub(crate) fn recorded(&mut self) -> &mut Recorded {
        self.inner.get_or_insert_with(Box::default)
    }
}

impl fmt::Display for CallContext {
    /// Writes nothing for an empty context; otherwise what it holds, each
    /// piece led by a space or a separator, to follow the error's message.
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(_recorded) = &self.inner else {
            return Ok(());
        };
        Ok(())
    }
}

impl super::Error {
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
        use super::Error;
        match self {
            Error::Panicked { context, .. }
            | Error::WorkerDied { context, .. }
            | Error::Timeout { context, .. }
            | Error::WorkerLost { context, .. }
            | Error::OutOfMemory { context, .. }
            | Error::CpuTimeLimit { context, .. } => Some(context),
            _ => None,
        }
    }

    /// The context to record into, for the errors that carry one.
    #[allow(dead_code)]
    pub(crate) fn context_mut(&mut self) -> Option<&mut CallContext> {
        use super::Error;
        match self {
            Error::Panicked { context, .. }
            | Error::WorkerDied { context, .. }
            | Error::Timeout { context, .. }
            | Error::WorkerLost { context, .. }
            | Error::OutOfMemory { context, .. }
            | Error::CpuTimeLimit { context, .. } => Some(context),
            _ => None,
        }
    }
}
