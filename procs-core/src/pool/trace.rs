//! The parent's side of feature `tracing`: a worker sends the `tracing`
//! records of a request just before its response (see `worker/trace.rs`),
//! and whoever waits for that response replays them into the caller's
//! subscriber first. Without the feature no worker sends any, and a trace
//! message is taken for what it is then: not an answer.

#[cfg(feature = "tracing")]
mod replay;

use crate::contract::BoxError;
use crate::contract::erased::ErasedChannel;
use crate::pool::caller::Caller;
#[cfg(feature = "tracing")]
use crate::wire::codec;

#[cfg(feature = "tracing")]
pub(crate) use replay::CallerSpan;

/// Receives the next message that is not a trace message, replaying the
/// trace messages before it for `caller` (the caller of the request, if
/// one is known; else the current thread's subscriber) as calls of `id`.
pub(crate) fn recv_answer(
    channel: &mut dyn ErasedChannel,
    caller: Option<&Caller>,
    id: &str,
) -> Result<Option<Vec<u8>>, BoxError> {
    #[cfg(feature = "tracing")]
    loop {
        match channel.recv()? {
            Some(msg) if codec::is_trace(&msg) => {
                if !replay::replay(&msg, caller.map(|c| &c.trace), id) {
                    // Undecodable: handed on, to be refused as garbage.
                    return Ok(Some(msg));
                }
            }
            other => return Ok(other),
        }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (caller, id);
        channel.recv()
    }
}

/// Sets the worker's level variable on a worker's command (see
/// [`ENV_TRACE_LEVEL`](crate::wire::env::ENV_TRACE_LEVEL)).
#[cfg(feature = "tracing")]
pub(crate) fn pass_level(cmd: &mut std::process::Command) {
    use crate::wire::env::ENV_TRACE_LEVEL;
    let level = tracing_core::LevelFilter::current();
    cmd.env(ENV_TRACE_LEVEL, level.to_string());
}
