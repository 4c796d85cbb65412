//! The kit fails a copy of the example transport whose `connect` leaves
//! the worker's end inheritable, so that a process the user's code starts
//! holds the link after the worker dies.

#[path = "broken/unix.rs"]
mod unix;

use unix::{Broken, INHERITABLE_IN_WORKER};

procs_core::transport::register_transport!(Broken<INHERITABLE_IN_WORKER>);

#[test]
#[should_panic(expected = "grandchild_holds_nothing")]
fn a_link_inherited_by_grandchildren_fails_grandchild_holds_nothing() {
    procs_core::testkit::grandchild_holds_nothing(&Broken::<INHERITABLE_IN_WORKER>);
}
