//! A call ready to send: the function's ID and its encoded arguments.

use std::time::Duration;

use crate::wire::detached::Args as Encoded;

/// What a worker needs to run one call.
pub(crate) struct Spec {
    pub(crate) id: &'static str,
    pub(crate) args: Encoded,
    pub(crate) timeout: Option<Duration>,
    /// The proc's own retry settings (`Proc::retries`).
    pub(crate) retry: RetrySpec,
}

impl Spec {
    /// A call of `id` with its arguments, following the pool's settings.
    pub(crate) fn new(id: &'static str, args: Encoded) -> Spec {
        Spec {
            id,
            args,
            timeout: None,
            retry: RetrySpec::default(),
        }
    }
}

/// A proc's retry settings; `None` follows the pool's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RetrySpec {
    pub(crate) retries: Option<u32>,
    pub(crate) panics: Option<bool>,
}
