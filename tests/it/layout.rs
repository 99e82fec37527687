//! The house keeps its shape: no room of `src/` imports a room that imports it
//! back, at the top or inside any folder; a module is a file or a folder with
//! its `mod.rs`, never both; no source file is too long to read; the
//! transport knows nothing of the routes; the client knows the server only
//! by its HTTP API; and the tests are one binary.
//!
//! A room is a file or a folder directly under a folder of `src/` (the
//! folder's own `mod.rs`, and `lib.rs` at the top, is its door, not a room):
//! `store.rs` and `store/` are two rooms. A room's imports are the
//! `crate::` and `super::` paths its files name before their tests,
//! comments left out. Reading them as text is enough: a module names another
//! no other way (a re-export in a `mod.rs` is not followed).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The most lines a source file may have before its tests: past this, a
/// file does several jobs and is cut along its seams (issue 20).
const MAX_LINES: usize = 900;

/// The rooms of the top level the transport (`http/`) must never name.
const ABOVE_THE_TRANSPORT: [&str; 8] = [
    "api", "ui", "app", "intake", "queue", "worker", "exec", "store",
];

/// The only rooms the client (`client/`) may name, besides `http::percent`:
/// the shared types of an experiment (its id and state) and of time, and the
/// batch zip's rule for a folder's name, so that `seqspool results` names
/// folders as the zip does.
const CLIENT_MAY_NAME: [&str; 3] = ["model", "time", "zipstream"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A source file of the library, read up to its tests.
struct Source {
    /// Its path under `src/`, as `exec/local.rs`.
    path: PathBuf,
    /// The module it is: `exec/local.rs` and `exec/local/mod.rs` are `exec::local`.
    module: Vec<String>,
    /// Its lines before its tests.
    lines: Vec<String>,
}

/// Every `.rs` file under `src/`, but the binary's `main.rs` (its `crate::`
/// is the binary, which names the library as `seqspool::`).
fn sources() -> Vec<Source> {
    let src = src();
    let mut sources: Vec<Source> = rust_files(&src)
        .into_iter()
        .filter(|path| path != &src.join("main.rs"))
        .map(|path| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
            let path = path.strip_prefix(&src).unwrap().to_owned();
            Source {
                module: module_of(&path),
                lines: before_tests(&text),
                path,
            }
        })
        .collect();
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    sources
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The module a file under `src/` is: `lib.rs` is the crate (`[]`), a
/// `mod.rs` its folder's module.
fn module_of(path: &Path) -> Vec<String> {
    let mut module: Vec<String> = path
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    module
}

/// The lines of `text` before its test module: the first `#[cfg(test)]` that
/// stands on a `mod` (test-only items above it count as code).
fn before_tests(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .enumerate()
        .position(|(n, line)| {
            *line == "#[cfg(test)]"
                && lines[n + 1..]
                    .iter()
                    .find(|next| !next.starts_with("#["))
                    .is_some_and(|next| {
                        ["", "pub ", "pub(crate) ", "pub(super) "]
                            .iter()
                            .any(|visibility| next.starts_with(&format!("{visibility}mod ")))
                    })
        })
        .unwrap_or(lines.len());
    lines[..end].iter().map(|line| line.to_string()).collect()
}

/// One path a file names, made absolute from the crate's root, and where.
struct Named {
    path: Vec<String>,
    line: usize,
    /// The path as written, for the failure's message.
    written: String,
}

/// The paths `source` names after `crate::` or `super::`, with `use`
/// groups (`super::{a, b::c}`) spread out, each from the crate's root.
fn named(source: &Source) -> Vec<Named> {
    let mut found = Vec::new();
    for (n, line) in source.lines.iter().enumerate() {
        // A path's group may run over lines: read on from here, comments left out.
        let code: String = source.lines[n..]
            .iter()
            .take(40)
            .map(|line| line.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        let own = line.split("//").next().unwrap().len();
        let mut at = 0;
        while let Some(offset) = code[at..own].find(['c', 's']) {
            let start = at + offset;
            at = start + 1;
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[start..];
            let (base, mut tail) = if let Some(tail) = rest.strip_prefix("crate::") {
                (Vec::new(), tail)
            } else if rest.starts_with("super::") {
                let mut base = source.module.clone();
                let mut tail = rest;
                while let Some(after) = tail.strip_prefix("super::") {
                    base.pop();
                    tail = after;
                }
                (base, tail)
            } else {
                continue;
            };
            let mut paths = Vec::new();
            tree(&mut tail, base, &mut paths);
            let written = &rest[..rest.len() - tail.len()];
            found.extend(paths.into_iter().map(|path| Named {
                path,
                line: n + 1,
                written: written.split_whitespace().collect::<Vec<_>>().join(" "),
            }));
        }
    }
    found
}

/// Reads one use tree from `text` (a path, `*`, or a `{...}` group of
/// trees, a name perhaps followed by `as NAME`), pushing each whole path it
/// names onto `paths`.
fn tree(text: &mut &str, mut prefix: Vec<String>, paths: &mut Vec<Vec<String>>) {
    loop {
        *text = text.trim_start();
        if let Some(group) = text.strip_prefix('{') {
            *text = group;
            loop {
                *text = text.trim_start();
                if let Some(after) = text.strip_prefix('}') {
                    *text = after;
                    return;
                }
                let before = text.len();
                tree(text, prefix.clone(), paths);
                *text = text.trim_start();
                *text = text.strip_prefix(',').unwrap_or(text);
                if text.len() == before {
                    // Not Rust this reader knows (or the end): step over it.
                    match text.chars().next() {
                        Some(c) => *text = &text[c.len_utf8()..],
                        None => return,
                    }
                }
            }
        }
        let segment = identifier(text);
        if segment.is_empty() {
            *text = text.strip_prefix('*').unwrap_or(text);
        } else if segment != "self" {
            prefix.push(segment);
        }
        match text.strip_prefix("::") {
            Some(after) => *text = after,
            None => {
                if let Some(renamed) = text.trim_start().strip_prefix("as ") {
                    *text = renamed.trim_start();
                    identifier(text);
                }
                paths.push(prefix);
                return;
            }
        }
    }
}

/// Takes the identifier `text` starts with (perhaps none) off it.
fn identifier(text: &mut &str) -> String {
    let name: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    *text = &text[name.len()..];
    name
}

/// A room of a folder: a file (`store.rs`) or a folder (`store/`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Room {
    name: String,
    folder: bool,
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let end = if self.folder { "/" } else { ".rs" };
        write!(f, "{}{end}", self.name)
    }
}

/// Why a room names another: the first place it does.
#[derive(Clone)]
struct Evidence {
    file: PathBuf,
    line: usize,
    written: String,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "src/{}:{} names {}",
            self.file.display(),
            self.line,
            self.written
        )
    }
}

type Graph = BTreeMap<Room, BTreeMap<Room, Evidence>>;

/// Every folder of `src/` holding source files (`[]` is `src/` itself), by module path.
fn folders(sources: &[Source]) -> BTreeSet<Vec<String>> {
    sources
        .iter()
        .flat_map(|source| {
            let parts: Vec<String> = source
                .path
                .parent()
                .unwrap()
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            (0..=parts.len()).map(move |n| parts[..n].to_vec())
        })
        .collect()
}

/// The room of `folder` that `path` (from the crate's root) leads into, if it
/// leads into one: not the folder's own `mod.rs`, not outside it.
fn room_named(folder: &[String], path: &[String]) -> Option<Room> {
    let name = path.strip_prefix(folder)?.first()?.clone();
    let dir = src().join(folder.join("/"));
    let is_folder = dir.join(&name).is_dir();
    let is_file = dir.join(format!("{name}.rs")).is_file();
    let folder = match (is_file, is_folder) {
        (true, false) => false,
        (false, true) => true,
        // Both: a child of `name/` leads into the folder, an item into the file.
        (true, true) => path.get(folder.len() + 1).is_some_and(|child| {
            dir.join(&name).join(child).is_dir()
                || dir.join(&name).join(format!("{child}.rs")).is_file()
        }),
        (false, false) => return None,
    };
    Some(Room { name, folder })
}

/// The room of `folder` that `source` is part of; `None` for the folder's door.
fn room_of(folder: &[String], source: &Source) -> Option<Room> {
    let under = source.path.strip_prefix(folder.join("/")).ok()?;
    let mut parts = under.iter();
    let first = parts.next()?.to_string_lossy().into_owned();
    if parts.next().is_some() {
        return Some(Room {
            name: first,
            folder: true,
        });
    }
    let name = first.strip_suffix(".rs")?;
    let door = if folder.is_empty() { "lib" } else { "mod" };
    (name != door).then(|| Room {
        name: name.to_owned(),
        folder: false,
    })
}

/// The rooms of `folder` and, for each, the other rooms of it that it names.
fn imports(sources: &[Source], folder: &[String]) -> Graph {
    let mut graph = Graph::new();
    for source in sources {
        let Some(room) = room_of(folder, source) else {
            continue;
        };
        let named_rooms = graph.entry(room.clone()).or_default();
        for named in named(source) {
            if let Some(other) = room_named(folder, &named.path) {
                if other != room {
                    named_rooms.entry(other).or_insert_with(|| Evidence {
                        file: source.path.clone(),
                        line: named.line,
                        written: named.written.clone(),
                    });
                }
            }
        }
    }
    graph
}

/// A path of imports from `from` back to `to`, if there is one.
fn path_back(
    graph: &Graph,
    from: &Room,
    to: &Room,
    seen: &mut BTreeSet<Room>,
) -> Option<Vec<Room>> {
    if from == to {
        return Some(vec![to.clone()]);
    }
    if !seen.insert(from.clone()) {
        return None;
    }
    for next in graph.get(from).into_iter().flat_map(BTreeMap::keys) {
        if let Some(mut rest) = path_back(graph, next, to, seen) {
            rest.insert(0, from.clone());
            return Some(rest);
        }
    }
    None
}

/// Every circle of `graph`, once each, with where each step is written.
fn circles(graph: &Graph) -> Vec<String> {
    let mut seen: BTreeSet<BTreeSet<Room>> = BTreeSet::new();
    let mut found = Vec::new();
    for (room, named) in graph {
        for other in named.keys() {
            let Some(back) = path_back(graph, other, room, &mut BTreeSet::new()) else {
                continue;
            };
            let mut circle = vec![room.clone()];
            circle.extend(back);
            if !seen.insert(circle.iter().cloned().collect()) {
                continue;
            }
            let rooms: Vec<String> = circle.iter().map(Room::to_string).collect();
            let mut text = rooms.join(" -> ");
            for step in circle.windows(2) {
                text.push_str(&format!("\n      {}", graph[&step[0]][&step[1]]));
            }
            found.push(text);
        }
    }
    found
}

/// The circles of every folder `which` picks, under their folder's name.
fn circles_in(which: impl Fn(&[String]) -> bool) -> Vec<String> {
    let sources = sources();
    assert!(
        sources.len() > 10,
        "the sources were not found in {}",
        src().display()
    );
    let mut found = Vec::new();
    for folder in folders(&sources).into_iter().filter(|folder| which(folder)) {
        let graph = imports(&sources, &folder);
        for circle in circles(&graph) {
            let name = folder
                .iter()
                .map(|part| format!("{part}/"))
                .collect::<String>();
            found.push(format!("  in src/{name}: {circle}"));
        }
    }
    found
}

#[test]
fn no_room_imports_a_room_that_imports_it_back() {
    let found = circles_in(|folder| folder.is_empty());
    assert!(
        found.is_empty(),
        "a circle of imports between the rooms of src/ (a room names one that names it back):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_file_inside_a_folder_imports_one_that_imports_it_back() {
    let found = circles_in(|folder| !folder.is_empty());
    assert!(
        found.is_empty(),
        "a circle of imports inside a folder (a room names one that names it back; \
         what both need belongs in a room of its own):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_module_is_a_file_or_a_folder_with_its_mod_rs_never_both() {
    let sources = sources();
    let mut wrong = Vec::new();
    for folder in folders(&sources)
        .into_iter()
        .filter(|folder| !folder.is_empty())
    {
        let dir = folder.join("/");
        let (parent, name) = folder.split_at(folder.len() - 1);
        let beside = src().join(parent.join("/")).join(format!("{}.rs", name[0]));
        if beside.is_file() {
            wrong.push(format!(
                "  src/{}.rs beside src/{dir}/: the module is src/{dir}/mod.rs, and \
                 src/{}.rs moves there",
                folder.join("/"),
                folder.join("/")
            ));
        } else if !src().join(&dir).join("mod.rs").is_file() {
            wrong.push(format!("  src/{dir}/ has no mod.rs"));
        }
    }
    assert!(
        wrong.is_empty(),
        "one module-file style: a folder module is NAME/mod.rs, with no NAME.rs beside it:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_source_file_is_over_900_lines_before_its_tests() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|source| source.lines.len() > MAX_LINES)
        .map(|source| {
            format!(
                "  src/{}: {} lines",
                source.path.display(),
                source.lines.len()
            )
        })
        .collect();
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines before their tests (cut each along its seams):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_transport_knows_nothing_of_the_routes_or_the_pages() {
    let sources = sources();
    let graph = imports(&sources, &[]);
    let (http, named) = graph
        .iter()
        .find(|(room, _)| room.name == "http")
        .expect("src/http/ is a room");
    for (room, evidence) in named {
        assert!(
            !ABOVE_THE_TRANSPORT.contains(&room.name.as_str()),
            "{http} names {room}: {evidence}"
        );
    }
}

#[test]
fn the_client_talks_to_the_server_over_http_and_imports_only_shared_leaves() {
    let in_the_client =
        |source: &&Source| source.module.first().is_some_and(|room| room == "client");
    for source in sources().iter().filter(in_the_client) {
        for named in named(source) {
            let shared = match named.path.first().map(String::as_str) {
                Some("client") => true,
                Some(room) if CLIENT_MAY_NAME.contains(&room) => true,
                // The one percent coding of a path segment, which the
                // routes decode: a leaf of the transport, not the transport.
                Some("http") => named.path.get(1).is_some_and(|file| file == "percent"),
                _ => false,
            };
            assert!(
                shared,
                "src/{}:{} names {}; the client reaches the server over its HTTP API only",
                source.path.display(),
                named.line,
                named.written
            );
        }
    }
}

#[test]
fn the_tests_are_one_binary() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let others: Vec<String> = fs::read_dir(&tests)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "rs")
                || (path.join("main.rs").is_file() && !path.ends_with("it"))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        others.is_empty(),
        "a test target besides tests/it (each links the whole crate once more): {others:?}; \
         make it a module of tests/it/main.rs"
    );
}
