//! A third-party transport made the default: the free `call` and
//! `Pool::builder()` use it, ahead of the facade's own default (`pipe`,
//! enabled here).

use procs::proc;
use procs_transport_tcp_example::TcpTransport;

procs::transport::register_default_transport!(TcpTransport::default());

/// Whether this worker was reached over the TCP transport (its address
/// variable stays; the token is removed).
#[procs::remote]
fn over_tcp() -> bool {
    std::env::var_os("PROCS_TCP_ADDR").is_some() && std::env::var_os("PROCS_TCP_TOKEN").is_none()
}

#[test]
fn free_functions_and_builders_use_the_registered_default() {
    assert!(procs::call(proc!(over_tcp())).unwrap());
    let pool = procs::Pool::builder().workers(1).build().unwrap();
    assert!(pool.call(proc!(over_tcp())).unwrap());
}
