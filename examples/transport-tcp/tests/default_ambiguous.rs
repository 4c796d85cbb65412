//! Two registered default transports: none is chosen, and building a pool
//! without a transport says so.

use procs_transport_tcp_example::TcpTransport;

procs_core::transport::register_default_transport!(TcpTransport::default());
procs_core::transport::register_default_transport!(TcpTransport::bind(
    std::net::Ipv4Addr::LOCALHOST.into()
));

#[test]
fn two_defaults_are_refused() {
    let err = procs_core::Pool::builder().build().unwrap_err();
    assert!(
        matches!(
            err,
            procs_core::Error::InvalidSetting {
                setting: "register_default_transport!",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("more than one crate registered a default transport")
    );
}
