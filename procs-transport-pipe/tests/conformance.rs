//! The transport conformance kit, run against the pipe transport.

use procs_transport_pipe::PipeTransport;

#[test]
fn conformance() {
    procs_core::testkit::conformance(PipeTransport::default());
}
