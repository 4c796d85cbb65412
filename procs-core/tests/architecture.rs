//! procs-core's layers point one way: this test reads every `crate::…` path
//! in the crate's sources and fails on an edge against the allowed direction.
//!
//! From the bottom: `util` → `transport` → `wire` → `remote` → then `worker`
//! beside the public vocabulary (`error.rs`, `exit.rs`) → `pool` → `api`.
//! A layer may use the layers below it, never one above or beside it: the
//! worker never imports the pool, the pool never imports the API, the wire
//! format never imports the pool or the public `Error`. `lib.rs` (the table
//! of contents), `private.rs` (what the macros expand to) and the `testkit`
//! (built on the public API) sit outside the layers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each layer and the layers it may import, besides itself.
const LAYERS: &[(&str, &[&str])] = &[
    ("util", &[]),
    ("contract", &["util"]),
    ("wire", &["util", "contract"]),
    ("remote", &["util", "contract", "wire"]),
    ("worker", &["util", "contract", "wire", "remote"]),
    ("error", &["util", "contract", "wire", "remote"]),
    ("pool", &["util", "contract", "wire", "remote", "error"]),
    (
        "api",
        &["util", "contract", "wire", "remote", "error", "pool"],
    ),
];

/// The crate's exported macros and the layer each belongs to.
const MACROS: &[(&str, &str)] = &[
    ("__register_transport", "contract"),
    ("__register_default_transport", "api"),
    ("proc", "api"),
];

/// The layer a source file (relative to `src/`) belongs to; `None` for the
/// files outside the layers.
fn layer_of(file: &Path) -> Option<&'static str> {
    let first = file.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    match name {
        "lib" | "private" | "testkit" => None,
        "exit" => Some("error"),
        other => Some(
            LAYERS
                .iter()
                .map(|(layer, _)| *layer)
                .find(|layer| *layer == other)
                .unwrap_or_else(|| panic!("{} is in no layer; add it to LAYERS", file.display())),
        ),
    }
}

/// The layer a path's first segment after `crate::` names.
fn target_layer(segment: &str) -> Option<&'static str> {
    match segment {
        "exit" => Some("error"),
        // Root re-exports hide where an item lives; code inside the layers
        // names the module instead.
        s if s.starts_with(|c: char| c.is_ascii_uppercase()) => Some("root re-export"),
        s => LAYERS.iter().map(|(l, _)| *l).find(|l| *l == s),
    }
}

/// The edges of one file that go against the layers, as readable lines.
fn violations(file: &Path, source: &str) -> Vec<String> {
    let Some(from) = layer_of(file) else {
        return Vec::new();
    };
    let allowed = LAYERS
        .iter()
        .find(|(layer, _)| *layer == from)
        .map(|(_, allowed)| *allowed)
        .expect("a known layer");
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        // Comments, doc links included, are not dependencies.
        let code = line.split("//").next().unwrap_or("");
        for (at, _) in code.match_indices("crate::") {
            // `$crate::` in a macro is the user's view of the crate.
            if code[..at].ends_with('$') {
                continue;
            }
            let rest = &code[at + "crate::".len()..];
            let segment: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `#[macro_export]` macros live at the root whatever defines them.
            if rest[segment.len()..].starts_with('!') {
                let Some((_, to)) = MACROS.iter().find(|(name, _)| *name == segment) else {
                    found.push(format!(
                        "{}:{}: unknown macro `crate::{segment}!`",
                        file.display(),
                        number + 1
                    ));
                    continue;
                };
                if *to != from && !allowed.contains(to) {
                    found.push(format!(
                        "{}:{}: the {from} layer uses the {to} macro `{segment}!`: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
                continue;
            }
            let segments: Vec<String> = if segment.is_empty() && rest.starts_with('{') {
                // `use crate::{a, b}`
                let group = rest[1..].split('}').next().unwrap_or("");
                group
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            } else {
                vec![segment]
            };
            for segment in segments {
                let to = target_layer(&segment);
                let ok = match to {
                    Some(to) => to == from || allowed.contains(&to),
                    None => false,
                };
                if !ok {
                    found.push(format!(
                        "{}:{}: the {from} layer uses `crate::{segment}` ({}): {}",
                        file.display(),
                        number + 1,
                        to.unwrap_or("unknown module"),
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut seen = BTreeSet::new();
    let mut all = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        if let Some(layer) = layer_of(relative) {
            seen.insert(layer);
        }
        let source = std::fs::read_to_string(file).expect("readable source");
        all.extend(violations(relative, &source));
    }
    assert!(
        all.is_empty(),
        "imports against the layers (see this test's docs):\n{}",
        all.join("\n")
    );
    // Every layer has files, so a renamed folder cannot empty the check.
    for (layer, _) in LAYERS {
        assert!(seen.contains(layer), "no source file in the {layer} layer");
    }
}

#[test]
fn a_back_edge_is_caught() {
    let wire = Path::new("wire/codec.rs");
    let upward = "use crate::pool::job::Job;\n";
    assert_eq!(violations(wire, upward).len(), 1);
    let worker = Path::new("worker/entry.rs");
    assert_eq!(
        violations(worker, "crate::pool::launch::kill(&mut child);").len(),
        1
    );
    let api = Path::new("api/pool.rs");
    assert!(violations(api, "use crate::pool::Shared;\nuse crate::wire::codec;").is_empty());
    // Grouped imports, root re-exports and unknown modules are all caught.
    let pool = Path::new("pool/slot.rs");
    assert_eq!(violations(pool, "use crate::{api, wire};").len(), 1);
    assert_eq!(violations(pool, "use crate::Error;").len(), 1);
    assert_eq!(violations(pool, "use crate::nowhere::Thing;").len(), 1);
    // Macros count as the layer that defines them.
    assert_eq!(violations(wire, "crate::proc!(f(1))").len(), 1);
    assert!(violations(api, "crate::__register_transport!(T);").is_empty());
    // Comments and `$crate` in macros are not dependencies.
    assert!(violations(wire, "// see crate::pool::slot\n$crate::api::x").is_empty());
}
