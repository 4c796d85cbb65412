//! Wire IDs and duplicate reports, over hand-made registrations.

use std::any::TypeId;

use super::{Duplicate, Lookup, Registry, Remote};

const fn remote(path: &'static str, pinned_id: Option<&'static str>, line: u32) -> Remote {
    Remote {
        path,
        pinned_id,
        file: "src/app.rs",
        line,
        column: 5,
        signature: "fn() -> u32",
        type_id: TypeId::of::<()>,
        invoke: |_, _| Ok(()),
    }
}

static UNIQUE: Remote = remote("app::solo", None, 1);
static NESTED_A: Remote = remote("app::helper", None, 10);
static NESTED_B: Remote = remote("app::helper", None, 20);
static PINNED: Remote = remote("app::resize", Some("resize/v1"), 30);
static PINNED_TWIN: Remote = remote("app::other::resize", Some("resize/v1"), 40);
static PINNED_AS_PATH: Remote = remote("app::old", Some("app::solo"), 50);

fn ids(registry: &Registry) -> Vec<&'static str> {
    registry.entries.iter().map(|entry| entry.id).collect()
}

fn duplicate(registry: &Registry) -> (String, Vec<String>) {
    match registry.check() {
        Err(Duplicate { id, definitions }) => {
            let definitions = definitions
                .into_iter()
                .map(|(path, location)| format!("{path} {location}"))
                .collect();
            (id, definitions)
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

#[test]
fn unique_and_pinned_ids_stay_as_declared() {
    let registry = Registry::new([&UNIQUE, &PINNED]);
    assert_eq!(ids(&registry), ["app::solo", "resize/v1"]);
    assert!(registry.check().is_ok());
}

#[test]
fn shared_default_ids_get_their_locations() {
    let registry = Registry::new([&NESTED_A, &UNIQUE, &NESTED_B]);
    assert_eq!(
        ids(&registry),
        [
            "app::helper@src/app.rs:10:5",
            "app::solo",
            "app::helper@src/app.rs:20:5"
        ]
    );
    assert!(registry.check().is_ok());
    assert!(matches!(
        registry.lookup("app::helper@src/app.rs:20:5"),
        Lookup::Found(found) if std::ptr::eq(found, &NESTED_B)
    ));
    assert!(matches!(registry.lookup("app::helper"), Lookup::Unknown));
}

#[test]
fn link_order_changes_neither_ids_nor_fingerprint() {
    let one = Registry::new([&NESTED_A, &UNIQUE, &NESTED_B]);
    let other = Registry::new([&NESTED_B, &NESTED_A, &UNIQUE]);
    assert_eq!(one.fingerprint(), other.fingerprint());
    assert_eq!(one.ids(), other.ids());
}

#[test]
fn resolving_a_shared_default_changes_the_fingerprint() {
    // Same signatures, same paths: only the wire IDs differ.
    let shared = Registry::new([&NESTED_A, &NESTED_B]);
    let alone = Registry::new([&NESTED_A]);
    let twice = Registry::new([&NESTED_A, leak(remote_of_line(10))]);
    assert_ne!(shared.fingerprint(), alone.fingerprint());
    assert_ne!(shared.fingerprint(), twice.fingerprint());
}

fn remote_of_line(line: u32) -> Remote {
    remote("app::helper", None, line)
}

fn leak(remote: Remote) -> &'static Remote {
    Box::leak(Box::new(remote))
}

#[test]
fn two_pinned_ids_are_reported_with_both_definitions() {
    let registry = Registry::new([&PINNED_TWIN, &UNIQUE, &PINNED]);
    let (id, definitions) = duplicate(&registry);
    assert_eq!(id, "resize/v1");
    assert_eq!(
        definitions,
        [
            "app::other::resize src/app.rs:40:5",
            "app::resize src/app.rs:30:5"
        ]
    );
    // The lookup at call time agrees, should a call get there anyway.
    assert!(matches!(registry.lookup("resize/v1"), Lookup::Duplicate));
}

#[test]
fn a_pinned_id_equal_to_a_default_id_is_reported() {
    let registry = Registry::new([&UNIQUE, &PINNED_AS_PATH]);
    let (id, definitions) = duplicate(&registry);
    assert_eq!(id, "app::solo");
    assert_eq!(
        definitions,
        ["app::old src/app.rs:50:5", "app::solo src/app.rs:1:5"]
    );
}

#[test]
fn default_ids_at_one_location_stay_shared_and_are_reported() {
    // Two functions a `macro_rules!` made from one invocation: their
    // locations are equal too, so nothing tells them apart.
    let registry = Registry::new([&NESTED_A, leak(remote_of_line(10))]);
    let (id, definitions) = duplicate(&registry);
    assert_eq!(id, "app::helper@src/app.rs:10:5");
    assert_eq!(definitions.len(), 2);
}

#[test]
fn the_first_of_several_duplicates_is_reported() {
    let registry = Registry::new([&PINNED, &PINNED_TWIN, &UNIQUE, &PINNED_AS_PATH]);
    assert_eq!(duplicate(&registry).0, "app::solo");
}
