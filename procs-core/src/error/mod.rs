use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contract::BoxError;
use crate::exit::Exit;
use crate::remote::registry::Duplicate;
use crate::wire::codec::Malformed;
use crate::wire::panic::{Location, PanicInfo};

mod context;
mod debug;
pub(crate) mod replay;

pub use context::CallContext;

/// Errors returned by [`call`](crate::Pool::call), [`pmap`](crate::Pool::pmap)
/// and the [`Pool`](crate::Pool).
///
/// Every task yields a `Result<T, Error>`: a task that fails never stops its
/// siblings, and the caller decides what to do. Variants carry data, not
/// pre-formatted text, so a program can match on them.
///
/// # Examples
///
/// ```
/// use procs_core::Error;
///
/// let err = Error::UnknownFunction { id: "app::gone".into(), known: vec!["app::here".into()] };
/// assert_eq!(
///     err.to_string(),
///     "no remote function registered with id `app::gone` (known: `app::here`)"
/// );
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remote function panicked; the worker caught the panic and lives on.
    #[error("remote function `{id}` panicked at {panic}{context}")]
    Panicked {
        /// The ID of the function that panicked.
        id: String,
        /// The panic's message, location and (when `RUST_BACKTRACE` is set in
        /// the worker) backtrace. Boxed: every result of a batch carries room
        /// for an `Error`, so the enum is kept small.
        panic: Box<PanicInfo>,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// The worker process died (abort, segfault, `exit`, kill) while it held
    /// this task. The pool replaces the worker; only this task fails.
    #[error("worker died while running `{id}`: {exit}{context}")]
    WorkerDied {
        /// The ID of the function the worker was running.
        id: String,
        /// How the worker ended: an exit code or a signal.
        exit: Exit,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// The task ran past its deadline; its worker was killed and replaced.
    #[error("remote function `{id}` timed out after {timeout:?}{context}")]
    Timeout {
        /// The ID of the function.
        id: String,
        /// The deadline the task was given.
        timeout: Duration,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// The call brought down its worker (death, lost link or timeout) on
    /// every attempt its [`retries`](crate::Builder::retries) allowed, so
    /// the pool stopped running it: one bad input cannot churn the pool
    /// forever. The other calls go on.
    ///
    /// The last attempt's error is the [`source`](std::error::Error::source);
    /// the earlier ones are in [`CallContext::earlier_attempts`].
    #[error("`{id}` brought down its worker on every attempt and was not retried further{context}")]
    Poisoned {
        /// The ID of the function.
        id: String,
        /// How many times the call ran, each time bringing down its worker.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
        /// What the pool recorded about the call, the earlier attempts
        /// included.
        context: CallContext,
    },
    /// [`Error::replay`] was asked of an error that carries no call to run
    /// again: one that is not a call's failure in a worker (see
    /// [`Error::context`]), or whose arguments were not recorded.
    #[error("this error carries no call to replay")]
    NotReplayable,
    /// The task needed more memory than the pool's
    /// [`memory_limit`](crate::Builder::memory_limit) allows: its worker was
    /// killed by the kernel (cgroup) or failed an allocation (rlimit), and was
    /// replaced.
    #[error("remote function `{id}` ran out of memory under the limit of {limit} bytes{context}")]
    OutOfMemory {
        /// The ID of the function.
        id: String,
        /// The worker's memory limit, in bytes.
        limit: u64,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// The task used more CPU time than the pool's
    /// [`cpu_time_limit`](crate::Builder::cpu_time_limit); its worker was
    /// ended and replaced.
    #[error("remote function `{id}` used up its CPU time limit of {limit:?}{context}")]
    CpuTimeLimit {
        /// The ID of the function.
        id: String,
        /// The task's CPU time limit.
        limit: Duration,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// A new worker did not complete its handshake in time and was killed.
    #[error("worker did not complete its handshake within {timeout:?}")]
    HandshakeTimeout {
        /// The handshake deadline.
        timeout: Duration,
    },
    /// The pool's worker initializer failed in a new worker; the worker was
    /// discarded and the task that needed it did not run.
    #[error("worker initializer `{id}` failed")]
    InitializerFailed {
        /// The ID of the initializer function.
        id: String,
        /// How it failed.
        #[source]
        source: Box<Error>,
    },
    /// The link to an attached worker (one the pool did not start) broke
    /// while it held this task; the pool cannot tell how the worker ended.
    #[error("lost the link to the worker running `{id}`{context}")]
    WorkerLost {
        /// The ID of the function the worker was running.
        id: String,
        /// What the pool recorded about the call.
        context: CallContext,
    },
    /// No function is registered under the requested ID in the worker.
    #[error(
        "no remote function registered with id `{id}` (known: {})",
        KnownIds { wanted: id, known }
    )]
    UnknownFunction {
        /// The ID that was asked for.
        id: String,
        /// The IDs the worker knows, sorted.
        known: Vec<String>,
    },
    /// Two `#[remote]` functions share one ID, typically a pinned
    /// `#[remote(id = "...")]` equal to another function's default ID (two
    /// pinned ones fail to link). Every pool of the program refuses to start
    /// with it, so no call runs; pin distinct IDs.
    #[error(
        "remote function id `{id}` is registered more than once ({}); give each its own `#[remote(id = \"...\")]`",
        Definitions(definitions)
    )]
    DuplicateId {
        /// The ID registered more than once.
        id: String,
        /// Each function registered under it: its path and the location of
        /// its `#[remote]` attribute.
        definitions: Vec<(String, Location)>,
    },
    /// The function given to `proc!` or `pmap` carries no `#[remote]` attribute.
    #[error(
        "`{name}` is not a #[remote] function: closures and function pointers are not supported; \
         define a named function with #[remote] and pass it by name"
    )]
    NotRemote {
        /// The function's type name.
        name: &'static str,
    },
    /// The arguments or the return value of a function could not be encoded.
    // The cause is in the message too (issue 11): a `main` returning this
    // error, or a plain `{err}`, would otherwise hide what actually failed.
    #[error("failed to encode the {payload} of `{id}`: {source}{}", Hint(source))]
    Encode {
        /// The ID of the function.
        id: String,
        /// Which value failed.
        payload: Payload,
        /// The codec's error.
        #[source]
        source: BoxError,
    },
    /// The arguments or the return value of a function could not be decoded.
    #[error("failed to decode the {payload} of `{id}`: {source}{}", Hint(source))]
    Decode {
        /// The ID of the function.
        id: String,
        /// Which value failed.
        payload: Payload,
        /// The codec's error.
        #[source]
        source: BoxError,
    },
    /// The arguments or the result of a call make a message larger than the
    /// pool's [`max_message_size`](crate::Builder::max_message_size); the
    /// call did not run (arguments) or its result was dropped (result), and
    /// the worker lives on.
    #[error("a message of `{id}` takes {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The ID of the function.
        id: String,
        /// The size of the message, in bytes.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A message from the other side could not be parsed.
    #[error("malformed {0} message")]
    Malformed(&'static str),
    /// A worker could not be started: the transport's `spawn` failed, an
    /// attached worker could not be reached (`Attach::attach` failed), or
    /// the pool could not start one of its own threads. The source says
    /// which.
    #[error("failed to start a worker")]
    Spawn(#[source] BoxError),
    /// A worker process ended before its handshake, for example because the
    /// binary exits or crashes before `main` when re-executed.
    #[error("worker process ended before its handshake: {exit}")]
    StartupFailed {
        /// How the worker ended.
        exit: Exit,
    },
    /// No transport was given to the pool and none is enabled in the `procs`
    /// facade.
    #[error(
        "no procs transport available; enable the `pipe` or `ipc` feature of `procs`, \
         give one with `Pool::builder().transport(...)`, or make one the default with \
         `procs::transport::register_default_transport!(...)`"
    )]
    NoTransport,
    /// A pool setting is out of range.
    #[error("invalid pool setting `{setting}`: {problem}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with the value.
        problem: &'static str,
    },
    /// The worker speaks another version of the procs protocol.
    #[error("worker speaks procs protocol {found}, expected {expected}")]
    ProtocolMismatch {
        /// The parent's protocol version.
        expected: u32,
        /// The worker's protocol version.
        found: u32,
    },
    /// The worker runs a different build of the program than the parent.
    #[error(
        "worker runs a different build of the program (fingerprint {found:016x}, expected {expected:016x})"
    )]
    BinaryMismatch {
        /// The parent's build fingerprint.
        expected: u64,
        /// The worker's build fingerprint.
        found: u64,
    },
    /// The transport failed to send or receive a message.
    #[error("transport failed")]
    Transport(#[source] BoxError),
    /// A pool was started, or a call made, inside a procs worker process,
    /// for example by a `#[remote]` function that itself uses procs.
    ///
    /// Workers never start pools of their own, so that nested use cannot
    /// multiply processes without bound.
    #[error(
        "cannot use procs inside a procs worker: nested pools are refused; return the data to the \
         caller and run the next stage from there"
    )]
    InsideWorker,
    /// The pool was shut down before the task ran.
    #[error("the pool is shut down")]
    PoolClosed,
}

/// Which value of a call an [`Error::Encode`] or [`Error::Decode`] refers to.
///
/// # Examples
///
/// ```
/// use procs_core::Payload;
///
/// assert_eq!(Payload::Arguments.to_string(), "arguments");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Payload {
    /// The arguments, encoded by the parent and decoded by the worker.
    Arguments,
    /// The return value, encoded by the worker and decoded by the parent.
    Result,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Payload::Arguments => "arguments",
            Payload::Result => "return value",
        })
    }
}

/// The advice for a codec error that comes from the wire format's limits,
/// if it looks like one.
struct Hint<'a>(&'a BoxError);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::wire::value::limitation_hint(&self.0.to_string()) {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

struct Definitions<'a>(&'a [(String, Location)]);

impl fmt::Display for Definitions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (path, location)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{path}` at {location}")?;
        }
        Ok(())
    }
}

/// How many known IDs an [`Error::UnknownFunction`] message lists: enough to
/// spot a typo, few enough that a large program's registry stays readable.
const KNOWN_SHOWN: usize = 10;

struct KnownIds<'a> {
    wanted: &'a str,
    known: &'a [String],
}

impl fmt::Display for KnownIds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.known.is_empty() {
            return f.write_str("none");
        }
        // The closest first: a mistyped or moved ID is usually one of them.
        let mut ranked: Vec<&String> = self.known.iter().collect();
        ranked.sort_by_cached_key(|id| (edit_distance(self.wanted, id), id.as_str()));
        for (i, id) in ranked.iter().take(KNOWN_SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{id}`")?;
        }
        let more = ranked.len().saturating_sub(KNOWN_SHOWN);
        if more > 0 {
            write!(f, " and {more} more")?;
        }
        Ok(())
    }
}

impl From<Duplicate> for Error {
    fn from(Duplicate { id, definitions }: Duplicate) -> Error {
        Error::DuplicateId { id, definitions }
    }
}

impl From<Malformed> for Error {
    fn from(Malformed(what): Malformed) -> Error {
        Error::Malformed(what)
    }
}

/// Levenshtein distance over chars; IDs are short, so the quadratic cost is
/// negligible next to the failed call that reports it.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod size {
    #[test]
    fn errors_stay_small() {
        // Every pending result has room for one; see `Error::Panicked`.
        assert!(std::mem::size_of::<super::Error>() <= 64);
    }
}

#[cfg(test)]
mod display {
    use super::{Error, Payload};

    #[test]
    fn decode_names_its_cause() {
        let err = Error::Decode {
            id: "app::f".into(),
            payload: Payload::Arguments,
            source: "unexpected end of input".into(),
        };
        assert_eq!(
            err.to_string(),
            "failed to decode the arguments of `app::f`: unexpected end of input"
        );
    }

    #[test]
    fn unknown_function_lists_the_closest_ten_and_counts_the_rest() {
        let mut known: Vec<String> = (0..15).map(|i| format!("app::other{i:02}")).collect();
        known.push("app::square".into());
        let err = Error::UnknownFunction {
            id: "app::sqaure".into(),
            known,
        };
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "no remote function registered with id `app::sqaure` (known: `app::square`, "
            ),
            "{msg}"
        );
        assert_eq!(msg.matches('`').count(), 2 + 2 * 10, "{msg}");
        assert!(msg.ends_with(" and 6 more)"), "{msg}");
    }

    #[test]
    fn not_remote_says_what_to_do() {
        let msg = Error::NotRemote {
            name: "app::main::{{closure}}",
        }
        .to_string();
        assert!(
            msg.contains("closures and function pointers are not supported"),
            "{msg}"
        );
        assert!(
            msg.contains("define a named function with #[remote]"),
            "{msg}"
        );
    }

    #[test]
    fn inside_worker_advises_returning_to_the_caller() {
        let msg = Error::InsideWorker.to_string();
        assert!(msg.contains("nested"), "{msg}");
        assert!(msg.contains("return the data to the caller"), "{msg}");
        assert!(!msg.contains("procs::init"), "{msg}");
    }
}
