//! The `#[remote]` functions: the table the macro fills at link time, and the
//! trait that types a function's arguments and result.

pub(crate) mod registry;
pub(crate) mod remote_fn;
