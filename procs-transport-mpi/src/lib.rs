//! [procs](https://docs.rs/procs) over MPI: under `mpirun`, rank 0 runs
//! `main` and the other ranks serve its `#[remote]` calls, on as many hosts
//! as the job spans.
//!
//! Functions are found by stable ID, so a worker needs the same binary, not
//! to be the caller's child: `mpirun -np 64 --hostfile hosts ./app` starts
//! 64 copies, and procs makes one of them the caller and 63 of them workers.
//!
//! # How it works
//!
//! - **Before `main`**, a constructor looks for an MPI launch in the
//!   environment ([`launched`]). If there is none, it does nothing at all:
//!   MPI is not even initialized, and the program runs as it would without
//!   this crate. Under a launcher, it initializes MPI with
//!   `MPI_THREAD_MULTIPLE` (the job is aborted with a clear message if the
//!   library cannot provide it); then rank 0 returns and runs `main`, and
//!   every other rank enters procs' worker loop
//!   ([`procs_core::transport::serve`]) and never returns: the program needs no rank
//!   check.
//! - **Pools on rank 0 attach** to ranks 1 to N−1 with [`MpiTransport`];
//!   with the `procs` facade's `mpi` feature the default pool does so by
//!   itself. Several pools may be attached at once; a worker rank serves
//!   them one request at a time.
//! - **At exit** (`main` returns, or `std::process::exit` on rank 0), rank
//!   0 tells every worker rank to stop, waits until each confirms, and
//!   finalizes MPI; the worker ranks exit with status 0 and finalize too.
//!
//! Messages travel on procs' own duplicate of `MPI_COMM_WORLD`, so a
//! program that also uses MPI itself (through `mpi::topology::SimpleCommunicator::world()`
//! on rank 0, say) never mixes its messages with procs'. Each message is
//! one MPI message of at most 2 GiB − 1 bytes (MPI counts are C `int`s).
//!
//! # Waiting costs no CPU
//!
//! A blocking `MPI_Recv` spins in Open MPI and MPICH: on a 2-core machine,
//! `mpirun -np 3` would leave the two worker ranks one core between them.
//! This crate never blocks in MPI: it polls (`MPI_Improbe`, `MPI_Test`),
//! yielding the core between polls for the first 50 µs of a wait, then
//! sleeping between them, 20 µs at first and doubling to 1 ms. A quick
//! answer is seen within microseconds; a rank that waits long uses a
//! fraction of a percent of a core, at the price of up to a millisecond of
//! latency on a link that was idle (about 0.1 ms per call on one host,
//! against tens of microseconds for local pipes).
//!
//! # Failures
//!
//! - **A panic** in a function is an ordinary task error
//!   ([`procs_core::Error::Panicked`]), with its message and location; the
//!   rank goes on serving.
//! - **A rank that dies** (abort, segfault, a signal) takes the whole job
//!   with it: by default Open MPI's `mpirun` (tested: 4.1) and MPICH's
//!   `mpiexec` (not tested) kill every other rank, rank 0 included, and exit
//!   with a non-zero status (134 for an abort under Open MPI), printing
//!   which rank died and how. Rank 0 never gets to report the task
//!   as an error, and no other task's result comes back. Isolating crashes
//!   needs procs' local transports (`pipe`, `ipc`), which replace a dead
//!   worker; under MPI, run crash-prone work in a child process of its own
//!   from the function (a worker rank cannot start procs pools).
//! - **A task that calls `std::process::exit`** on a worker rank ends the
//!   job the same way: the rank aborts it with `MPI_Abort` and status
//!   [`EXIT_WORKER_LEFT`] (a rank cannot leave an MPI job alone).
//! - **Rank 0 panicking** in `main` exits as usual (status 101): its exit
//!   handler still closes the worker ranks, so the job ends and `mpirun`
//!   reports rank 0's status.
//! - **Not supported** with attached workers, since procs cannot kill or
//!   replace a rank: a pool deadline (`Builder::timeout`) and worker
//!   recycling (`max_tasks_per_worker`) are refused by
//!   [`Builder::build`](procs_core::Builder::build); a call with its own
//!   deadline (`Proc::timeout`) fails with `Error::InvalidSetting`, and a
//!   call whose results are dropped runs to its end on its rank.
//!
//! # Examples
//!
//! With the `procs` facade's `mpi` feature (`procs = { version = "0.1",
//! features = ["mpi"] }`), the program is an ordinary procs program; run it
//! with `mpirun -np 4 ./app` to use ranks 1 to 3, or without `mpirun` to use
//! local worker processes:
//!
//! ```no_run
//! use procs::{pmap, remote};
//!
//! #[remote]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() -> Result<(), procs::Error> {
//!     procs::init();
//!     let squares: Vec<u64> = pmap(square, 0..100u64).collect::<Result<_, _>>()?;
//!     assert_eq!(squares[9], 81);
//!     Ok(())
//! }
//! ```
//!
//! Without the facade, attach explicitly; see [`MpiTransport`].
//!
//! `docs/cluster.md` in the repository covers running on several hosts.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(rustdoc::broken_intra_doc_links)]

mod backoff;
mod launch;
mod link;
mod ops;
mod runtime;
mod transport;

pub use launch::launched;
pub use link::MpiChannel;
pub use runtime::{EXIT_MPI_SETUP, EXIT_WORKER_LEFT};
pub use transport::{MpiTransport, NotLaunched};

/// This process's rank in the MPI job, when procs set MPI up (the program
/// was [`launched`] by an MPI launcher); `None` otherwise.
///
/// Rank 0 runs `main`; a `#[remote]` function sees the rank of the worker
/// running it.
///
/// # Examples
///
/// ```
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn where_am_i() -> Option<usize> {
///     procs_transport_mpi::rank()
/// }
///
/// // Outside mpirun there is no rank.
/// assert_eq!(procs_transport_mpi::rank(), None);
/// ```
pub fn rank() -> Option<usize> {
    runtime::runtime().and_then(|r| usize::try_from(r.rank).ok())
}

/// The number of ranks in the MPI job, rank 0 included, when procs set MPI
/// up; `None` otherwise.
///
/// # Examples
///
/// ```
/// match procs_transport_mpi::world_size() {
///     Some(n) => println!("{} worker ranks", n - 1),
///     None => println!("not under mpirun"),
/// }
/// ```
pub fn world_size() -> Option<usize> {
    runtime::runtime().and_then(|r| usize::try_from(r.size).ok())
}
