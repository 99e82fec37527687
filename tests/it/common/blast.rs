//! What the tests of the BLAST pipelines share: BLAST+ itself (a test marked
//! `seqspool_test_blast` calls [`need_blast`] first; see `common`'s doc), the
//! shipped references, their databases built per test, and a server running
//! the example configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::*;

pub fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Fails the test (see [`missing`]) unless BLAST+ is on the PATH.
pub fn need_blast() {
    let missing: Vec<&str> = [
        "blastn",
        "blastp",
        "makeblastdb",
        "blast_formatter",
        "blastdbcmd",
    ]
    .into_iter()
    .filter(|tool| !on_path(tool))
    .collect();
    if !missing.is_empty() {
        super::missing(
            "blast",
            &format!(
                "{} not on the PATH (Debian: apt-get install ncbi-blast+)",
                missing.join(", ")
            ),
        );
    }
}

/// One record of a shipped reference.
pub struct Reference {
    pub id: String,
    pub title: String,
    pub sequence: String,
}

/// The records of `examples/data/<file>`.
pub fn references(file: &str) -> Vec<Reference> {
    let text = std::fs::read_to_string(repository().join("examples/data").join(file))
        .unwrap_or_else(|err| panic!("examples/data/{file}: {err}"));
    text.split('>')
        .skip(1)
        .map(|record| {
            let (header, body) = record.split_once('\n').expect("a header line");
            let (id, title) = header.split_once(' ').expect("an identifier and a title");
            Reference {
                id: id.to_owned(),
                title: title.to_owned(),
                sequence: body.split_whitespace().collect(),
            }
        })
        .collect()
}

pub fn reference(file: &str, id: &str) -> Reference {
    references(file)
        .into_iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no {id} in {file}"))
}

pub fn reverse_complement(sequence: &str) -> String {
    sequence
        .chars()
        .rev()
        .map(|base| match base {
            'A' => 'T',
            'C' => 'G',
            'G' => 'C',
            'T' => 'A',
            other => other,
        })
        .collect()
}

/// Builds both BLAST databases in `dir` with `examples/data/make_databases.sh`.
pub fn make_databases(dir: &Path) {
    let output = Command::new("sh")
        .arg(repository().join("examples/data/make_databases.sh"))
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running make_databases.sh");
    assert!(
        output.status.success(),
        "make_databases.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Builds a nucleotide database `name` in `dir` from `fasta`, titled
/// `title`, its sequences found by their ids (`-parse_seqids`).
pub fn make_database(dir: &Path, name: &str, title: &str, fasta: &str) {
    build_database(dir, name, title, fasta, &["-parse_seqids"]);
}

/// As [`make_database`], without `-parse_seqids`: sequences with no ids to look up.
pub fn make_database_without_ids(dir: &Path, name: &str, title: &str, fasta: &str) {
    build_database(dir, name, title, fasta, &[]);
}

fn build_database(dir: &Path, name: &str, title: &str, fasta: &str, flags: &[&str]) {
    let source = dir.join(format!("{name}.fasta"));
    std::fs::write(&source, fasta).unwrap();
    let output = Command::new("makeblastdb")
        .arg("-in")
        .arg(&source)
        .args(["-dbtype", "nucl"])
        .args(flags)
        .args(["-title", title, "-out"])
        .arg(dir.join(name))
        .stdin(Stdio::null())
        .output()
        .expect("running makeblastdb");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `seqspool db ARGS --blast-databases DIR`, run to its end: its exit code,
/// standard output and standard error.
pub fn seqspool_db(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = seqspool()
        .arg("db")
        .args(args)
        .arg("--blast-databases")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example configuration's text, its databases in `db` instead.
///
/// The file sets `BLAST_DB` to `${CONFIG_DIR}/data/db/...` in each pipeline's
/// `env`, which wins over the server's environment. Rather than build into
/// the repository's `examples/data/db` (shared by tests running at once, and
/// by a developer's own server), each test builds its own databases and loads
/// the repository's file with only that directory replaced: everything else
/// (commands, parameters, checks, results) is the file as shipped, with
/// `${CONFIG_DIR}` the repository's `examples/`.
pub fn example_config(db: &Path) -> String {
    let text =
        std::fs::read_to_string(example_config_path()).expect("examples/pipelines/blast.toml");
    let shipped = "${CONFIG_DIR}/../data/db/";
    assert_eq!(
        text.matches(shipped).count(),
        2,
        "examples/pipelines/blast.toml no longer puts both databases in {shipped}: update this test"
    );
    let db = db.to_str().expect("a UTF-8 path");
    assert!(
        !db.contains(['"', '\\']),
        "a path TOML would need to escape: {db}"
    );
    text.replace(shipped, &format!("{db}/"))
}

pub fn example_config_path() -> PathBuf {
    repository().join("examples/pipelines/blast.toml")
}

/// A server running the example configuration with its databases in `db`,
/// once the start-up checks have run.
pub fn example_server(db: &Path) -> Server {
    let text = example_config(db);
    let server = Server::start(|config| {
        config
            .apply_file(&text, &example_config_path(), None)
            .expect("examples/pipelines/blast.toml reads")
    });
    let mut pipelines = Value::Null;
    wait_until("the example's start-up checks have run", || {
        pipelines = server.get("/pipelines").json();
        pipelines["pipelines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("check").is_none() || p.get("last_check").is_some())
    });
    server
}

/// A server running the example configuration with the databases built in
/// `db` (by [`make_databases`]), once every pipeline passed its check.
pub fn ready_example_server(db: &Path) -> Server {
    make_databases(db);
    let server = example_server(db);
    assert_ready(&server);
    server
}

/// Waits until every pipeline of `server` with a start-up check has passed it.
pub fn wait_checks_pass(server: &Server) {
    wait_until("the start-up checks pass", || {
        let listed = server.get("/pipelines").json();
        listed["pipelines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("check").is_none() || p["available"] == true)
    });
}

/// Asserts every pipeline of `server` passed its check.
pub fn assert_ready(server: &Server) {
    let pipelines = server.get("/pipelines").json();
    for pipeline in pipelines["pipelines"].as_array().unwrap() {
        assert_eq!(pipeline["available"], true, "{pipeline:#}");
    }
    assert_eq!(server.get("/queue").json()["paused"], false);
}

/// Waits until experiment `id` has finished, whichever way, and returns its record.
pub fn wait_finished(server: &Server, id: &str) -> Value {
    let mut record = Value::Null;
    wait_until(&format!("experiment {id} finishes"), || {
        record = server.get(&format!("/experiments/{id}")).json();
        !matches!(record["state"].as_str(), Some("QUEUED" | "RUNNING"))
    });
    record
}

/// Waits until experiment `id` is COMPLETE, saying why not if it fails.
pub fn wait_complete(server: &Server, id: &str) -> Value {
    let record = wait_finished(server, id);
    assert_eq!(
        record["state"],
        "COMPLETE",
        "{record:#}\nstderr.txt:\n{}",
        file(server, id, "stderr.txt")
    );
    record
}

pub fn file(server: &Server, id: &str, name: &str) -> String {
    let answer = server.get(&format!("/experiments/{id}/files/{name}"));
    assert_eq!(answer.status, 200, "{name} of {id}: {}", answer.text());
    answer.text()
}

/// The `database` parameter of the built-in `program`, as `GET /pipelines`
/// gives it (its options, titles, default, whether it takes several).
pub fn database_param(server: &Server, program: &str) -> Value {
    let listed = server.get("/pipelines").json();
    let pipeline = listed["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == program)
        .unwrap_or_else(|| panic!("no {program}: {listed}"));
    pipeline["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "database")
        .unwrap_or_else(|| panic!("{program} has no database: {pipeline}"))
        .clone()
}
