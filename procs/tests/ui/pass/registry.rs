// What the attribute registers, read back through the hidden plumbing.
use procs::__private::{REMOTES, Remote, type_id_of};
use procs::remote;

#[remote]
pub fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[remote(id = "greet/v1")]
fn greet(name: String, times: Option<u8>) -> Vec<String> {
    vec![name; usize::from(times.unwrap_or(1))]
}

mod nested {
    #[procs::remote]
    pub fn ping() {}
}

fn find(id: &str) -> &'static Remote {
    REMOTES
        .iter()
        .find(|r| r.pinned_id.unwrap_or(r.path) == id)
        .unwrap_or_else(|| panic!("`{id}` is not registered"))
}

fn main() {
    let add_entry = find(concat!(module_path!(), "::add"));
    assert_eq!(add_entry.signature, "fn(u64, u64) -> u64");
    assert!((add_entry.type_id)() == type_id_of(&add));
    assert_eq!(add_entry.pinned_id, None);
    // `file!()`, `line!()` and `column!()` of the attribute.
    assert_eq!(
        (add_entry.file.ends_with("registry.rs"), add_entry.line, add_entry.column),
        (true, 5, 1)
    );

    let greet_entry = find("greet/v1");
    assert_eq!(
        greet_entry.signature,
        "fn(String, Option<u8>) -> Vec<String>"
    );
    assert!((greet_entry.type_id)() == type_id_of(&greet));
    assert_eq!(greet_entry.path, concat!(module_path!(), "::greet"));

    let ping_entry = find(concat!(module_path!(), "::nested::ping"));
    assert_eq!(ping_entry.signature, "fn()");
    assert!((ping_entry.type_id)() == type_id_of(&nested::ping));

    assert_eq!(REMOTES.len(), 3);
}
