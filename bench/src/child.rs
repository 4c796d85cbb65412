//! This binary re-executed in a child mode, chosen by an environment
//! variable and started without procs: the minimal echo child that the
//! warm-call and cold-start baselines talk to, the fresh process the
//! memory case measures, the raw-pipe peer of the physical limit, and the
//! process that exhausts its descriptors through procspawn.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// Names the child mode; its presence makes the process a child.
const ENV_CHILD: &str = "PROCS_BENCH_CHILD";

const ECHO: &str = "echo";
const MEMORY: &str = "memory";
pub(crate) const PIPE_LIMIT: &str = "pipe-limit";
pub(crate) const PROCSPAWN_FDS: &str = "procspawn-fds";

/// Runs the child mode this process was started in and exits; returns at
/// once in the benchmark itself.
pub(crate) fn dispatch() {
    let Some(mode) = std::env::var_os(ENV_CHILD) else {
        return;
    };
    let code = match mode.to_str() {
        Some(ECHO) => match serve_echo() {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("procs-bench echo child: {error}");
                1
            }
        },
        Some(MEMORY) => crate::cases::memory::child_main(),
        Some(PIPE_LIMIT) => crate::cases::pipe_limit::child_main(),
        Some(PROCSPAWN_FDS) => crate::peer::fd_probe_main(),
        _ => {
            eprintln!("procs-bench: unknown child mode {mode:?}");
            2
        }
    };
    std::process::exit(code)
}

/// Echoes 8-byte frames from stdin to stdout until stdin closes, with no
/// buffering: one read and one write per frame, as small as a worker gets.
fn serve_echo() -> io::Result<()> {
    let mut input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let mut frame = [0u8; 8];
    loop {
        match input.read_exact(&mut frame) {
            Ok(()) => output.write_all(&frame)?,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// This binary, to be started in child `mode`.
pub(crate) fn command(mode: &str) -> io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command.env(ENV_CHILD, mode);
    Ok(command)
}

/// A running echo child: the raw-pipe baseline.
pub(crate) struct EchoChild {
    child: Child,
    /// `None` only while dropping.
    input: Option<File>,
    output: File,
}

impl EchoChild {
    /// Starts an echo child (without waiting for it to be ready).
    pub(crate) fn spawn() -> io::Result<EchoChild> {
        let mut child = command(ECHO)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = File::from(OwnedFd::from(child.stdin.take().expect("stdin is piped")));
        let output = File::from(OwnedFd::from(child.stdout.take().expect("stdout is piped")));
        Ok(EchoChild {
            child,
            input: Some(input),
            output,
        })
    }

    /// Sends `value` and waits for it to come back.
    pub(crate) fn round_trip(&mut self, value: u64) -> io::Result<()> {
        let input = self.input.as_mut().expect("open until dropped");
        input.write_all(&value.to_le_bytes())?;
        let mut frame = [0u8; 8];
        self.output.read_exact(&mut frame)?;
        if u64::from_le_bytes(frame) == value {
            Ok(())
        } else {
            Err(io::Error::other("the echo child answered another value"))
        }
    }
}

impl Drop for EchoChild {
    fn drop(&mut self) {
        // Closing its stdin ends the child; reap it.
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// Runs this binary in the memory child mode with `env`, and returns its
/// standard output.
pub(crate) fn run_memory_child(env: &[(&str, String)]) -> Result<String, String> {
    let mut command = command(MEMORY).map_err(|e| e.to_string())?;
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the memory child: {e}"))?;
    if !output.status.success() {
        return Err(format!("the memory child failed: {}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}
