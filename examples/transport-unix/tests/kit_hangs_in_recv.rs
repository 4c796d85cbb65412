//! The kit ends, with the check's name and the likely cause, on a
//! transport whose first `recv` blocks in `accept` without watching the
//! child (a bug the kit once hung on, printing nothing).

#[path = "broken/listening.rs"]
mod listening;

use listening::{ACCEPT_IN_RECV, Listening};

procs_core::transport::register_transport!(Listening<ACCEPT_IN_RECV>);

#[test]
#[should_panic(
    expected = "worker_exits_before_connecting: did not finish within 15s: waiting for a call on a pool whose worker exits before connecting"
)]
fn kit_fails_instead_of_hanging() {
    procs_core::testkit::worker_exits_before_connecting(&Listening::<ACCEPT_IN_RECV>);
}
