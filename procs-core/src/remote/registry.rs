//! The table of `#[remote]` functions, filled at link time.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::contract::BoxError;
use crate::wire::panic::Location;

/// One `#[remote]` function, as registered by the macro. Not a public API.
///
/// It holds no ID of its own: the ID a function goes by on the wire is
/// resolved when the registry is built, from every registration at once
/// (see [`Registry`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct Remote {
    /// `module_path!()::name`: the default ID, and the function's name in
    /// error messages.
    pub path: &'static str,
    /// The ID pinned with `#[remote(id = "...")]`, if any.
    pub pinned_id: Option<&'static str>,
    /// The file of the `#[remote]` attribute (`file!()`), which tells apart
    /// two functions of one path (nested in different functions).
    pub file: &'static str,
    /// The line of the `#[remote]` attribute (`line!()`).
    pub line: u32,
    /// The column of the `#[remote]` attribute (`column!()`).
    pub column: u32,
    /// The signature as written, so that the build fingerprint changes with it.
    pub signature: &'static str,
    /// The `TypeId` of the function item, to find the ID from the function.
    pub type_id: fn() -> TypeId,
    /// Decodes the arguments, calls the function, and appends its encoded
    /// result to the response being built (so no copy).
    pub invoke: fn(
        &mut crate::wire::detached::Input<'_>,
        &mut crate::wire::detached::Output<'_>,
    ) -> Result<(), CallError>,
}

/// Why [`Remote::invoke`] failed without panicking. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub enum CallError {
    /// The arguments did not decode as the function's parameter types.
    DecodeArgs(BoxError),
    /// The return value did not encode.
    EncodeResult(BoxError),
}

#[linkme::distributed_slice]
#[doc(hidden)]
pub static REMOTES: [Remote];

/// A registered function and the ID it goes by on the wire.
pub(crate) struct Entry {
    pub(crate) id: &'static str,
    pub(crate) remote: &'static Remote,
}

/// The registered functions by wire ID and by type.
///
/// Wire IDs follow three rules, applied the same way in the parent and in
/// its workers (one binary, one set of registrations):
/// - a pinned ID is used as written;
/// - a default ID that no other function declares stays `module_path::name`,
///   so IDs do not change when an unrelated function is added elsewhere;
/// - a default ID that several functions declare and none pins (same-named
///   functions nested in different functions of one module) gives way to
///   each one's location: `app::helper@src/main.rs:12:5`.
///
/// An ID that a pinned function shares with any other is left shared, and
/// [`check`](Registry::check) reports it before any pool starts: a pinned ID
/// is a promise about one function, and procs does not guess which. (Two
/// pinned IDs already fail to link, through a symbol the macro exports; the
/// check is what catches a pinned ID equal to a default one.)
pub(crate) struct Registry {
    entries: Vec<Entry>,
    by_id: HashMap<&'static str, Vec<usize>>,
    by_type: HashMap<TypeId, usize>,
    fingerprint: u64,
}

/// An ID that several functions share, and where each is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    pub(crate) id: String,
    /// Each function's path and the location of its `#[remote]`.
    pub(crate) definitions: Vec<(String, Location)>,
}

/// What looking up an ID can find.
pub(crate) enum Lookup {
    Found(&'static Remote),
    Unknown,
    Duplicate,
}

impl Registry {
    fn build() -> Registry {
        Registry::new(REMOTES.iter())
    }

    fn new(remotes: impl IntoIterator<Item = &'static Remote>) -> Registry {
        let remotes: Vec<&'static Remote> = remotes.into_iter().collect();
        let entries: Vec<Entry> = wire_ids(&remotes)
            .into_iter()
            .zip(remotes)
            .map(|(id, remote)| Entry { id, remote })
            .collect();
        let mut by_id: HashMap<&'static str, Vec<usize>> = HashMap::new();
        let mut by_type = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_id.entry(entry.id).or_default().push(index);
            by_type.insert((entry.remote.type_id)(), index);
        }
        // Wire IDs, not declared ones: two builds that resolve a shared
        // default differently must not shake hands.
        let mut signatures: Vec<_> = entries.iter().map(|e| (e.id, e.remote.signature)).collect();
        // Link order changes between builds; the fingerprint must not.
        signatures.sort_unstable();
        let mut hash = Fnv::default();
        hash.write(&crate::wire::codec::PROTOCOL.to_le_bytes());
        for (id, signature) in signatures {
            hash.write(id.as_bytes());
            hash.write(&[0]);
            hash.write(signature.as_bytes());
            hash.write(&[0]);
        }
        // The executable's size tells apart two builds with equal registries,
        // at the cost of one stat instead of hashing the whole file.
        let exe_len = std::fs::metadata("/proc/self/exe").map_or(0, |m| m.len());
        hash.write(&exe_len.to_le_bytes());
        Registry {
            entries,
            by_id,
            by_type,
            fingerprint: hash.0,
        }
    }

    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        match self.by_id.get(id).map(Vec::as_slice) {
            Some(&[one]) => Lookup::Found(self.entries[one].remote),
            Some(_) => Lookup::Duplicate,
            None => Lookup::Unknown,
        }
    }

    pub(crate) fn by_type(&self, type_id: TypeId) -> Option<&Entry> {
        self.by_type
            .get(&type_id)
            .map(|&index| &self.entries[index])
    }

    /// The known IDs, sorted, for error messages.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.by_id.keys().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        ids
    }

    /// Where the functions registered under `id` are defined: their paths
    /// and the locations of their `#[remote]` attributes, sorted.
    pub(crate) fn definitions(&self, id: &str) -> Vec<(String, Location)> {
        let mut definitions: Vec<(String, Location)> = self
            .by_id
            .get(id)
            .into_iter()
            .flatten()
            .map(|&index| {
                let remote = self.entries[index].remote;
                let location = Location {
                    file: remote.file.to_owned(),
                    line: remote.line,
                    column: remote.column,
                };
                (remote.path.to_owned(), location)
            })
            .collect();
        definitions.sort_unstable_by(|a, b| {
            (&a.0, &a.1.file, a.1.line, a.1.column).cmp(&(&b.0, &b.1.file, b.1.line, b.1.column))
        });
        definitions
    }

    /// Fails with the first (sorted) ID that several functions share,
    /// naming them; pools refuse to start then (`Error::DuplicateId`), so
    /// that no call finds out later.
    pub(crate) fn check(&self) -> Result<(), Duplicate> {
        let first = self
            .by_id
            .iter()
            .filter(|(_, entries)| entries.len() > 1)
            .map(|(&id, _)| id)
            .min();
        match first {
            Some(id) => Err(Duplicate {
                id: id.to_owned(),
                definitions: self.definitions(id),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// The wire ID of each of `remotes`, by the rules on [`Registry`].
fn wire_ids(remotes: &[&'static Remote]) -> Vec<&'static str> {
    let declared = |remote: &Remote| remote.pinned_id.unwrap_or(remote.path);
    // Per declared ID: how many functions declare it, and whether one pins it.
    let mut groups: HashMap<&'static str, (usize, bool)> = HashMap::new();
    for remote in remotes {
        let group = groups.entry(declared(remote)).or_default();
        group.0 += 1;
        group.1 |= remote.pinned_id.is_some();
    }
    remotes
        .iter()
        .map(
            |remote| match (remote.pinned_id, groups[declared(remote)]) {
                (Some(pinned), _) => pinned,
                (None, (shared, false)) if shared > 1 => located(remote),
                (None, _) => remote.path,
            },
        )
        .collect()
}

/// `path@file:line:column`: the wire ID of a function whose default ID
/// other functions share.
fn located(remote: &Remote) -> &'static str {
    let id = format!(
        "{}@{}:{}:{}",
        remote.path, remote.file, remote.line, remote.column
    );
    // Leaked once per such function and process, when the registry is built:
    // a call carries its ID as `&'static str` from `proc!` to its result.
    Box::leak(id.into_boxed_str())
}

pub(crate) fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

/// FNV-1a: stable across Rust versions, unlike `DefaultHasher`, so parent and
/// worker agree even when built apart.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod test;
