//! Whether an MPI launcher started this process, from its environment.

/// Variables an MPI launcher sets in every process it starts: Open MPI's
/// `mpirun`, MPICH's Hydra `mpiexec` (and other PMI launchers such as
/// `srun --mpi=pmi2`), and PMIx launchers (Open MPI 5, `srun --mpi=pmix`).
const LAUNCHER_VARIABLES: [&str; 5] = [
    "OMPI_COMM_WORLD_SIZE",
    "OMPI_COMM_WORLD_RANK",
    "PMI_SIZE",
    "PMI_RANK",
    "PMIX_RANK",
];

/// What procs-core sets in a worker it spawned itself (the `pipe` and `ipc`
/// transports). Such a child of an MPI rank inherits the launcher's
/// variables but is not a rank.
const PROCS_WORKER: &str = "PROCS_WORKER";

/// Whether this process was started by an MPI launcher (`mpirun`,
/// `mpiexec`, `srun`) as one rank of a job.
///
/// Looks at the environment only: `OMPI_COMM_WORLD_SIZE` or
/// `OMPI_COMM_WORLD_RANK` (Open MPI), `PMI_SIZE` or `PMI_RANK` (MPICH's
/// Hydra and other PMI launchers), `PMIX_RANK` (PMIx launchers). A worker
/// that a local procs pool spawned (it inherits those variables from its
/// rank) is not a launch. When this is `true`, the crate's constructor has
/// initialized MPI before `main`, and every rank but 0 is serving calls.
///
/// # Examples
///
/// ```
/// if procs_transport_mpi::launched() {
///     println!("rank 0 of an MPI job");
/// } else {
///     println!("a plain process; pools use local workers");
/// }
/// ```
pub fn launched() -> bool {
    launched_in(|name| std::env::var_os(name).is_some())
}

/// [`launched`], given which environment variables are set.
fn launched_in(is_set: impl Fn(&str) -> bool) -> bool {
    !is_set(PROCS_WORKER) && LAUNCHER_VARIABLES.iter().any(|name| is_set(name))
}

#[cfg(test)]
mod tests {
    use super::launched_in;

    fn with(vars: &[&str]) -> bool {
        launched_in(|name| vars.contains(&name))
    }

    #[test]
    fn each_launcher_is_recognized() {
        assert!(!with(&[]));
        assert!(with(&["OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"]));
        assert!(with(&["PMI_SIZE", "PMI_RANK"]));
        assert!(with(&["PMIX_RANK"]));
        assert!(!with(&["PATH", "HOME"]));
    }

    #[test]
    fn a_local_worker_of_a_rank_is_not_a_launch() {
        assert!(!with(&["OMPI_COMM_WORLD_SIZE", "PROCS_WORKER"]));
        assert!(!with(&["PMI_RANK", "PMIX_RANK", "PROCS_WORKER"]));
    }
}
