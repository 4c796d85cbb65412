//! A call ready to send: the function's ID and its encoded arguments.

use std::time::Duration;

use crate::wire::detached::Args as Encoded;

/// What a worker needs to run one call.
pub(crate) struct Spec {
    pub(crate) id: &'static str,
    pub(crate) args: Encoded,
    pub(crate) timeout: Option<Duration>,
}
