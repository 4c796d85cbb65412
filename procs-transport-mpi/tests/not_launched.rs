//! Started without an MPI launcher (as `cargo test` runs it), the crate stays
//! out of the way: MPI is not initialized, the default pool of the `procs`
//! facade stays local, and an explicit MPI pool is a clear error.

use procs::{Error, Pool, call, proc, remote};
use procs_transport_mpi::{MpiTransport, launched, rank, world_size};

#[remote]
fn where_am_i() -> (Option<usize>, u32, bool) {
    (
        rank(),
        std::process::id(),
        mpi::environment::is_initialized(),
    )
}

/// Under `mpirun` these checks do not apply; the example `mpi_check` covers
/// that case.
fn skip() -> bool {
    if launched() {
        eprintln!("skipped: this test runs under an MPI launcher");
    }
    launched()
}

#[test]
fn mpi_is_not_initialized() {
    if skip() {
        return;
    }
    assert!(!mpi::environment::is_initialized());
    assert_eq!(rank(), None);
    assert_eq!(world_size(), None);
}

#[test]
fn an_explicit_mpi_pool_is_a_clear_error() {
    if skip() {
        return;
    }
    let not_launched = MpiTransport::new().expect_err("no MPI job");
    let message = not_launched.to_string();
    assert!(message.contains("not launched by mpirun"), "{message}");
    let error: Error = not_launched.into();
    assert!(matches!(error, Error::Spawn(_)), "{error:?}");
    let built = (|| Pool::builder().attach(MpiTransport::new()?).build())();
    assert!(matches!(built, Err(Error::Spawn(_))), "{built:?}");
}

#[test]
fn the_default_pool_stays_local() {
    if skip() {
        return;
    }
    let (rank, pid, initialized) = call(proc!(where_am_i())).unwrap();
    assert_eq!(rank, None);
    assert_ne!(pid, std::process::id());
    assert!(!initialized, "a local worker initialized MPI");
    assert!(!mpi::environment::is_initialized());
}
