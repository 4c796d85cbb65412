//! The worker side: how a re-executed binary becomes a worker, and the loop
//! that serves its parent's calls.

pub(crate) mod dying;
pub(crate) mod entry;
pub(crate) mod limits;
pub(crate) mod parent;
pub(crate) mod plain;
pub(crate) mod runtime;
pub(crate) mod serve;
pub(crate) mod startup;
#[cfg(feature = "tracing")]
pub(crate) mod trace;
pub(crate) mod watchdog;
