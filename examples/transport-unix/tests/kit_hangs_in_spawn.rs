//! The kit ends, with the check's name and the likely cause, on a
//! transport whose `spawn` waits for the worker to connect (a bug the kit
//! once hung on, printing nothing).

#[path = "broken/listening.rs"]
mod listening;

use listening::{ACCEPT_IN_SPAWN, Listening};

procs_core::transport::register_transport!(Listening<ACCEPT_IN_SPAWN>);

#[test]
#[should_panic(expected = "worker_exits_before_connecting: did not finish within 15s")]
fn kit_fails_instead_of_hanging() {
    procs_core::testkit::worker_exits_before_connecting(&Listening::<ACCEPT_IN_SPAWN>);
}
