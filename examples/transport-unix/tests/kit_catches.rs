//! The kit fails deliberately broken copies of the example transport,
//! naming the check that caught each planted bug. (Checks that a broken
//! transport makes hang have test binaries of their own: a stuck check
//! keeps the rest of its process's checks from running.)

#[path = "broken/listening.rs"]
mod listening;
#[path = "broken/unix.rs"]
mod unix;

use listening::{INHERITABLE_ACCEPT, Listening};
use unix::{Broken, IGNORES_LIMIT, OPAQUE_ERRORS};

procs_core::transport::register_transport!(Listening<INHERITABLE_ACCEPT>);
procs_core::transport::register_transport!(Broken<IGNORES_LIMIT>);
procs_core::transport::register_transport!(Broken<OPAQUE_ERRORS>);

#[test]
#[should_panic(
    expected = "-byte message with a limit of 128 bytes: `recv` must check the length against `max_message_size` before allocating"
)]
fn a_recv_that_ignores_its_limit_fails_hostile_sizes() {
    procs_core::testkit::hostile_sizes(&Broken::<IGNORES_LIMIT>);
}

#[test]
#[should_panic(expected = "which `Channel::fault` does not call `Fault::Protocol`")]
fn an_error_type_that_hides_the_fault_fails_hostile_sizes() {
    procs_core::testkit::hostile_sizes(&Broken::<OPAQUE_ERRORS>);
}

#[test]
// Usually caught among the replacement workers only (the first four are
// all spawned before any link is accepted), sometimes already among the
// first four when the pool accepts one before spawning the next.
#[should_panic(expected = "leaked into it")]
fn an_inheritable_accepted_socket_fails_no_inherited_links() {
    procs_core::testkit::no_inherited_links(&Listening::<INHERITABLE_ACCEPT>);
}
