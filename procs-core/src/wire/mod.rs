//! What crosses between parent and worker: the envelopes, the values in
//! them, the large buffers that travel as messages of their own, and the
//! environment and exit codes around a worker's life.
//!
//! Nothing here knows about pools or the public error type; the layers above
//! map what goes wrong here into [`Error`](crate::Error).

pub(crate) mod codec;
pub(crate) mod detached;
pub(crate) mod env;
pub(crate) mod int;
pub(crate) mod panic;
pub(crate) mod spare;
#[cfg(feature = "tracing")]
pub(crate) mod trace;
pub(crate) mod value;

use crate::contract::BoxError;

/// How a link broke during an exchange with the other side.
pub(crate) enum Broke {
    /// The channel failed, or closed (`None`).
    Link(Option<BoxError>),
    /// The other side sent something that is not an answer to the request.
    Garbage,
}
