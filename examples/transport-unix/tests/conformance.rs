//! The transport conformance kit, run against this example transport, as
//! every transport crate runs it.

use procs_transport_unix_example::UnixTransport;

#[test]
fn conformance() {
    procs_core::testkit::conformance(UnixTransport::default());
}
