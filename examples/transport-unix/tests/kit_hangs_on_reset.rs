//! The kit ends, naming the check, on a copy of the example transport
//! whose `recv` takes a reset (or an end) for "no data yet" and polls on.

#[path = "broken/unix.rs"]
mod unix;

use unix::{Broken, RESET_IS_NO_DATA};

procs_core::transport::register_transport!(Broken<RESET_IS_NO_DATA>);

#[test]
#[should_panic(expected = "reset_ends_recv: did not finish within 30s")]
fn a_recv_that_waits_after_a_reset_fails_reset_ends_recv() {
    procs_core::testkit::reset_ends_recv(&Broken::<RESET_IS_NO_DATA>);
}
