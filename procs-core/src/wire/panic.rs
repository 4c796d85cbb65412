//! Panics as a worker reports them: part of the wire schema.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a worker reports about a panic: message, location and backtrace.
///
/// # Examples
///
/// Its fields are what crosses the wire; it is `#[non_exhaustive]` so that a
/// later protocol can report more.
///
/// ```no_run
/// use procs_core::{call, proc, Error};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn fail() {
///     panic!("boom")
/// }
///
/// if let Err(Error::Panicked { panic, .. }) = call(proc!(fail())) {
///     assert_eq!(panic.message, "boom");
///     println!("{panic}"); // src/main.rs:5:5: boom
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PanicInfo {
    /// The panic's message (the payload when it is a string).
    pub message: String,
    /// Where the panic happened.
    pub location: Option<Location>,
    /// The backtrace, captured when `RUST_BACKTRACE` is set in the worker.
    pub backtrace: Option<String>,
}

impl fmt::Display for PanicInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => write!(f, "an unknown location: {}", self.message),
        }
    }
}

/// A source location, as reported with a panic.
///
/// # Examples
///
/// ```no_run
/// use procs_core::{call, proc, Error};
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn fail() {
///     panic!("boom")
/// }
///
/// if let Err(Error::Panicked { panic, .. }) = call(proc!(fail())) {
///     let here = panic.location.expect("panics have a location");
///     println!("{}:{}", here.file, here.line);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Location {
    /// The source file.
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
