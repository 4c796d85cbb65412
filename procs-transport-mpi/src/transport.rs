//! The pool's view: the worker ranks to attach to.

use std::fmt;

use procs_core::BoxError;
use procs_core::transport::Attach;

use crate::launch::launched;
use crate::link::{self, MpiChannel};
use crate::runtime::runtime;

/// The worker ranks of the MPI job this process is rank 0 of, for a pool to
/// [attach](procs_core::Builder::attach) to: one pool slot per rank 1 to
/// N−1.
///
/// Despite its name it is not a [`Transport`](procs_core::transport::Transport):
/// procs does not start MPI ranks, the launcher does, so it implements
/// [`Attach`] (a way to reach workers something else started). The name
/// follows what users pick it for: the transport of their calls.
///
/// With the `procs` facade's `mpi` feature, the default pool (the one
/// behind `procs::call` and `procs::pmap`, and `Pool::builder()` without a
/// transport) attaches to the ranks on its own when the program runs under
/// `mpirun`; name `MpiTransport` only to build a pool explicitly. Any number
/// of pools may be attached at once: a worker rank serves them all, one
/// request at a time.
///
/// The pool did not start the ranks and cannot kill or replace them, so it
/// refuses [`timeout`](procs_core::Builder::timeout) and
/// [`max_tasks_per_worker`](procs_core::Builder::max_tasks_per_worker),
/// [`workers`](procs_core::Builder::workers) must be left out or equal the
/// number of worker ranks, and a per-call
/// [`Proc::timeout`](procs_core::Proc::timeout) is not enforced (the call
/// runs to its end).
///
/// # Examples
///
/// Run with `mpirun -np 4 ./app`: rank 0 runs `main`, ranks 1 to 3 run the
/// calls.
///
/// ```no_run
/// use procs_core::Pool;
/// use procs_transport_mpi::MpiTransport;
///
/// #[procs_derive::remote(crate = ::procs_core)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), procs_core::Error> {
///     let pool = Pool::builder().attach(MpiTransport::new()?).build()?;
///     assert_eq!(pool.workers(), 3);
///     let squares: Vec<u64> = pool.pmap(square, 0..100u64).collect::<Result<_, _>>()?;
///     assert_eq!(squares[9], 81);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MpiTransport {
    size: i32,
}

impl MpiTransport {
    /// The worker ranks of this job, on rank 0.
    ///
    /// # Errors
    ///
    /// [`NotLaunched`] when the program was not started by an MPI launcher
    /// (`mpirun`, `mpiexec`, `srun`), when MPI could not be set up before
    /// `main`, or on a worker rank (only rank 0 runs pools).
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_transport_mpi::MpiTransport;
    ///
    /// match MpiTransport::new() {
    ///     Ok(mpi) => println!("{} worker ranks", procs_core::transport::Attach::workers(&mpi)),
    ///     Err(not_launched) => println!("local workers only: {not_launched}"),
    /// }
    /// ```
    pub fn new() -> Result<MpiTransport, NotLaunched> {
        let Some(runtime) = runtime() else {
            return Err(NotLaunched {
                why: if launched() {
                    Why::NotSetUp
                } else {
                    Why::NoLauncher
                },
            });
        };
        if runtime.rank != 0 {
            return Err(NotLaunched {
                why: Why::WorkerRank(runtime.rank),
            });
        }
        Ok(MpiTransport { size: runtime.size })
    }
}

impl Attach for MpiTransport {
    type Channel = MpiChannel;
    const NAME: &'static str = "mpi";

    /// The number of ranks but rank 0.
    fn workers(&self) -> usize {
        usize::try_from(self.size - 1).unwrap_or(0)
    }

    /// Opens a link to rank `index + 1`; the rank answers with its greeting
    /// on it.
    fn attach(&self, index: usize, max_message_size: usize) -> Result<MpiChannel, BoxError> {
        let rank = i32::try_from(index + 1)
            .ok()
            .filter(|&rank| rank < self.size)
            .ok_or_else(|| {
                format!(
                    "no worker rank {}: the job has {} ranks",
                    index + 1,
                    self.size
                )
            })?;
        Ok(link::attach(rank, self.size, max_message_size)?)
    }
}

/// Why [`MpiTransport::new`] found no worker ranks.
///
/// Converts into [`procs_core::Error::Spawn`] with `?`.
///
/// # Examples
///
/// ```
/// use procs_transport_mpi::MpiTransport;
///
/// if let Err(error) = MpiTransport::new() {
///     // e.g. "this program was not launched by mpirun ..."
///     eprintln!("{error}");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct NotLaunched {
    why: Why,
}

#[derive(Debug, Clone, Copy)]
enum Why {
    NoLauncher,
    NotSetUp,
    WorkerRank(i32),
}

impl fmt::Display for NotLaunched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.why {
            Why::NoLauncher => f.write_str(
                "this program was not launched by mpirun (or mpiexec, srun): there are no MPI \
                 ranks to attach to; start it with `mpirun -np N ./program`, or use a local \
                 transport",
            ),
            Why::NotSetUp => f.write_str(
                "this program was launched by an MPI launcher, but procs did not set up MPI \
                 before main (see the message printed at start-up)",
            ),
            Why::WorkerRank(rank) => write!(
                f,
                "this is MPI worker rank {rank}: only rank 0 runs pools, the other ranks serve them"
            ),
        }
    }
}

impl std::error::Error for NotLaunched {}

impl From<NotLaunched> for procs_core::Error {
    fn from(error: NotLaunched) -> procs_core::Error {
        procs_core::Error::Spawn(Box::new(error))
    }
}
