//! The links between rank 0 and the worker ranks, over procs' own
//! communicator.
//!
//! A worker rank serves any number of links ("sessions"), one per pool slot
//! attached to it, one request at a time: every pool of rank 0 (the global
//! one, and each explicit one) attaches to every worker rank. Each session
//! has its own pair of tags, so the answers of one never reach another.
//!
//! | tag | from → to | payload |
//! |---|---|---|
//! | `ATTACH` (1) | rank 0 → worker | session tag (u32 LE), message limit (u64 LE) |
//! | `DETACH` (2) | rank 0 → worker | session tag (u32 LE) |
//! | `CLOSE` (3) | rank 0 → worker | none: rank 0 is exiting |
//! | `CLOSED` (4) | worker → rank 0 | none: the worker stops |
//! | session tag `s` (even, from 16) | both ways | one procs message |
//! | `s + 1` | worker → rank 0 | the length (u64 LE) of an answer over the session's limit, in its place |
//!
//! procs' worker loop greets its parent once, when it starts; the worker
//! rank keeps that greeting and sends it again on every new session, which
//! is what the pool expects from a worker it attaches to.
//!
//! Messages from rank 0 to a worker arrive in the order they were sent (MPI
//! does not overtake messages between two ranks on one communicator), so
//! a session's requests, its detach and the final close are seen in order.

use std::collections::{HashMap, HashSet};
use std::ffi::c_int;
use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::thread;

use procs_core::transport::Channel;

use crate::backoff;
use crate::ops::{self, MAX_COUNT, Probed};
use crate::runtime::{self, Op, enter, send};

pub(crate) const TAG_ATTACH: c_int = 1;
pub(crate) const TAG_DETACH: c_int = 2;
pub(crate) const TAG_CLOSE: c_int = 3;
pub(crate) const TAG_CLOSED: c_int = 4;
const FIRST_SESSION: c_int = 16;
/// The largest tag every MPI implementation accepts (`MPI_TAG_UB` is at
/// least this).
const TAG_UB: c_int = 32_767;
/// Session tags available per worker rank.
const SESSIONS: c_int = (TAG_UB - FIRST_SESSION + 1) / 2;

/// The message limit of the worker loop on a worker rank: MPI's own. Each
/// session enforces the limit of the pool that attached.
pub(crate) const WORKER_MAX_MESSAGE: usize = MAX_COUNT;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The session tags in use, per worker rank, on rank 0.
struct Sessions {
    next: Vec<c_int>,
    live: Vec<HashSet<c_int>>,
}

static SESSIONS_IN_USE: Mutex<Option<Sessions>> = Mutex::new(None);

fn with_sessions<R>(size: usize, f: impl FnOnce(&mut Sessions) -> R) -> R {
    let mut sessions = SESSIONS_IN_USE
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let sessions = sessions.get_or_insert_with(|| Sessions {
        next: vec![0; size],
        live: vec![HashSet::new(); size],
    });
    f(sessions)
}

/// Takes a free session tag for `rank`.
fn take_session(rank: c_int, size: c_int) -> io::Result<c_int> {
    let index = usize::try_from(rank).expect("a rank");
    with_sessions(usize::try_from(size).expect("a size"), |sessions| {
        for _ in 0..SESSIONS {
            let k = sessions.next[index];
            sessions.next[index] = (k + 1) % SESSIONS;
            let tag = FIRST_SESSION + 2 * k;
            if sessions.live[index].insert(tag) {
                return Ok(tag);
            }
        }
        Err(io::Error::other(format!(
            "{SESSIONS} links to rank {rank} are open already"
        )))
    })
}

/// Frees a session tag once its detach has been sent: a later attach with
/// the same tag reaches the worker after it.
fn release_session(rank: c_int, tag: c_int) {
    let index = usize::try_from(rank).expect("a rank");
    with_sessions(0, |sessions| {
        if let Some(live) = sessions.live.get_mut(index) {
            live.remove(&tag);
        }
    });
}

/// Opens a session with worker rank `rank`: the worker answers with its
/// greeting on the new channel.
pub(crate) fn attach(rank: c_int, size: c_int, max: usize) -> io::Result<MpiChannel> {
    let tag = take_session(rank, size)?;
    let mut payload = [0u8; 12];
    payload[..4].copy_from_slice(&(tag as u32).to_le_bytes());
    payload[4..].copy_from_slice(&(max as u64).to_le_bytes());
    if let Err(error) = send(Op::Start, rank, TAG_ATTACH, &payload) {
        release_session(rank, tag);
        return Err(error);
    }
    Ok(MpiChannel {
        rank,
        tag,
        max: max.min(MAX_COUNT),
        awaiting: true,
    })
}

/// Rank 0's end of its link to one worker rank: what
/// [`MpiTransport`](crate::MpiTransport) hands the pool.
///
/// Dropping it closes the link (the worker rank keeps serving other
/// links, and exits only when rank 0 does).
///
/// # Examples
///
/// The pool drives channels itself; a sketch of what it does:
///
/// ```no_run
/// use procs_core::transport::{Attach, Channel};
/// use procs_transport_mpi::MpiTransport;
///
/// let mpi = MpiTransport::new()?;
/// let mut link = mpi.attach(0, 1 << 20)?; // to rank 1
/// let hello = link.recv()?; // the worker's greeting
/// assert!(hello.is_some());
/// # Ok::<(), procs_core::BoxError>(())
/// ```
pub struct MpiChannel {
    rank: c_int,
    tag: c_int,
    max: usize,
    /// A message (the greeting, or an answer) is due from the worker.
    awaiting: bool,
}

impl fmt::Debug for MpiChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiChannel")
            .field("rank", &self.rank)
            .field("tag", &self.tag)
            .field("max_message_size", &self.max)
            .finish()
    }
}

impl Channel for MpiChannel {
    type Error = io::Error;

    /// Sends one request; returns once MPI has taken it (for a large one,
    /// once the worker has received it), sleeping while it waits.
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send(Op::Start, self.rank, self.tag, msg)?;
        self.awaiting = true;
        Ok(())
    }

    /// Waits for the worker's next message, polling without spinning (see
    /// the crate documentation).
    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut backoff = backoff::backoff();
        loop {
            let entered = enter(Op::Continue)?;
            if let Some(probed) = entered.comm.probe(self.rank, self.tag)? {
                self.awaiting = false;
                if probed.len > self.max {
                    let len = probed.len;
                    probed.discard()?;
                    return Err(invalid(format!(
                        "rank {} sent a message of {len} bytes, over the limit of {} bytes",
                        self.rank, self.max
                    )));
                }
                return probed.receive_vec().map(Some);
            }
            if let Some(probed) = entered.comm.probe(self.rank, self.tag + 1)? {
                self.awaiting = false;
                let len = read_u64(probed)?;
                return Err(invalid(format!(
                    "the answer of rank {} is {len} bytes, over the pool's max_message_size \
                     ({} bytes); it was not sent",
                    self.rank, self.max
                )));
            }
            drop(entered);
            backoff.wait();
        }
    }
}

impl Drop for MpiChannel {
    fn drop(&mut self) {
        let (rank, tag) = (self.rank, self.tag);
        if !self.awaiting {
            detach(rank, tag);
            return;
        }
        // The worker will answer a request nobody waits for any more; take
        // the answer off its hands (or it could not serve anyone else) on
        // a thread of its own, then detach.
        let drain = move || {
            if drain(rank, tag).is_ok() {
                detach(rank, tag);
            }
        };
        let _ = thread::Builder::new()
            .name(format!("procs-mpi-drain-{rank}"))
            .spawn(drain);
    }
}

/// Throws away the next message of a session.
fn drain(rank: c_int, tag: c_int) -> io::Result<()> {
    let mut backoff = backoff::backoff();
    loop {
        let entered = enter(Op::Continue)?;
        for tag in [tag, tag + 1] {
            if let Some(probed) = entered.comm.probe(rank, tag)? {
                return probed.discard();
            }
        }
        drop(entered);
        backoff.wait();
    }
}

fn detach(rank: c_int, tag: c_int) {
    let payload = (tag as u32).to_le_bytes();
    // While rank 0 exits, the close that follows ends every session.
    if send(Op::Start, rank, TAG_DETACH, &payload).is_ok() {
        release_session(rank, tag);
    }
}

fn read_u64(probed: Probed) -> io::Result<u64> {
    if probed.len != 8 {
        let len = probed.len;
        probed.discard()?;
        return Err(invalid(format!("a control message of {len} bytes")));
    }
    let mut bytes = [0u8; 8];
    probed.receive(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// A worker rank's link to rank 0, serving every session rank 0 opens.
pub(crate) struct WorkerLink {
    /// The worker loop's greeting, sent again on every new session.
    hello: Option<Vec<u8>>,
    /// Live sessions and their message limits.
    sessions: HashMap<c_int, usize>,
    /// The session of the request being served: the answer goes there.
    current: Option<c_int>,
}

impl WorkerLink {
    pub(crate) fn new() -> WorkerLink {
        WorkerLink {
            hello: None,
            sessions: HashMap::new(),
            current: None,
        }
    }

    /// Handles one message from rank 0; `Some` when it is for the worker
    /// loop.
    fn handle(&mut self, probed: Probed) -> io::Result<Option<Option<Vec<u8>>>> {
        match probed.tag {
            TAG_ATTACH => {
                if probed.len != 12 {
                    let len = probed.len;
                    probed.discard()?;
                    return Err(invalid(format!("an attach message of {len} bytes")));
                }
                let mut payload = [0u8; 12];
                probed.receive(&mut payload)?;
                let tag = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes"));
                let max = u64::from_le_bytes(payload[4..].try_into().expect("8 bytes"));
                let tag = c_int::try_from(tag).map_err(|_| invalid(format!("session {tag}")))?;
                let max = usize::try_from(max).unwrap_or(usize::MAX).min(MAX_COUNT);
                self.sessions.insert(tag, max);
                let hello = self
                    .hello
                    .as_deref()
                    .ok_or_else(|| io::Error::other("no greeting to send"))?;
                send(Op::Continue, 0, tag, hello)?;
                Ok(None)
            }
            TAG_DETACH => {
                let mut payload = [0u8; 4];
                if probed.len != payload.len() {
                    let len = probed.len;
                    probed.discard()?;
                    return Err(invalid(format!("a detach message of {len} bytes")));
                }
                probed.receive(&mut payload)?;
                self.sessions
                    .remove(&(u32::from_le_bytes(payload) as c_int));
                Ok(None)
            }
            TAG_CLOSE => {
                probed.discard()?;
                runtime::set_closed();
                send(Op::Continue, 0, TAG_CLOSED, &[])?;
                Ok(Some(None))
            }
            tag if tag >= FIRST_SESSION && (tag - FIRST_SESSION) % 2 == 0 => {
                match self.sessions.get(&tag) {
                    // Not attached (any more): nobody waits for an answer.
                    None => {
                        probed.discard()?;
                        Ok(None)
                    }
                    Some(&max) if probed.len > max => {
                        let len = probed.len;
                        probed.discard()?;
                        Err(invalid(format!(
                            "a request of {len} bytes, over the limit of {max} bytes"
                        )))
                    }
                    Some(_) => {
                        let msg = probed.receive_vec()?;
                        self.current = Some(tag);
                        Ok(Some(Some(msg)))
                    }
                }
            }
            tag => {
                probed.discard()?;
                Err(invalid(format!("a message with the unknown tag {tag}")))
            }
        }
    }
}

impl Channel for WorkerLink {
    type Error = io::Error;

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if self.hello.is_none() {
            // The worker loop's greeting: for each session that attaches.
            self.hello = Some(msg.to_vec());
            return Ok(());
        }
        let tag = self
            .current
            .take()
            .ok_or_else(|| io::Error::other("an answer to no request"))?;
        match self.sessions.get(&tag) {
            Some(&max) if msg.len() > max => {
                send(Op::Continue, 0, tag + 1, &(msg.len() as u64).to_le_bytes())
            }
            _ => send(Op::Continue, 0, tag, msg),
        }
    }

    fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut backoff = backoff::backoff();
        loop {
            let entered = enter(Op::Continue)?;
            let probed = entered.comm.probe(0, ops::any_tag())?;
            // A worker rank makes MPI calls from this thread alone, and
            // finalizes from it at exit: the lock needs no holding while the
            // message is handled (which enters again to answer).
            drop(entered);
            match probed {
                Some(probed) => {
                    if let Some(msg) = self.handle(probed)? {
                        return Ok(msg);
                    }
                    backoff = backoff::backoff();
                }
                None => backoff.wait(),
            }
        }
    }
}
