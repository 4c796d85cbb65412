//! MPI's life in this process: initialized by a constructor before `main`
//! when an MPI launcher started the process, finalized at exit.
//!
//! Rank 0 returns from the constructor and runs `main`; every other rank
//! serves calls until rank 0 closes it, and never returns. At exit
//! (`atexit`), rank 0 closes every worker rank, waits for each to confirm,
//! and finalizes; a worker rank, having confirmed, finalizes too. MPI's
//! finalize waits for every rank, so both must happen.

use std::ffi::c_int;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use mpi::Threading;
use mpi::environment::Universe;
use mpi::traits::Communicator;

use crate::backoff;
use crate::launch::launched;
use crate::link::{self, TAG_CLOSE, TAG_CLOSED, WorkerLink};
use crate::ops::{self, Comm, Pending};

/// The job's exit status (through `MPI_Abort`) when MPI cannot be set up
/// for procs before `main`: the library lacks `MPI_THREAD_MULTIPLE`, or
/// procs' communicator cannot be made. A message on stderr says which.
///
/// # Examples
///
/// ```
/// let status = std::process::ExitStatus::default(); // as from `mpirun`
/// if status.code() == Some(procs_transport_mpi::EXIT_MPI_SETUP) {
///     eprintln!("MPI could not be set up for procs; see the job's stderr");
/// }
/// ```
pub const EXIT_MPI_SETUP: i32 = 119;

/// The job's exit status (through `MPI_Abort`) when a worker rank exits
/// before rank 0 closed it: a task called `std::process::exit`, or the
/// rank's link to rank 0 broke. MPI cannot go on without one of its ranks,
/// so the whole job ends; a message on stderr names the rank.
///
/// # Examples
///
/// ```
/// let status = std::process::ExitStatus::default(); // as from `mpirun`
/// if status.code() == Some(procs_transport_mpi::EXIT_WORKER_LEFT) {
///     eprintln!("a worker rank left the job; see the job's stderr");
/// }
/// ```
pub const EXIT_WORKER_LEFT: i32 = 118;

/// After this long waiting at exit for worker ranks still running tasks,
/// rank 0 says so on stderr (once), then keeps waiting.
const SLOW_CLOSE: Duration = Duration::from_secs(10);

/// What the constructor set up.
pub(crate) struct Runtime {
    /// procs' own duplicate of `MPI_COMM_WORLD`.
    pub(crate) comm: Comm,
    pub(crate) rank: c_int,
    pub(crate) size: c_int,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Kept for the process's life; dropping it finalizes MPI.
static UNIVERSE: Mutex<Option<Universe>> = Mutex::new(None);

/// Where the process is in MPI's life. Every MPI call of the transport is
/// made under a read lock of this, so finalizing (under the write lock)
/// never races a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Rank 0 is exiting: it is closing the workers, and no new link or
    /// request may start.
    Closing,
    /// MPI is finalized (the process is exiting): no call may be made.
    Finalized,
}

static PHASE: RwLock<Phase> = RwLock::new(Phase::Running);

/// Set on a worker rank when rank 0 closed it: its exit is then the
/// normal end of the job.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// The runtime, when this process is a rank of an MPI job that procs set
/// up.
pub(crate) fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Marks this worker rank closed by rank 0.
pub(crate) fn set_closed() {
    CLOSED.store(true, Ordering::SeqCst);
}

/// Whether an MPI operation starts something new (a link, a request) or
/// carries on with one already started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Start,
    Continue,
}

/// Permission to make MPI calls, held for their duration.
pub(crate) struct Entered {
    _phase: RwLockReadGuard<'static, Phase>,
    pub(crate) comm: &'static Comm,
}

/// Enters MPI for one short burst of calls.
///
/// Once MPI is finalized, the process is exiting: the calling thread
/// sleeps until it ends rather than touch MPI again.
pub(crate) fn enter(op: Op) -> io::Result<Entered> {
    let runtime = runtime().ok_or_else(|| io::Error::other("MPI is not set up by procs"))?;
    let phase = PHASE.read().unwrap_or_else(PoisonError::into_inner);
    match (*phase, op) {
        (Phase::Finalized, _) => {
            drop(phase);
            loop {
                std::thread::park();
            }
        }
        (Phase::Closing, Op::Start) => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the MPI job is shutting down: rank 0 is exiting",
        )),
        _ => Ok(Entered {
            _phase: phase,
            comm: &runtime.comm,
        }),
    }
}

/// Polls a started send until it completes, sleeping between polls.
pub(crate) fn wait_sent(mut pending: Pending) -> io::Result<()> {
    let mut backoff = backoff::backoff();
    loop {
        let entered = enter(Op::Continue)?;
        if pending.test()? {
            return Ok(());
        }
        drop(entered);
        backoff.wait();
    }
}

/// Sends `msg` to `dest` with `tag`, and waits (sleeping) until it is sent.
pub(crate) fn send(op: Op, dest: c_int, tag: c_int, msg: &[u8]) -> io::Result<()> {
    let entered = enter(op)?;
    // SAFETY: `msg` outlives the send: `wait_sent` returns only when it has
    // completed (or when the request failed, which ends it).
    let pending = unsafe { entered.comm.start_send(dest, tag, msg) }?;
    drop(entered);
    wait_sent(pending)
}

// SAFETY (of running before main): the function reads the environment and
// initializes MPI while the process is single-threaded; on rank 0 it then
// returns, on the other ranks it serves calls and never returns (as procs'
// own worker entry does).
#[ctor::ctor(unsafe)]
fn start_before_main() {
    if launched() {
        start();
    }
}

fn start() {
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Multiple) else {
        eprintln!(
            "procs-transport-mpi: MPI was initialized before procs' constructor ran; \
             procs initializes MPI itself: let it (do not call MPI_Init), and procs pools \
             will attach to the other ranks"
        );
        return;
    };
    let world = universe.world();
    if threading != Threading::Multiple {
        eprintln!(
            "procs-transport-mpi: the MPI library provides {threading:?} threading, but procs \
             needs MPI_THREAD_MULTIPLE (every pool thread talks to its own rank); use an MPI \
             built with thread support (Open MPI: --enable-mpi-thread-multiple, the default \
             since 3.0; MPICH: the default)"
        );
        world.abort(EXIT_MPI_SETUP);
    }
    let set_up = Comm::duplicate_world().and_then(|comm| {
        let (rank, size) = comm.rank_and_size()?;
        Ok(Runtime { comm, rank, size })
    });
    let runtime = match set_up {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("procs-transport-mpi: cannot set up procs' communicator: {error}");
            world.abort(EXIT_MPI_SETUP);
        }
    };
    let rank = runtime.rank;
    if RUNTIME.set(runtime).is_err() {
        return;
    }
    *UNIVERSE.lock().unwrap_or_else(PoisonError::into_inner) = Some(universe);
    // SAFETY: registers a plain `extern "C"` function that never unwinds.
    if unsafe { libc::atexit(finish) } != 0 {
        eprintln!("procs-transport-mpi: cannot register the exit handler that finalizes MPI");
        world.abort(EXIT_MPI_SETUP);
    }
    if rank != 0 {
        procs_core::transport::serve(WorkerLink::new(), link::WORKER_MAX_MESSAGE);
    }
}

/// Runs at exit on every rank: rank 0 closes the workers; then MPI is
/// finalized.
extern "C" fn finish() {
    let Some(runtime) = runtime() else {
        return;
    };
    if runtime.rank == 0 {
        if let Err(error) = close_workers(runtime) {
            eprintln!("procs-transport-mpi: rank 0 cannot close the worker ranks: {error}");
            mpi::topology::SimpleCommunicator::world().abort(EXIT_WORKER_LEFT);
        }
    } else if !CLOSED.load(Ordering::SeqCst) {
        eprintln!(
            "procs-transport-mpi: worker rank {} is exiting although rank 0 did not close it \
             (a task called `exit`, or the link to rank 0 broke); aborting the MPI job",
            runtime.rank
        );
        mpi::topology::SimpleCommunicator::world().abort(EXIT_WORKER_LEFT);
    }
    let mut phase = PHASE.write().unwrap_or_else(PoisonError::into_inner);
    *phase = Phase::Finalized;
    // Dropping the universe finalizes MPI.
    drop(
        UNIVERSE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(),
    );
}

/// Tells every worker rank to stop and waits until each confirms,
/// throwing away whatever else they send meanwhile (answers to calls that
/// nobody waits for any more, which a worker must be able to send before it
/// can read the close).
fn close_workers(runtime: &Runtime) -> io::Result<()> {
    *PHASE.write().unwrap_or_else(PoisonError::into_inner) = Phase::Closing;
    let workers = usize::try_from(runtime.size.max(1) - 1).unwrap_or(0);
    let close = [0u8; 0];
    let mut sends = Vec::with_capacity(workers);
    for rank in 1..runtime.size {
        // SAFETY: `close` outlives the sends: they complete in the loop
        // below before this function returns (or the process aborts).
        sends.push(unsafe { runtime.comm.start_send(rank, TAG_CLOSE, &close) }?);
    }
    let mut open = vec![true; workers];
    let mut backoff = backoff::backoff();
    let started = Instant::now();
    let mut told = false;
    while !sends.is_empty() || open.iter().any(|&o| o) {
        let mut progress = false;
        let mut still = Vec::with_capacity(sends.len());
        for mut send in sends {
            if send.test()? {
                progress = true;
            } else {
                still.push(send);
            }
        }
        sends = still;
        while let Some(probed) = runtime.comm.probe(ops::any_source(), ops::any_tag())? {
            progress = true;
            let closed = probed.tag == TAG_CLOSED;
            let source = usize::try_from(probed.source - 1).ok();
            probed.discard()?;
            if let (true, Some(index)) = (closed, source) {
                if let Some(slot) = open.get_mut(index) {
                    *slot = false;
                }
            }
        }
        if progress {
            backoff = backoff::backoff();
            continue;
        }
        if !told && started.elapsed() > SLOW_CLOSE {
            told = true;
            eprintln!(
                "procs-transport-mpi: rank 0 is exiting and waits for {} worker rank(s) to \
                 finish the tasks they are running",
                open.iter().filter(|&&o| o).count()
            );
        }
        backoff.wait();
    }
    Ok(())
}
