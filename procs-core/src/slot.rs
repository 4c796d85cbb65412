//! One worker process and the pool thread that drives it.
//!
//! The thread owns the process: it spawns it (so `PR_SET_PDEATHSIG`, which
//! fires when the *spawning thread* exits, fires only when the pool is gone),
//! feeds it jobs one at a time, reaps it when it dies and starts a
//! replacement for the next job. The [`Watch`] kills a worker from outside
//! when a deadline passes or its caller goes away.

use std::io;
use std::num::NonZeroUsize;
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
use crate::job::{CancelFlag, Job, Reply};
use crate::proc::Spec;
use crate::registry::registry;
use crate::watch::{Killed, Watch};

/// How long a worker whose channel closed may take to finish dying before it
/// is killed: closing fds comes a moment before the exit status is ready.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// What every slot of a pool shares.
pub(crate) struct SlotConfig {
    pub(crate) transport: Arc<dyn ErasedTransport>,
    pub(crate) max_message_size: usize,
    /// The deadline of a task whose proc sets none.
    pub(crate) timeout: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_tasks_per_worker: Option<NonZeroUsize>,
    /// Runs once in each new worker before its first task.
    pub(crate) initializer: Option<Spec>,
    pub(crate) watch: Arc<Watch>,
}

pub(crate) struct Slot {
    index: usize,
    config: Arc<SlotConfig>,
    queue: Receiver<Job>,
    worker: Option<Worker>,
    buf: Vec<u8>,
}

struct Worker {
    channel: Box<dyn ErasedChannel>,
    child: Child,
    tasks: usize,
}

/// How a round trip with a worker went.
enum Trip {
    Answered(Vec<u8>),
    /// The worker closed its end between messages.
    Closed,
    /// The channel failed.
    Failed(BoxError),
    /// The request was over the message size limit and was not sent.
    TooLarge(usize),
}

impl Slot {
    pub(crate) fn new(index: usize, config: Arc<SlotConfig>, queue: Receiver<Job>) -> Slot {
        Slot {
            index,
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
            if self.config.watch.is_pool_killed() {
                job.finish(Err(Error::PoolClosed));
                continue;
            }
            if job.is_cancelled() {
                continue;
            }
            let result = self.run_job(&job);
            job.finish(result);
            let recycle = self.config.max_tasks_per_worker;
            if let (Some(worker), Some(max)) = (&self.worker, recycle) {
                if worker.tasks >= max.get() {
                    let worker = self.worker.take().expect("checked above");
                    self.retire(worker);
                }
            }
        }
        if let Some(worker) = self.worker.take() {
            self.retire(worker);
        }
    }

    fn run_job(&mut self, job: &Job) -> Result<Reply, Error> {
        if self.worker.is_none() {
            self.worker = Some(self.start()?);
        }
        let timeout = job.timeout.or(self.config.timeout);
        let task = Task {
            seq: job.index as u64,
            id: job.id,
            args: &job.args,
        };
        let trip = self.round_trip(task, timeout, Some(&job.cancel));
        let killed = self.config.watch.end(self.index);
        if let Some(worker) = &mut self.worker {
            worker.tasks += 1;
        }
        match (trip, killed) {
            (Trip::Answered(msg), None) => match parse_response(msg, job.index, job.id) {
                Ok(result) => result,
                Err(garbage) => {
                    self.discard(true);
                    Err(garbage)
                }
            },
            // Killed just after it answered: the answer stands, the worker
            // does not.
            (Trip::Answered(msg), Some(_)) => {
                self.discard(true);
                parse_response(msg, job.index, job.id).and_then(|result| result)
            }
            (_, Some(reason)) => {
                self.discard(true);
                Err(killed_error(reason, job.id))
            }
            (Trip::Closed, None) => Err(self.broken(job.id, None)),
            (Trip::Failed(error), None) => Err(self.broken(job.id, Some(error))),
            (Trip::TooLarge(size), None) => Err(self.too_large(job.id, size)),
        }
    }

    fn too_large(&self, id: &str, size: usize) -> Error {
        Error::TooLarge {
            id: id.to_owned(),
            size: size as u64,
            limit: self.config.max_message_size as u64,
        }
    }

    /// Sends one task to the live worker and waits for its answer, watched.
    fn round_trip(
        &mut self,
        task: Task<'_>,
        timeout: Option<Duration>,
        cancel: Option<&CancelFlag>,
    ) -> Trip {
        let worker = self.worker.as_mut().expect("started");
        codec::encode_request(&mut self.buf, std::iter::once(task));
        if self.buf.len() > self.config.max_message_size {
            return Trip::TooLarge(self.buf.len());
        }
        self.config.watch.begin(self.index, timeout, cancel);
        match worker
            .channel
            .send(&self.buf)
            .and_then(|()| worker.channel.recv())
        {
            Ok(Some(msg)) => Trip::Answered(msg),
            Ok(None) => Trip::Closed,
            Err(error) => Trip::Failed(error),
        }
    }

    /// Turns a broken channel into the right error: a death if the worker
    /// exits, a transport failure if it had to be killed.
    fn broken(&mut self, id: &str, error: Option<BoxError>) -> Error {
        // A worker that sent garbage is alive and untrusted: no grace.
        let garbage = error.as_deref().is_some_and(is_protocol_error);
        match self.discard(garbage) {
            Some((exit, true)) => Error::WorkerDied {
                id: id.to_owned(),
                exit,
            },
            _ => Error::Transport(
                error.unwrap_or_else(|| "worker closed its channel but kept running".into()),
            ),
        }
    }

    /// Reaps the live worker, killing it at once (`kill_now`) or after a
    /// grace period; returns its exit and whether it ended on its own.
    fn discard(&mut self, kill_now: bool) -> Option<(Exit, bool)> {
        let Worker {
            channel, mut child, ..
        } = self.worker.take()?;
        let killed = self.config.watch.forget(self.index);
        drop(channel);
        if kill_now {
            return Some((kill(&mut child), false));
        }
        let (exit, on_its_own) = reap(&mut child, EXIT_GRACE);
        Some((exit, on_its_own && killed.is_none()))
    }

    /// Closes the channel, which tells the worker to exit, and reaps it.
    fn retire(&mut self, worker: Worker) {
        self.worker = Some(worker);
        self.discard(false);
    }

    fn start(&mut self) -> Result<Worker, Error> {
        let config = self.config.clone();
        let cmd = worker_command(config.transport.name(), config.max_message_size);
        let (mut channel, child) = config
            .transport
            .spawn(cmd, config.max_message_size)
            .map_err(Error::Spawn)?;
        config
            .watch
            .spawned(self.index, child.id(), config.handshake_timeout);
        let hello = channel.recv();
        let killed = config.watch.end(self.index);
        self.worker = Some(Worker {
            channel,
            child,
            tasks: 0,
        });
        let greeted = match (hello, killed) {
            (_, Some(Killed::Handshake(timeout))) => Err(Error::HandshakeTimeout { timeout }),
            (_, Some(_)) => Err(Error::PoolClosed),
            (Ok(Some(msg)), None) => match codec::decode(&msg) {
                Ok(Message::Hello(hello)) => check_hello(hello),
                Ok(_) => Err(Error::Malformed("hello")),
                Err(error) => Err(error),
            },
            (Ok(None), None) => {
                let exit = self.discard(false).map(|(exit, _)| exit);
                return Err(Error::StartupFailed {
                    exit: exit.expect("a worker was live"),
                });
            }
            (Err(error), None) => Err(Error::Transport(error)),
        };
        let ready = greeted.and_then(|()| self.initialize());
        match ready {
            Ok(()) => Ok(self.worker.take().expect("live")),
            Err(error) => {
                self.discard(true);
                Err(error)
            }
        }
    }

    /// Runs the pool's initializer, if any, in the fresh worker.
    fn initialize(&mut self) -> Result<(), Error> {
        let config = self.config.clone();
        let Some(init) = &config.initializer else {
            return Ok(());
        };
        let task = Task {
            seq: 0,
            id: init.id,
            args: &init.args,
        };
        let trip = self.round_trip(task, init.timeout.or(config.timeout), None);
        let killed = config.watch.end(self.index);
        let outcome = match (trip, killed) {
            (Trip::Answered(msg), None) => {
                parse_response(msg, 0, init.id).and_then(|result| result.map(drop))
            }
            (_, Some(reason)) => Err(killed_error(reason, init.id)),
            (Trip::Closed, None) => Err(self.broken(init.id, None)),
            (Trip::Failed(error), None) => Err(self.broken(init.id, Some(error))),
            (Trip::TooLarge(size), None) => Err(self.too_large(init.id, size)),
        };
        outcome.map_err(|error| Error::InitializerFailed {
            id: init.id.to_owned(),
            source: Box::new(error),
        })
    }
}

fn killed_error(reason: Killed, id: &str) -> Error {
    match reason {
        Killed::Deadline(timeout) => Error::Timeout {
            id: id.to_owned(),
            timeout,
        },
        Killed::Handshake(timeout) => Error::HandshakeTimeout { timeout },
        Killed::Cancelled | Killed::Pool => Error::PoolClosed,
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

fn is_protocol_error(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::InvalidData)
}

/// Parses a one-task response: the task's outcome, or an error if the
/// message itself is not a valid answer (the worker is then not trusted).
fn parse_response(msg: Vec<u8>, index: usize, id: &str) -> Result<Result<Reply, Error>, Error> {
    let (seq, result) = match codec::decode(&msg)? {
        Message::Response(mut outcomes) if outcomes.len() == 1 => {
            let outcome = outcomes.pop().expect("one outcome");
            let result = outcome.result.map(|bytes| {
                let start = bytes.as_ptr() as usize - msg.as_ptr() as usize;
                start..start + bytes.len()
            });
            (outcome.seq, result)
        }
        _ => return Err(Error::Malformed("response")),
    };
    if seq != index as u64 {
        return Err(Error::Malformed("response"));
    }
    Ok(match result {
        Ok(range) => Ok(Reply::new(msg, range)),
        Err(failure) => Err(failure.into_error(id)),
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

/// Waits up to `grace` for `child` to exit on its own, then kills it;
/// `true` if it exited on its own.
fn reap(child: &mut Child, grace: Duration) -> (Exit, bool) {
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_micros(50);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.into(), true),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => return (kill(child), false),
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
