//! Starting a slot's worker: spawn or attach, the greeting, the initializer.

use super::{Slot, Trip, killed_error, send_all};
use crate::contract::erased::Source;
use crate::error::{CallContext, Error};
use crate::pool::launch::{Worker, check_hello, kill, worker_command};
use crate::pool::limits::WorkerLimits;
use crate::pool::trace::recv_answer;
use crate::pool::watch::Killed;
use crate::wire::codec::{self, Message};

impl Slot {
    /// Starts (or attaches to) this slot's worker, checks its greeting and
    /// runs the pool's initializer in it.
    pub(super) fn start(&mut self) -> Result<Worker, Error> {
        let started = self.launch();
        self.start_failed = started.is_err();
        started
    }

    fn launch(&mut self) -> Result<Worker, Error> {
        let config = self.config.clone();
        let max = config.max_message_size;
        let mut limits = WorkerLimits::default();
        let (mut channel, child, output) = match &config.source {
            Source::Spawn(transport) => {
                let mut cmd = worker_command(transport.name(), max);
                config.limits.configure(&mut cmd);
                config.output.configure(&mut cmd);
                let (channel, mut child) = transport.spawn(cmd, max).map_err(Error::Spawn)?;
                limits = match config.limits.confine(child.id()) {
                    Ok(limits) => limits,
                    Err(error) => {
                        kill(&mut child);
                        return Err(Error::Spawn(error.into()));
                    }
                };
                let output = match config.output.forward(&mut child) {
                    Ok(output) => output,
                    Err(error) => {
                        kill(&mut child);
                        return Err(error);
                    }
                };
                config
                    .watch
                    .spawned(self.index, child.id(), config.handshake_timeout);
                (channel, Some(child), output)
            }
            Source::Attach(attach) => (
                attach.attach(self.index, max).map_err(Error::Spawn)?,
                None,
                None,
            ),
        };
        config.counters.worker_started(self.index);
        let hello = channel.recv();
        let killed = config.watch.end(self.index);
        self.worker = Some(Worker {
            channel,
            child,
            tasks: 0,
            limits,
            output,
            caught_up: None,
        });
        let greeted = match (hello, killed) {
            (_, Some(Killed::Handshake(timeout))) => Err(Error::HandshakeTimeout { timeout }),
            (_, Some(_)) => Err(Error::PoolClosed),
            (Ok(Some(msg)), None) => match codec::decode(&msg) {
                Ok(Message::Hello(hello)) => check_hello(hello),
                Ok(_) => Err(Error::Malformed("hello")),
                Err(error) => Err(error.into()),
            },
            (Ok(None), None) => {
                return Err(match self.discard(false) {
                    Some((exit, _)) => Error::StartupFailed { exit },
                    None => Error::Transport("the attached worker closed its link".into()),
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
        let detach = !matches!(config.source, Source::Attach(_));
        let call = std::iter::once((0, &init.args));
        // The initializer's deadline is the parent's to enforce (the
        // worker's watchdog answers for calls only).
        let detached = codec::encode_calls(&mut self.buf, init.id, None, call, detach);
        let size = codec::largest_message(&self.buf, &detached);
        if size > config.max_message_size {
            return Err(self.too_large(init.id, size));
        }
        config.watch.begin(
            self.index,
            init.timeout.or(config.timeout).map(|t| (t, t)),
            None,
        );
        let worker = self.worker.as_mut().expect("started");
        let trip = match send_all(&mut *worker.channel, &self.buf, detached)
            .and_then(|()| recv_answer(&mut *worker.channel, None, init.id))
        {
            Ok(Some(msg)) => Trip::Answered(msg),
            Ok(None) => Trip::Closed,
            Err(error) => Trip::Failed(error),
        };
        let killed = config.watch.end(self.index);
        let outcome = match (trip, killed) {
            (Trip::Answered(msg), None) => {
                codec::decode(&msg)
                    .map_err(Error::from)
                    .and_then(|m| match m {
                        Message::Response(outcomes) if outcomes.len() == 1 => {
                            match outcomes.into_iter().next().expect("one").result {
                                // The initializer's value is not wanted, but what
                                // was detached from it follows on the link.
                                Ok((_, lens)) => lens.iter().try_for_each(|_| {
                                    let worker = self.worker.as_mut().expect("started");
                                    match worker.channel.recv_into(&mut Vec::new()) {
                                        Ok(true) => Ok(()),
                                        Ok(false) => Err(Error::Transport("link closed".into())),
                                        Err(error) => Err(Error::Transport(error)),
                                    }
                                }),
                                Err(failure) => Err(failure.into_error(init.id)),
                            }
                        }
                        // Under `panic = "abort"`: the initializer panicked.
                        Message::Dying { panic, .. } => Err(Error::Panicked {
                            id: init.id.to_owned(),
                            panic: Box::new(panic),
                            context: CallContext::default(),
                        }),
                        _ => Err(Error::Malformed("response")),
                    })
            }
            (_, Some(reason)) => Err(killed_error(reason, init.id)),
            (Trip::Closed, None) => Err(self.broken(init.id, None)),
            (Trip::Failed(error), None) => Err(self.broken(init.id, Some(error))),
        };
        outcome.map_err(|error| Error::InitializerFailed {
            id: init.id.to_owned(),
            source: Box::new(error),
        })
    }
}
