//! The crate's layering rule, checked on its source: a module may import
//! only from its own folder or from a folder of a lower layer, two modules
//! never import each other, and only `sync` names the concurrency crates
//! and primitives (so that loom sees every one the protocols use).
//!
//! The layers, lowest first: `sync`, `api`, `data`, `protocol`, `exec`,
//! `nodes`, `build`, `support` (see the crate docs). The check reads every
//! `crate::<layer>::<module>` path outside comments and test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &[
    "sync", "api", "data", "protocol", "exec", "nodes", "build", "support",
];

/// Paths only `sync.rs` may name (and, for the deque, `data/queue.rs`).
const PRIMITIVES: &[(&str, &str)] = &[
    ("std::sync", "sync.rs"),
    ("std::thread", "sync.rs"),
    ("crossbeam_channel", "sync.rs"),
    ("crossbeam_utils", "sync.rs"),
    ("loom::", "sync.rs"),
    ("crossbeam_deque", "data/queue.rs"),
];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its test modules (which
/// may use anything: loom models import the structures they drive).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(") && trimmed.contains("test") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `(layer, module)` of every `crate::layer::module` named in `code`,
/// including the members of grouped imports (`crate::{a, b}` is not used).
fn imports(code: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut parts = path.split("::");
        let layer = parts.next().unwrap_or_default().to_string();
        let module = parts.next().unwrap_or_default().to_string();
        found.insert((layer, module));
    }
    found
}

#[test]
fn layers_import_downward_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut edges: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = code(&fs::read_to_string(file).unwrap());
        for (primitive, owner) in PRIMITIVES {
            if text.contains(primitive) && relative != *owner {
                problems.push(format!(
                    "{relative} names `{primitive}`; take it from `{owner}`"
                ));
            }
        }
        let mut parts = relative.trim_end_matches(".rs").split('/');
        let layer = parts.next().unwrap().to_string();
        let module = parts.next().unwrap_or("mod").to_string();
        let Some(own) = rank(&layer) else {
            continue; // lib.rs: the crate root re-exports from every layer
        };
        for (to_layer, to_module) in imports(&text) {
            match rank(&to_layer) {
                Some(r) if r > own => problems.push(format!(
                    "{relative} imports upward from `{to_layer}` ({layer} is below it)"
                )),
                Some(_) => {
                    edges
                        .entry((layer.clone(), module.clone()))
                        .or_default()
                        .insert((to_layer, to_module));
                }
                None => problems.push(format!("{relative} names `crate::{to_layer}`, not a layer")),
            }
        }
    }
    for (from, targets) in &edges {
        for to in targets {
            if to != from && edges.get(to).is_some_and(|back| back.contains(from)) && from < to {
                problems.push(format!(
                    "{}::{} and {}::{} import each other",
                    from.0, from.1, to.0, to.1
                ));
            }
        }
    }
    assert!(files.len() > 20, "the check must see the crate's sources");
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}
