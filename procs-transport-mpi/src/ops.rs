//! The few MPI calls the transport makes, over `mpi::ffi`, with their
//! return codes checked.
//!
//! The transport's communicator returns errors instead of aborting the job
//! (`MPI_ERRORS_RETURN`): a failed call becomes an [`io::Error`], and the
//! call that needed it fails with a message rather than the whole job.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::mem::MaybeUninit;

use mpi::ffi;

/// The largest message one MPI call moves: counts are C `int`s.
pub(crate) const MAX_COUNT: usize = c_int::MAX as usize;

/// A communicator handle usable from any thread: MPI was initialized with
/// `MPI_THREAD_MULTIPLE`, which makes every call thread-safe.
pub(crate) struct Comm(ffi::MPI_Comm);

// SAFETY: see the type's documentation; the handle itself is immutable.
unsafe impl Send for Comm {}
// SAFETY: as above.
unsafe impl Sync for Comm {}

/// A message matched by a probe: it must be received, since no other probe
/// can see it any more (and its sender may wait until it is). Dropped
/// unreceived, it is discarded.
#[must_use = "a matched message must be received or discarded"]
pub(crate) struct Probed {
    message: ffi::MPI_Message,
    /// The message's tag.
    pub(crate) tag: c_int,
    /// The sender's rank.
    pub(crate) source: c_int,
    /// Its length in bytes.
    pub(crate) len: usize,
}

/// A send in progress; its buffer must outlive it.
pub(crate) struct Pending(ffi::MPI_Request);

fn check(code: c_int, call: &str) -> io::Result<()> {
    if code == ffi::MPI_SUCCESS as c_int {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{call} failed: {}",
        error_string(code)
    )))
}

fn error_string(code: c_int) -> String {
    let mut buf = vec![0 as c_char; ffi::MPI_MAX_ERROR_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `buf` holds MPI_MAX_ERROR_STRING characters, as required.
    let rc = unsafe { ffi::MPI_Error_string(code, buf.as_mut_ptr(), &mut len) };
    if rc != ffi::MPI_SUCCESS as c_int {
        return format!("MPI error {code}");
    }
    let len = usize::try_from(len).unwrap_or(0).min(buf.len());
    let bytes: Vec<u8> = buf[..len].iter().map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn byte() -> ffi::MPI_Datatype {
    // SAFETY: a constant handle of the initialized library.
    unsafe { ffi::RSMPI_UINT8_T }
}

/// `MPI_ANY_SOURCE`.
pub(crate) fn any_source() -> c_int {
    // SAFETY: a constant.
    unsafe { ffi::RSMPI_ANY_SOURCE }
}

/// `MPI_ANY_TAG`.
pub(crate) fn any_tag() -> c_int {
    // SAFETY: a constant.
    unsafe { ffi::RSMPI_ANY_TAG }
}

impl Comm {
    /// A private duplicate of `MPI_COMM_WORLD` that returns errors; the
    /// program's own MPI traffic on the world communicator never meets
    /// procs' messages. Collective: every rank calls it.
    pub(crate) fn duplicate_world() -> io::Result<Comm> {
        let mut comm = MaybeUninit::uninit();
        check(
            // SAFETY: MPI is initialized; `comm` receives the new handle.
            unsafe { ffi::MPI_Comm_dup(ffi::RSMPI_COMM_WORLD, comm.as_mut_ptr()) },
            "MPI_Comm_dup",
        )?;
        // SAFETY: MPI_Comm_dup succeeded and wrote the handle.
        let comm = Comm(unsafe { comm.assume_init() });
        check(
            // SAFETY: a live communicator and a predefined error handler.
            unsafe { ffi::MPI_Comm_set_errhandler(comm.0, ffi::RSMPI_ERRORS_RETURN) },
            "MPI_Comm_set_errhandler",
        )?;
        Ok(comm)
    }

    /// This process's rank and the number of ranks.
    pub(crate) fn rank_and_size(&self) -> io::Result<(c_int, c_int)> {
        let (mut rank, mut size) = (0, 0);
        check(
            // SAFETY: a live communicator; the outputs are plain ints.
            unsafe { ffi::MPI_Comm_rank(self.0, &mut rank) },
            "MPI_Comm_rank",
        )?;
        check(
            // SAFETY: as above.
            unsafe { ffi::MPI_Comm_size(self.0, &mut size) },
            "MPI_Comm_size",
        )?;
        Ok((rank, size))
    }

    /// Matches a waiting message from `source` with `tag` (either may be a
    /// wildcard), without blocking.
    ///
    /// Asks twice: Open MPI's `MPI_Improbe` looks for a match before it
    /// makes progress, so a message that arrived while the caller slept is
    /// only matched by the next call (without the second call, each poll
    /// after a sleep would miss it once, and sleep again).
    pub(crate) fn probe(&self, source: c_int, tag: c_int) -> io::Result<Option<Probed>> {
        match self.probe_once(source, tag)? {
            Some(probed) => Ok(Some(probed)),
            None => self.probe_once(source, tag),
        }
    }

    fn probe_once(&self, source: c_int, tag: c_int) -> io::Result<Option<Probed>> {
        let mut flag: c_int = 0;
        let mut message = MaybeUninit::uninit();
        let mut status = MaybeUninit::<ffi::MPI_Status>::uninit();
        check(
            // SAFETY: a live communicator; the outputs are written by MPI.
            unsafe {
                ffi::MPI_Improbe(
                    source,
                    tag,
                    self.0,
                    &mut flag,
                    message.as_mut_ptr(),
                    status.as_mut_ptr(),
                )
            },
            "MPI_Improbe",
        )?;
        if flag == 0 {
            return Ok(None);
        }
        // SAFETY: a match fills the message and the status.
        let (message, status) = unsafe { (message.assume_init(), status.assume_init()) };
        let mut count: c_int = 0;
        check(
            // SAFETY: the status MPI just returned.
            unsafe { ffi::MPI_Get_count(&status, byte(), &mut count) },
            "MPI_Get_count",
        )?;
        let mut probed = Probed {
            message,
            tag: status.MPI_TAG,
            source: status.MPI_SOURCE,
            len: 0,
        };
        match usize::try_from(count) {
            Ok(len) => {
                probed.len = len;
                Ok(Some(probed))
            }
            Err(_) => {
                let _ = probed.discard();
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a message of an unknown length (MPI_UNDEFINED)",
                ))
            }
        }
    }

    /// Starts sending `buf` to `dest` with `tag`.
    ///
    /// # Safety
    ///
    /// `buf` must stay alive and unchanged until [`Pending::test`] says the
    /// send is complete.
    pub(crate) unsafe fn start_send(
        &self,
        dest: c_int,
        tag: c_int,
        buf: &[u8],
    ) -> io::Result<Pending> {
        let count = c_int::try_from(buf.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a message of {} bytes is over MPI's limit of {MAX_COUNT} bytes",
                    buf.len()
                ),
            )
        })?;
        let mut request = MaybeUninit::uninit();
        check(
            // SAFETY: `buf` holds `count` bytes and outlives the request (the
            // caller's promise); the communicator is live.
            unsafe {
                ffi::MPI_Isend(
                    buf.as_ptr().cast::<c_void>(),
                    count,
                    byte(),
                    dest,
                    tag,
                    self.0,
                    request.as_mut_ptr(),
                )
            },
            "MPI_Isend",
        )?;
        // SAFETY: MPI_Isend succeeded and wrote the request.
        Ok(Pending(unsafe { request.assume_init() }))
    }
}

impl Probed {
    /// Receives the message into `buf`, which must be exactly its length.
    pub(crate) fn receive(mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() != self.len {
            return Err(io::Error::other("a receive buffer of the wrong length"));
        }
        self.receive_into(buf)
    }

    /// Receives the whole message as a new vector.
    pub(crate) fn receive_vec(self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; self.len];
        self.receive(&mut buf)?;
        Ok(buf)
    }

    /// Receives the message and throws it away.
    ///
    /// The message is received whole, into a buffer of its length: a
    /// truncating receive (into an empty buffer) would spare the
    /// allocation, but Open MPI 4.1 ignores the truncation when it copies a
    /// large message straight from the sender's memory (CMA), and writes
    /// past the buffer. Every message thrown away is within the limit of the
    /// pool it was meant for.
    pub(crate) fn discard(mut self) -> io::Result<()> {
        self.discard_now()
    }

    fn discard_now(&mut self) -> io::Result<()> {
        let mut sink = vec![0u8; self.len];
        self.receive_into(&mut sink)
    }

    fn receive_into(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let count = c_int::try_from(buf.len()).expect("a probed length fits");
        // SAFETY: `buf` holds `count` bytes, the whole message; the message
        // was matched by a probe and is received once (MPI resets the
        // handle to MPI_MESSAGE_NULL).
        let rc = unsafe {
            ffi::MPI_Mrecv(
                buf.as_mut_ptr().cast::<c_void>(),
                count,
                byte(),
                &mut self.message,
                ffi::RSMPI_STATUS_IGNORE,
            )
        };
        check(rc, "MPI_Mrecv")
    }
}

impl Drop for Probed {
    fn drop(&mut self) {
        // SAFETY: a constant.
        if self.message != unsafe { ffi::RSMPI_MESSAGE_NULL } {
            let _ = self.discard_now();
        }
    }
}

impl Pending {
    /// Whether the send has completed (its buffer may then be released).
    pub(crate) fn test(&mut self) -> io::Result<bool> {
        let mut flag: c_int = 0;
        check(
            // SAFETY: an active request from MPI_Isend; a completed one is set
            // to MPI_REQUEST_NULL by MPI and not tested again by callers.
            unsafe { ffi::MPI_Test(&mut self.0, &mut flag, ffi::RSMPI_STATUS_IGNORE) },
            "MPI_Test",
        )?;
        Ok(flag != 0)
    }
}
