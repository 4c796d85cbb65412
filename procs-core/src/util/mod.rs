//! Small helpers every layer may use; they import nothing of procs.

pub(crate) mod spin;
