//! Object-safe views of [`Transport`] and [`Channel`], so that a pool picks
//! its transport at run time without being generic over it.

use std::process::{Child, Command};

use std::sync::Arc;

use crate::contract::BoxError;
use crate::contract::attach::Attach;
use crate::contract::{Channel, Fault, Transport};

/// Where a pool's workers come from.
#[derive(Clone)]
pub(crate) enum Source {
    /// The pool spawns them.
    Spawn(Arc<dyn ErasedTransport>),
    /// Something else started them; the pool attaches.
    Attach(Arc<dyn ErasedAttach>),
}

impl Source {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Source::Spawn(transport) => transport.name(),
            Source::Attach(attach) => attach.name(),
        }
    }
}

pub(crate) trait ErasedAttach: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn workers(&self) -> usize;
    fn attach(&self, index: usize, max: usize) -> Result<Box<dyn ErasedChannel>, BoxError>;
}

impl<A: Attach> ErasedAttach for A {
    fn name(&self) -> &'static str {
        A::NAME
    }

    fn workers(&self) -> usize {
        Attach::workers(self)
    }

    fn attach(&self, index: usize, max: usize) -> Result<Box<dyn ErasedChannel>, BoxError> {
        Ok(Box::new(Attach::attach(self, index, max)?))
    }
}

pub(crate) trait ErasedTransport: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn spawn(&self, cmd: Command, max: usize) -> Result<(Box<dyn ErasedChannel>, Child), BoxError>;
}

pub(crate) trait ErasedChannel: Send {
    fn send(&mut self, msg: &[u8]) -> Result<(), BoxError>;
    fn send_many(&mut self, msgs: &[&[u8]]) -> Result<(), BoxError>;
    fn recv(&mut self) -> Result<Option<Vec<u8>>, BoxError>;
    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool, BoxError>;
    fn reads(&self) -> Option<u64>;
}

impl<T: Transport> ErasedTransport for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn spawn(&self, cmd: Command, max: usize) -> Result<(Box<dyn ErasedChannel>, Child), BoxError> {
        let (channel, child) = Transport::spawn(self, cmd, max)?;
        Ok((Box::new(channel), child))
    }
}

impl<C: Channel> ErasedChannel for C {
    fn send(&mut self, msg: &[u8]) -> Result<(), BoxError> {
        Channel::send(self, msg).map_err(erase::<C>)
    }

    fn send_many(&mut self, msgs: &[&[u8]]) -> Result<(), BoxError> {
        Channel::send_many(self, msgs).map_err(erase::<C>)
    }

    fn recv(&mut self) -> Result<Option<Vec<u8>>, BoxError> {
        Channel::recv(self).map_err(erase::<C>)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>) -> Result<bool, BoxError> {
        Channel::recv_into(self, buf).map_err(erase::<C>)
    }

    fn reads(&self) -> Option<u64> {
        Channel::reads(self)
    }
}

/// Boxes a channel's error, marking it when [`Channel::fault`] says the
/// peer broke the protocol: once boxed, its type can no longer be asked.
fn erase<C: Channel>(error: C::Error) -> BoxError {
    match C::fault(&error) {
        Fault::Protocol => Box::new(ProtocolFault(error.into())),
        _ => error.into(),
    }
}

/// A channel error that [`Channel::fault`] called [`Fault::Protocol`];
/// shows as the error it wraps.
#[derive(Debug)]
pub(crate) struct ProtocolFault(BoxError);

impl ProtocolFault {
    /// Whether `error` is a channel error its channel called a protocol fault.
    pub(crate) fn is(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
        error.is::<ProtocolFault>()
    }
}

impl std::fmt::Display for ProtocolFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ProtocolFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
