//! What the checks stand on: a fast byte payload, transports that misroute
//! their workers, and views of this process's children and descriptors.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::BoxError;
use crate::transport::{Channel, Transport};
use crate::wire::env::ENV_WORKER;

/// Bytes that cross as one length and one copy, not element by element, so
/// that 64 MiB payloads stay cheap in debug builds.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Blob(pub(super) Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;

        impl Visitor<'_> for BlobVisitor {
            type Value = Blob;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }

        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

/// A deterministic, position-dependent pattern: a shifted or truncated copy
/// does not compare equal.
pub(super) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte =
            (i as u8).wrapping_mul(31) ^ ((i >> 8) as u8).wrapping_add(seed) ^ ((i >> 16) as u8);
    }
    out
}

/// The name no transport is registered under: a worker started with it exits
/// before connecting.
const NOWHERE: &str = "procs-testkit-nowhere";
/// The name of [`StallTransport`]: a worker started with it never connects.
const STALL: &str = "procs-testkit-stall";

/// Wraps a transport so that its workers exit before they connect: the
/// routing variable names no transport, so the worker exits with code 121.
#[derive(Clone)]
pub(super) struct Misrouted<T>(pub(super) T);

/// Wraps a transport so that its workers never connect and never exit: they
/// are routed to [`StallTransport`], whose `connect` sleeps.
#[derive(Clone)]
pub(super) struct Stalled<T>(pub(super) T);

impl<T: Transport> Transport for Misrouted<T> {
    type Channel = T::Channel;
    const NAME: &'static str = "procs-testkit-misrouted";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(T::Channel, Child), BoxError> {
        cmd.env(ENV_WORKER, NOWHERE);
        self.0.spawn(cmd, max)
    }

    fn connect(max: usize) -> Result<T::Channel, BoxError> {
        T::connect(max)
    }
}

impl<T: Transport> Transport for Stalled<T> {
    type Channel = T::Channel;
    const NAME: &'static str = "procs-testkit-stalled";

    fn spawn(&self, mut cmd: Command, max: usize) -> Result<(T::Channel, Child), BoxError> {
        cmd.env(ENV_WORKER, STALL);
        self.0.spawn(cmd, max)
    }

    fn connect(max: usize) -> Result<T::Channel, BoxError> {
        T::connect(max)
    }
}

/// The worker side of [`Stalled`]: connects to nothing, ever. The pool's
/// handshake deadline (or the parent's death) kills it.
pub(super) struct StallTransport;

/// The channel a [`StallTransport`] never makes.
pub(super) enum NoChannel {}

impl Channel for NoChannel {
    type Error = io::Error;

    fn send(&mut self, _: &[u8]) -> io::Result<()> {
        match *self {}
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match *self {}
    }
}

impl Transport for StallTransport {
    type Channel = NoChannel;
    const NAME: &'static str = STALL;

    fn spawn(&self, _: Command, _: usize) -> Result<(NoChannel, Child), BoxError> {
        Err("the stall transport only serves workers".into())
    }

    fn connect(_: usize) -> Result<NoChannel, BoxError> {
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
}

crate::transport::register_transport!(StallTransport);

/// The command a pool would run for a worker of `T`, for checks that drive a
/// channel by hand.
pub(super) fn worker_command<T: Transport>(max_message_size: usize) -> Command {
    crate::pool::launch::worker_command(T::NAME, max_message_size)
}

/// The pids of this process's children, zombies included.
pub(super) fn children() -> BTreeSet<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent_of(pid) == Some(me))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// What this process holds open: `fd -> target` for every descriptor.
pub(super) fn open_fds() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut fds: Vec<String> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some(format!(
                "{} -> {}",
                entry.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    fds.sort();
    fds
}

/// Polls `done` until it holds or `within` passes; whether it held.
pub(super) fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(1);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A fresh empty directory, removed on drop.
pub(super) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(super) fn new() -> ScratchDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "procs-testkit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("cannot create a scratch directory");
        ScratchDir(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
