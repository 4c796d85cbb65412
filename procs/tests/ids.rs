//! Issue 12.6: same-named `#[remote]` functions nested in different
//! functions of one module share a default ID (`module_path!()` does not
//! name the enclosing function); each still runs, under its own wire ID.

use procs::{Error, Pool, Proc, call, pmap, proc, remote};

#[remote]
fn solo() -> u32 {
    0
}

/// A proc of the first nested `helper`, and the line of its `#[remote]`.
fn first(x: u32) -> (Proc<u32>, u32) {
    let line = line!() + 1;
    #[remote]
    fn helper(x: u32) -> u32 {
        x + 1
    }
    (proc!(helper(x)), line)
}

/// The second nested `helper`: same module, same name, another result.
fn second(x: u32) -> (Proc<u32>, u32) {
    let line = line!() + 1;
    #[remote]
    fn helper(x: u32) -> u32 {
        x + 2
    }
    (proc!(helper(x)), line)
}

/// `pmap` over the second `helper`, which only its own function can name.
fn second_over(items: Vec<u32>) -> Result<Vec<u32>, Error> {
    #[remote]
    fn helper(x: u32) -> u32 {
        x * 10
    }
    pmap(helper, items).collect()
}

#[test]
fn nested_functions_of_one_name_each_run_their_own() {
    let ((a, _), (b, _)) = (first(10), second(10));
    let (a, b) = call((a, b));
    assert_eq!((a.unwrap(), b.unwrap()), (11, 12));

    assert_eq!(second_over(vec![1, 2, 3]).unwrap(), [10, 20, 30]);

    // An explicit pool as well, where the global one might hide a check.
    let pool = Pool::builder().workers(1).build().unwrap();
    assert_eq!(pool.call(first(1).0).unwrap(), 2);
    assert_eq!(pool.call(second(1).0).unwrap(), 3);
}

#[test]
fn shared_default_ids_carry_their_location_and_unique_ones_do_not_change() {
    let ((a, line_a), (b, line_b)) = (first(0), second(0));
    let located = |line| format!("ids::helper@{}:{line}:5", file!());
    assert_eq!(a.id(), Some(located(line_a).as_str()));
    assert_eq!(b.id(), Some(located(line_b).as_str()));
    // The ID that nothing else declares stays `module_path::name`.
    assert_eq!(proc!(solo()).id(), Some("ids::solo"));
    assert_eq!(call(proc!(solo())).unwrap(), 0);
}

#[test]
fn the_shared_path_alone_names_no_function() {
    let by_path: Proc<u32> = Proc::by_id("ids::helper", (1u32,));
    match call(by_path) {
        Err(Error::UnknownFunction { id, known }) => {
            assert_eq!(id, "ids::helper");
            let helpers = known.iter().filter(|k| k.starts_with("ids::helper@"));
            assert_eq!(helpers.count(), 3, "{known:?}");
        }
        other => panic!("expected UnknownFunction, got {other:?}"),
    }
}
