//! One worker process and the pool thread that drives it.
//!
//! The thread owns the process: it spawns it (so `PR_SET_PDEATHSIG`, which
//! fires when the *spawning thread* exits, fires only when the pool is gone),
//! feeds it jobs one at a time, reaps it when it dies and starts a
//! replacement for the next job.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::BoxError;
use crate::codec::{self, Hello, Message, Task};
use crate::entry::{ENV_MAX_MESSAGE, ENV_WORKER};
use crate::erased::{ErasedChannel, ErasedTransport};
use crate::error::Error;
use crate::exit::Exit;
use crate::job::{Job, Reply};
use crate::registry::registry;

/// How long a worker whose channel closed may take to finish dying before it
/// is killed: closing fds comes a moment before the exit status is ready.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// What every slot of a pool shares.
pub(crate) struct SlotConfig {
    pub(crate) transport: Arc<dyn ErasedTransport>,
    pub(crate) max_message_size: usize,
}

pub(crate) struct Slot {
    config: Arc<SlotConfig>,
    queue: Receiver<Job>,
    worker: Option<Worker>,
    buf: Vec<u8>,
}

struct Worker {
    channel: Box<dyn ErasedChannel>,
    child: Child,
}

impl Slot {
    pub(crate) fn new(config: Arc<SlotConfig>, queue: Receiver<Job>) -> Slot {
        Slot {
            config,
            queue,
            worker: None,
            buf: Vec::new(),
        }
    }

    pub(crate) fn run(mut self) {
        // Start early so the first call does not wait for a spawn; if this
        // fails, the first job tries again and reports the error.
        self.worker = self.start().ok();
        while let Ok(job) = self.queue.recv() {
            if job.is_cancelled() {
                continue;
            }
            let result = self.run_job(&job);
            job.finish(result);
        }
        if let Some(worker) = self.worker.take() {
            worker.retire();
        }
    }

    fn run_job(&mut self, job: &Job) -> Result<Reply, Error> {
        let worker = match &mut self.worker {
            Some(worker) => worker,
            None => self.worker.insert(self.start()?),
        };
        let task = Task {
            seq: job.index as u64,
            id: job.id,
            args: &job.args,
        };
        codec::encode_request(&mut self.buf, std::iter::once(task));
        let received = worker
            .channel
            .send(&self.buf)
            .and_then(|()| worker.channel.recv());
        let outcome = match received {
            Ok(Some(msg)) => parse_response(msg, job),
            Ok(None) => Err(Broken::Closed),
            Err(error) => Err(Broken::Failed(error)),
        };
        outcome.unwrap_or_else(|broken| {
            let worker = self.worker.take().expect("a worker ran the job");
            Err(broken.into_error(worker, job.id))
        })
    }

    fn start(&self) -> Result<Worker, Error> {
        let config = &self.config;
        let cmd = worker_command(config.transport.name(), config.max_message_size);
        let (mut channel, mut child) = config
            .transport
            .spawn(cmd, config.max_message_size)
            .map_err(Error::Spawn)?;
        let hello = match channel.recv() {
            Ok(Some(msg)) => match codec::decode(&msg) {
                Ok(Message::Hello(hello)) => Ok(hello),
                Ok(_) => Err(Error::Malformed("hello")),
                Err(error) => Err(error),
            },
            Ok(None) => Err(Error::StartupFailed {
                exit: reap(&mut child, EXIT_GRACE).0,
            }),
            Err(error) => Err(Error::Transport(error)),
        };
        match hello.and_then(check_hello) {
            Ok(()) => Ok(Worker { channel, child }),
            Err(error) => {
                drop(channel);
                kill(&mut child);
                Err(error)
            }
        }
    }
}

/// Refuses a worker that speaks another protocol or runs another build.
fn check_hello(hello: Hello) -> Result<(), Error> {
    let expected = registry().fingerprint();
    if hello.protocol != codec::PROTOCOL {
        Err(Error::ProtocolMismatch {
            expected: codec::PROTOCOL,
            found: hello.protocol,
        })
    } else if hello.fingerprint != expected {
        Err(Error::BinaryMismatch {
            expected,
            found: hello.fingerprint,
        })
    } else {
        Ok(())
    }
}

impl Worker {
    /// Closes the channel, which tells the worker to exit, and reaps it.
    fn retire(self) {
        let Worker { channel, mut child } = self;
        drop(channel);
        reap(&mut child, EXIT_GRACE);
    }
}

/// How a round trip with a worker went wrong.
enum Broken {
    /// The worker closed its end between messages.
    Closed,
    /// The channel failed.
    Failed(BoxError),
    /// The worker answered, but not with a valid response to this job.
    Garbage(Error),
}

impl Broken {
    fn into_error(self, worker: Worker, id: &str) -> Error {
        let Worker { channel, mut child } = worker;
        drop(channel);
        let reported = match self {
            Broken::Garbage(error) => {
                kill(&mut child);
                return error;
            }
            Broken::Closed => None,
            Broken::Failed(error) if is_protocol_error(&*error) => {
                kill(&mut child);
                return Error::Transport(error);
            }
            Broken::Failed(error) => Some(error),
        };
        match reap(&mut child, EXIT_GRACE) {
            (exit, Reaped::Exited) => Error::WorkerDied {
                id: id.to_owned(),
                exit,
            },
            (_, Reaped::Killed) => match reported {
                Some(error) => Error::Transport(error),
                None => Error::Transport("worker closed its channel but kept running".into()),
            },
        }
    }
}

fn is_protocol_error(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::InvalidData)
}

fn parse_response(msg: Vec<u8>, job: &Job) -> Result<Result<Reply, Error>, Broken> {
    let (seq, result) = match codec::decode(&msg) {
        Ok(Message::Response(mut outcomes)) if outcomes.len() == 1 => {
            let outcome = outcomes.pop().expect("one outcome");
            let result = outcome.result.map(|bytes| {
                let start = bytes.as_ptr() as usize - msg.as_ptr() as usize;
                start..start + bytes.len()
            });
            (outcome.seq, result)
        }
        Ok(_) => return Err(Broken::Garbage(Error::Malformed("response"))),
        Err(error) => return Err(Broken::Garbage(error)),
    };
    if seq != job.index as u64 {
        return Err(Broken::Garbage(Error::Malformed("response")));
    }
    Ok(match result {
        Ok(range) => Ok(Reply::new(msg, range)),
        Err(failure) => Err(failure.into_error(job.id)),
    })
}

/// The command that re-executes this very binary as a worker.
fn worker_command(transport: &str, max_message_size: usize) -> Command {
    // /proc/self/exe is this process's own image even if the file on disk was
    // replaced since (a rebuild while the program runs).
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    cmd.env(ENV_WORKER, transport)
        .env(ENV_MAX_MESSAGE, max_message_size.to_string())
        .stdin(Stdio::null());
    let parent = std::process::id();
    // SAFETY: the closure calls only async-signal-safe functions (prctl,
    // getppid) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
    cmd
}

#[derive(PartialEq, Eq)]
enum Reaped {
    Exited,
    Killed,
}

/// Waits up to `grace` for `child` to exit on its own, then kills it.
fn reap(child: &mut Child, grace: Duration) -> (Exit, Reaped) {
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_micros(50);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.into(), Reaped::Exited),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => return (kill(child), Reaped::Killed),
        }
    }
}

fn kill(child: &mut Child) -> Exit {
    let _ = child.kill();
    match child.wait() {
        Ok(status) => status.into(),
        // wait only fails if the child was already reaped, which this module
        // never does twice; report it as killed.
        Err(_) => <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(
            libc::SIGKILL,
        )
        .into(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn hello(protocol: u32, fingerprint: u64) -> Hello {
        Hello {
            protocol,
            fingerprint,
            pid: 1,
        }
    }

    #[test]
    fn handshake_refuses_other_protocols_and_builds() {
        let ours = registry().fingerprint();
        assert!(check_hello(hello(codec::PROTOCOL, ours)).is_ok());
        let err = check_hello(hello(codec::PROTOCOL + 1, ours)).unwrap_err();
        assert!(
            matches!(err, Error::ProtocolMismatch { found, .. } if found == codec::PROTOCOL + 1)
        );
        let err = check_hello(hello(codec::PROTOCOL, ours ^ 1)).unwrap_err();
        assert!(
            matches!(err, Error::BinaryMismatch { expected, found } if expected == ours && found == ours ^ 1)
        );
        assert!(err.to_string().contains("different build"));
    }
}
