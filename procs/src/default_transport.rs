//! The transport the enabled features choose, and its registration as the
//! default of every pool built without an explicit transport.

#[cfg(feature = "pipe")]
mod chosen {
    /// The transport used when none is given: [`PipeTransport`](crate::PipeTransport)
    /// with the `pipe` feature (the default).
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

#[cfg(not(feature = "pipe"))]
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

#[cfg(feature = "pipe")]
#[procs_core::__private::linkme::distributed_slice(procs_core::__private::DEFAULT_TRANSPORT)]
#[linkme(crate = procs_core::__private::linkme)]
static DEFAULT: fn(crate::Builder) -> crate::Builder =
    |builder| builder.transport(DefaultTransport::default());
