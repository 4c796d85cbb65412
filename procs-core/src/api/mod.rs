//! The application API: what users of procs call.

pub(crate) mod builder;
pub(crate) mod call;
pub(crate) mod call_async;
pub(crate) mod default;
pub(crate) mod pmap;
pub(crate) mod pool;
pub(crate) mod proc;
pub(crate) mod results;
pub(crate) mod stats;
pub(crate) mod unordered;
