//! The transport conformance kit, run against the ipc transport.

use procs_transport_ipc::IpcTransport;

#[test]
fn conformance() {
    procs_core::testkit::conformance(IpcTransport::default());
}
