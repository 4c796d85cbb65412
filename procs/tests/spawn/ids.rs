//! IDs, unknown and non-remote functions, settings and nesting refused.

use super::*;

#[test]
fn nested_module_function() {
    let p = proc!(outer::inner::shout("quiet".into()));
    assert_eq!(p.id(), Some("spawn::outer::inner::shout"));
    assert_eq!(call(p).unwrap(), "QUIET");

    let p = proc!(self::outer::inner::shout("x".into()));
    assert_eq!(call(p).unwrap(), "X");

    let got: Vec<String> = pmap(outer::inner::shout, ["a".to_string(), "b".to_string()])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, ["A", "B"]);
}
#[test]
fn default_id_is_module_path_and_name() {
    assert_eq!(proc!(add(1, 2)).id(), Some("spawn::add"));
    assert_eq!(proc!(forty_two()).id(), Some("spawn::forty_two"));
}
#[test]
fn pinned_id() {
    let p = proc!(pinned(5));
    assert_eq!(p.id(), Some(PINNED_ID));
    assert_eq!(call(p).unwrap(), -5);

    // The same function reached by its stable ID alone.
    let by_id: Proc<i32> = Proc::by_id(PINNED_ID, (9i32,));
    assert_eq!(by_id.id(), Some(PINNED_ID));
    assert_eq!(call(by_id).unwrap(), -9);
    // And a default ID too.
    assert_eq!(
        call(Proc::<u64>::by_id("spawn::add", (3u64, 4u64))).unwrap(),
        7
    );
}
#[test]
fn unknown_id_lists_the_known_ones() {
    let p: Proc<u64> = Proc::by_id("spawn::no_such_function", (1u64,));
    match call(p) {
        Err(Error::UnknownFunction { id, known }) => {
            assert_eq!(id, "spawn::no_such_function");
            for expected in [
                "spawn::add",
                "spawn::mix",
                "spawn::outer::inner::shout",
                PINNED_ID,
            ] {
                assert!(
                    known.iter().any(|k| k == expected),
                    "{expected} not in {known:?}"
                );
            }
            assert!(known.is_sorted(), "{known:?}");
        }
        other => panic!("expected UnknownFunction, got {other:?}"),
    }
    // The pool is not disturbed.
    assert_eq!(call(proc!(add(1, 1))).unwrap(), 2);
}
#[test]
fn unknown_id_error_message() {
    let err = call(Proc::<u64>::by_id("spawn::gone", ())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`spawn::gone`"), "{msg}");
    assert!(msg.contains("`spawn::add`"), "{msg}");
}
#[test]
fn non_remote_function_is_an_error_not_a_panic() {
    let p = proc!(not_remote(1));
    assert_eq!(p.id(), None);
    match call(p) {
        Err(Error::NotRemote { name }) => assert!(name.ends_with("not_remote"), "{name}"),
        other => panic!("expected NotRemote, got {other:?}"),
    }
    let msg = call(proc!(not_remote(1))).unwrap_err().to_string();
    assert!(
        msg.contains("not_remote") && msg.contains("#[remote]"),
        "{msg}"
    );

    // In a tuple, only its own position fails.
    let (a, b) = call((proc!(add(1, 2)), proc!(not_remote(3))));
    assert_eq!(a.unwrap(), 3);
    assert!(matches!(b, Err(Error::NotRemote { .. })), "{b:?}");

    // Through pmap, every item fails with it; none is lost.
    let got: Vec<_> = pmap(not_remote, 0..3).collect();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| matches!(r, Err(Error::NotRemote { .. }))),
        "{got:?}"
    );
}
#[test]
fn invalid_settings_are_errors() {
    for (builder, setting) in [
        (Pool::builder().workers(0), "workers"),
        (Pool::builder().window(0), "window"),
        (Pool::builder().max_message_size(0), "max_message_size"),
        (
            Pool::builder().max_tasks_per_worker(0),
            "max_tasks_per_worker",
        ),
    ] {
        match builder.build() {
            Err(Error::InvalidSetting { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("expected InvalidSetting for {setting}, got {other:?}"),
        }
    }
    let msg = Pool::builder().workers(0).build().unwrap_err().to_string();
    assert!(msg.contains("workers"), "{msg}");
}
#[test]
fn workers_never_start_pools_of_their_own() {
    let (built, called) = call(proc!(start_pools_inside_worker())).unwrap();
    assert_eq!(built, "InsideWorker");
    assert_eq!(called, "InsideWorker");
}
