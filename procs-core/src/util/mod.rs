//! Small helpers every layer may use; they import nothing of procs.

pub(crate) mod backoff;
pub(crate) mod spin;
pub(crate) mod sync;
