use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::wire::env::WorkerExit;

/// How a worker process ended: an exit code or a signal.
///
/// # Examples
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use std::process::ExitStatus;
/// use procs_core::Exit;
///
/// let segfault = Exit::from(ExitStatus::from_raw(libc_sigsegv()));
/// assert_eq!(segfault.signal(), Some(11));
/// assert_eq!(segfault.to_string(), "killed by signal 11 (SIGSEGV)");
///
/// let exited = Exit::from(ExitStatus::from_raw(3 << 8));
/// assert_eq!(exited.code(), Some(3));
/// assert_eq!(exited.to_string(), "exited with code 3");
///
/// // The code a worker reserves for a task that overflowed its stack.
/// let overflowed = Exit::from(ExitStatus::from_raw(120 << 8));
/// assert_eq!(overflowed.to_string(), "overflowed its stack (exit code 120)");
/// # fn libc_sigsegv() -> i32 { 11 }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(ExitStatus);

impl Exit {
    /// The exit code, if the process exited normally.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::process::ExitStatusExt;
    /// # use procs_core::Exit;
    /// assert_eq!(Exit::from(std::process::ExitStatus::from_raw(0)).code(), Some(0));
    /// ```
    pub fn code(&self) -> Option<i32> {
        self.0.code()
    }

    /// The signal that ended the process, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::process::ExitStatusExt;
    /// # use procs_core::Exit;
    /// assert_eq!(Exit::from(std::process::ExitStatus::from_raw(9)).signal(), Some(9));
    /// ```
    pub fn signal(&self) -> Option<i32> {
        self.0.signal()
    }

    /// The signal's conventional name, such as `SIGSEGV`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::process::ExitStatusExt;
    /// # use procs_core::Exit;
    /// assert_eq!(Exit::from(std::process::ExitStatus::from_raw(6)).signal_name(), Some("SIGABRT"));
    /// ```
    pub fn signal_name(&self) -> Option<&'static str> {
        self.signal().and_then(signal_name)
    }

    /// The underlying [`ExitStatus`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::process::ExitStatusExt;
    /// # use procs_core::Exit;
    /// assert!(Exit::from(std::process::ExitStatus::from_raw(0)).status().success());
    /// ```
    pub fn status(&self) -> ExitStatus {
        self.0
    }
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        Exit(status)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code() == Some(WorkerExit::StackOverflow.code()) {
            let code = WorkerExit::StackOverflow.code();
            return write!(f, "overflowed its stack (exit code {code})");
        }
        if let Some(code) = self.code() {
            return write!(f, "exited with code {code}");
        }
        match (self.signal(), self.signal_name()) {
            (Some(sig), Some(name)) => write!(f, "killed by signal {sig} ({name})")?,
            (Some(sig), None) => write!(f, "killed by signal {sig}")?,
            (None, _) => write!(f, "ended with status {}", self.0.into_raw())?,
        }
        if self.0.core_dumped() {
            f.write_str(", core dumped")?;
        }
        Ok(())
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}
