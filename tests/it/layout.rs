//! The house keeps its shape: no room of `src/` imports a room that imports it
//! back, and the transport knows nothing of the routes.
//!
//! A room is a file or a folder directly under `src/`; its imports are the
//! `crate::ROOM` paths its source names. Reading them as text is enough: the
//! crate only ever names another room that way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The rooms of `src/` and, for each, the other rooms it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut rooms = BTreeMap::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "main" | "lib") {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|ext| ext == "rs") {
            rooms.insert(name, rust_files(&path));
        }
    }
    let names: BTreeSet<String> = rooms.keys().cloned().collect();
    rooms
        .into_iter()
        .map(|(room, files)| {
            let mut named = BTreeSet::new();
            for file in files {
                let text = fs::read_to_string(&file).unwrap();
                for piece in text.split("crate::").skip(1) {
                    let other: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if other != room && names.contains(&other) {
                        named.insert(other);
                    }
                }
            }
            (room, named)
        })
        .collect()
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// A path of imports from `from` back to `to`, if there is one.
fn path_back(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if from == to {
        return Some(vec![to.to_owned()]);
    }
    if !seen.insert(from.to_owned()) {
        return None;
    }
    for next in graph.get(from).into_iter().flatten() {
        if let Some(mut rest) = path_back(graph, next, to, seen) {
            rest.insert(0, from.to_owned());
            return Some(rest);
        }
    }
    None
}

#[test]
fn no_room_imports_a_room_that_imports_it_back() {
    let graph = imports();
    assert!(graph.len() > 10, "the rooms were not found: {graph:?}");
    for (room, named) in &graph {
        for other in named {
            if let Some(circle) = path_back(&graph, other, room, &mut BTreeSet::new()) {
                panic!("a circle of imports: {room} -> {}", circle.join(" -> "));
            }
        }
    }
}

#[test]
fn the_transport_knows_nothing_of_the_routes_or_the_pages() {
    let graph = imports();
    let http = &graph["http"];
    for room in [
        "api", "ui", "app", "intake", "queue", "worker", "exec", "store",
    ] {
        assert!(!http.contains(room), "http imports {room}: {http:?}");
    }
}
