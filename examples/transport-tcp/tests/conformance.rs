//! The transport conformance kit, run against the TCP example transport.

use procs_transport_tcp_example::TcpTransport;

#[test]
fn conformance() {
    procs_core::testkit::conformance(TcpTransport::default());
}
