//! The table of `#[remote]` functions, filled at link time.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::contract::BoxError;

/// One `#[remote]` function, as registered by the macro. Not a public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Remote {
    /// The stable ID: `module_path!()::name` unless pinned.
    pub id: &'static str,
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

pub(crate) struct Registry {
    by_id: HashMap<&'static str, Vec<&'static Remote>>,
    by_type: HashMap<TypeId, &'static Remote>,
    fingerprint: u64,
}

/// What looking up an ID can find.
pub(crate) enum Lookup {
    Found(&'static Remote),
    Unknown,
    Duplicate,
}

impl Registry {
    fn build() -> Registry {
        let mut by_id: HashMap<&'static str, Vec<&'static Remote>> = HashMap::new();
        let mut by_type = HashMap::new();
        for remote in REMOTES.iter() {
            by_id.entry(remote.id).or_default().push(remote);
            by_type.insert((remote.type_id)(), remote);
        }
        let mut entries: Vec<_> = REMOTES.iter().map(|r| (r.id, r.signature)).collect();
        // Link order changes between builds; the fingerprint must not.
        entries.sort_unstable();
        let mut hash = Fnv::default();
        hash.write(&crate::wire::codec::PROTOCOL.to_le_bytes());
        for (id, signature) in entries {
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
            by_id,
            by_type,
            fingerprint: hash.0,
        }
    }

    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        match self.by_id.get(id).map(Vec::as_slice) {
            Some([one]) => Lookup::Found(one),
            Some(_) => Lookup::Duplicate,
            None => Lookup::Unknown,
        }
    }

    pub(crate) fn by_type(&self, type_id: TypeId) -> Option<&'static Remote> {
        self.by_type.get(&type_id).copied()
    }

    /// The known IDs, sorted, for error messages.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.by_id.keys().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
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
