//! Panics as a worker reports them: part of the wire schema.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a worker reports about a panic: message, location and backtrace.
///
/// # Examples
///
/// ```
/// use procs_core::{Location, PanicInfo};
///
/// let info = PanicInfo {
///     message: "boom".into(),
///     location: Some(Location { file: "src/main.rs".into(), line: 3, column: 5 }),
///     backtrace: None,
/// };
/// assert_eq!(info.to_string(), "src/main.rs:3:5: boom");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
/// ```
/// use procs_core::Location;
///
/// let here = Location { file: "src/lib.rs".into(), line: 10, column: 1 };
/// assert_eq!(here.to_string(), "src/lib.rs:10:1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
