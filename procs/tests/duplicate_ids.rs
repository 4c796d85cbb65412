//! Issue 12.6: an ID shared by two `#[remote]` functions that the build
//! cannot catch: a pinned ID equal to another function's default ID (two
//! pinned ones do not even link, see `tests/ui/duplicate-pinned-id.rs`). The
//! registry is the whole binary's, so every pool of this test binary refuses
//! to start; that is why this test has a binary of its own.

use procs::{Error, Pool, call, pmap, proc, remote};

mod a {
    pub(crate) const LINE: u32 = line!() + 1;
    #[procs::remote]
    pub(crate) fn resize(x: u32) -> u32 {
        x
    }
}

mod b {
    pub(crate) const LINE: u32 = line!() + 1;
    #[procs::remote(id = "duplicate_ids::a::resize")]
    pub(crate) fn resize(x: u32) -> u32 {
        x * 2
    }
}

/// Innocent, yet refused too: it would run in the same workers.
#[remote]
fn unique() -> u32 {
    1
}

fn assert_names_both(error: &Error) {
    let Error::DuplicateId { id, definitions } = error else {
        panic!("expected DuplicateId, got {error:?}");
    };
    assert_eq!(id, "duplicate_ids::a::resize");
    let seen: Vec<(&str, &str, u32, u32)> = definitions
        .iter()
        .map(|(path, at)| (path.as_str(), at.file.as_str(), at.line, at.column))
        .collect();
    assert_eq!(
        seen,
        [
            ("duplicate_ids::a::resize", file!(), a::LINE, 5),
            ("duplicate_ids::b::resize", file!(), b::LINE, 5),
        ]
    );
}

#[test]
fn an_explicit_pool_refuses_to_start_naming_both_definitions() {
    let error = Pool::builder().workers(1).build().unwrap_err();
    assert_names_both(&error);
    assert_eq!(
        error.to_string(),
        format!(
            "remote function id `duplicate_ids::a::resize` is registered more than once \
             (`duplicate_ids::a::resize` at {file}:{a}:5, `duplicate_ids::b::resize` at {file}:{b}:5); \
             give each its own `#[remote(id = \"...\")]`",
            file = file!(),
            a = a::LINE,
            b = b::LINE,
        )
    );
}

#[test]
fn every_call_on_the_global_pool_yields_the_error_before_running() {
    assert_names_both(&call(proc!(a::resize(1))).unwrap_err());
    assert_names_both(&call(proc!(unique())).unwrap_err());
    let results: Vec<_> = pmap(b::resize, [1, 2]).collect();
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_names_both(result.as_ref().unwrap_err());
    }
}
