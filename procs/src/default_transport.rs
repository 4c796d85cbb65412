//! The transport the enabled features choose, and its registration as the
//! default of every pool built without an explicit transport.
//!
//! Order when several are enabled: `pipe`, then `ipc`. Enabling `ipc` next to
//! the default `pipe` only adds `IpcTransport`; it becomes the default when
//! `pipe` is off (`default-features = false`).
//!
//! The `mpi` feature comes before both, but only in a program an MPI
//! launcher started with worker ranks (`mpirun -np N`, N > 1): the pool then
//! attaches to them. Anywhere else the choice above stands.

#[cfg(feature = "pipe")]
mod chosen {
    /// The local transport a pool built without one uses: `PipeTransport`
    /// with the `pipe` feature (the default), else `IpcTransport` with the
    /// `ipc` feature. With the `mpi` feature, in a program an MPI launcher
    /// started with worker ranks, such a pool attaches to the ranks instead
    /// (`MpiTransport`) and this type is not used.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs::Pool::builder()
    ///     .transport(procs::DefaultTransport::default())
    ///     .build()?;
    /// # Ok::<(), procs::Error>(())
    /// ```
    pub type DefaultTransport = procs_transport_pipe::PipeTransport;
}

#[cfg(all(feature = "ipc", not(feature = "pipe")))]
mod chosen {
    /// The local transport a pool built without one uses: `PipeTransport`
    /// with the `pipe` feature (the default), else `IpcTransport` with the
    /// `ipc` feature. With the `mpi` feature, in a program an MPI launcher
    /// started with worker ranks, such a pool attaches to the ranks instead
    /// (`MpiTransport`) and this type is not used.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pool = procs::Pool::builder()
    ///     .transport(procs::DefaultTransport::default())
    ///     .build()?;
    /// # Ok::<(), procs::Error>(())
    /// ```
    pub type DefaultTransport = procs_transport_ipc::IpcTransport;
}

#[cfg(not(any(feature = "pipe", feature = "ipc")))]
mod chosen {
    /// No transport feature is enabled: pools need an explicit
    /// [`Builder::transport`](crate::Builder::transport).
    ///
    /// # Examples
    ///
    /// ```
    /// let _none: Option<procs::DefaultTransport> = None;
    /// ```
    #[derive(Debug)]
    pub enum DefaultTransport {}
}

pub use chosen::DefaultTransport;

#[cfg(any(feature = "pipe", feature = "ipc", feature = "mpi"))]
#[procs_core::__private::linkme::distributed_slice(procs_core::__private::DEFAULT_TRANSPORT)]
#[linkme(crate = procs_core::__private::linkme)]
static DEFAULT: fn(crate::Builder) -> crate::Builder = default_source;

/// The `mpi` feature first: under an MPI launcher with worker ranks, the
/// pool attaches to them; otherwise the local default transport, if any.
#[cfg(any(feature = "pipe", feature = "ipc", feature = "mpi"))]
fn default_source(builder: crate::Builder) -> crate::Builder {
    #[cfg(feature = "mpi")]
    if let Ok(mpi) = procs_transport_mpi::MpiTransport::new() {
        if procs_core::transport::Attach::workers(&mpi) > 0 {
            return builder.attach(mpi);
        }
    }
    local(builder)
}

#[cfg(any(feature = "pipe", feature = "ipc"))]
fn local(builder: crate::Builder) -> crate::Builder {
    builder.transport(DefaultTransport::default())
}

/// Only `mpi`, outside an MPI job: no transport (`Error::NoTransport`).
#[cfg(all(feature = "mpi", not(any(feature = "pipe", feature = "ipc"))))]
fn local(builder: crate::Builder) -> crate::Builder {
    builder
}
