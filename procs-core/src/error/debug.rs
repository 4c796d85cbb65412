//! `Debug` for [`Error`] as a report a human reads: what a `main` returning
//! `Result<(), procs::Error>` prints when it fails.
//!
//! The derived form put everything on one line, a panic's backtrace with its
//! newlines escaped. As `anyhow` does, `{:?}` is the message, then the chain
//! of causes, then a backtrace on lines of its own; match on the variants for
//! the data.

use std::error::Error as _;
use std::fmt;

use super::Error;

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = self.source();
        if source.is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        let mut depth = 0;
        while let Some(cause) = source {
            write!(f, "\n    {depth}: {cause}")?;
            depth += 1;
            source = cause.source();
        }
        if let Error::Panicked { panic, .. } = self {
            if let Some(backtrace) = &panic.backtrace {
                write!(
                    f,
                    "\n\nBacktrace of the worker's panic:\n{}",
                    backtrace.trim_end()
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use crate::error::Error;
    use crate::wire::panic::{Location, PanicInfo};

    #[test]
    fn debug_is_a_readable_report() {
        let panic = PanicInfo {
            message: "boom".into(),
            location: Some(Location {
                file: "src/main.rs".into(),
                line: 3,
                column: 5,
            }),
            backtrace: Some("   0: app::f\n   1: app::main\n".into()),
        };
        let err = Error::Panicked {
            id: "app::f".into(),
            panic: Box::new(panic),
            context: Default::default(),
        };
        let report = format!("{err:?}");
        assert_eq!(
            report,
            "remote function `app::f` panicked at src/main.rs:3:5: boom\n\n\
             Backtrace of the worker's panic:\n   0: app::f\n   1: app::main"
        );
        assert!(!report.contains("\\n"), "escaped newlines in {report}");

        let nested = Error::InitializerFailed {
            id: "app::init".into(),
            source: Box::new(Error::Malformed("hello")),
        };
        assert_eq!(
            format!("{nested:?}"),
            "worker initializer `app::init` failed\n\nCaused by:\n    0: malformed hello message"
        );
    }
}
