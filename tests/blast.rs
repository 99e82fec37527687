//! The real pipeline of issue 4: seqspool running `examples/pipelines/blastn.sh`
//! against a database built from the shipped `examples/data/reference.fasta`.
//!
//! It needs NCBI BLAST+ (`blastn`, `makeblastdb`, `blast_formatter`). Without
//! it the test says so loudly and skips, unless `SEQSPOOL_TEST_REQUIRE` names
//! `blast` (as CI does, which installs Debian's `ncbi-blast+`): then it fails.

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The columns the pipeline's `hits.tsv` header names, in order.
const COLUMNS: [&str; 12] = [
    "qseqid", "sseqid", "pident", "length", "mismatch", "gapopen", "qstart", "qend", "sstart",
    "send", "evalue", "bitscore",
];

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pipeline script, quoted for the command line (the path is ours, not a client's).
fn script() -> String {
    quoted(&repository().join("examples/pipelines/blastn.sh"))
}

fn quoted(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 path");
    assert!(!text.contains('\''), "a path with a quote in it: {text}");
    format!("'{text}'")
}

/// True if BLAST+ is here; false (after a loud message) if the test should skip.
fn blast_available() -> bool {
    let missing: Vec<&str> = ["blastn", "makeblastdb", "blast_formatter"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !required("blast"),
        "{} not on the PATH, and SEQSPOOL_TEST_REQUIRE names blast: install NCBI BLAST+ (Debian: apt-get install ncbi-blast+)",
        missing.join(", ")
    );
    // Straight to the process's stderr: libtest hides eprintln! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n********************************************************************\n\
         SKIPPED: the BLAST pipeline test needs NCBI BLAST+ ({} missing).\n\
         Install it (Debian: apt-get install ncbi-blast+) or set\n\
         SEQSPOOL_TEST_REQUIRE=blast to make this a failure.\n\
         ********************************************************************\n",
        missing.join(", ")
    );
    false
}

/// The sequences of the shipped reference, by identifier.
fn reference() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repository().join("examples/data/reference.fasta"))
        .expect("the reference FASTA");
    text.split('>')
        .skip(1)
        .map(|record| {
            let (header, body) = record.split_once('\n').expect("a header line");
            let name = header.split_whitespace().next().expect("an identifier");
            (name.to_owned(), body.split_whitespace().collect())
        })
        .collect()
}

fn reverse_complement(sequence: &str) -> String {
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

/// Builds the reference's BLAST database in `dir` and returns its path.
fn make_database(dir: &Path) -> PathBuf {
    let db = dir.join("refdb");
    let output = Command::new("makeblastdb")
        .arg("-in")
        .arg(repository().join("examples/data/reference.fasta"))
        .args(["-dbtype", "nucl", "-out"])
        .arg(&db)
        .stdin(Stdio::null())
        .output()
        .expect("running makeblastdb");
    assert!(
        output.status.success(),
        "makeblastdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    db
}

/// Waits until experiment `id` has finished, whichever way, and returns its record.
fn wait_finished(server: &Server, id: &str) -> Value {
    let mut record = Value::Null;
    wait_until(&format!("experiment {id} finishes"), || {
        record = server.get(&format!("/experiments/{id}")).json();
        !matches!(record["state"].as_str(), Some("QUEUED" | "RUNNING"))
    });
    record
}

fn file(server: &Server, id: &str, name: &str) -> String {
    let answer = server.get(&format!("/experiments/{id}/files/{name}"));
    assert_eq!(answer.status, 200, "{name} of {id}: {}", answer.text());
    answer.text()
}

#[test]
fn the_blastn_pipeline_finds_the_sequence_each_query_was_cut_from() {
    if !blast_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = make_database(tmp.path());
    let reference = reference();
    let sequence_of = |name: &str| {
        reference
            .iter()
            .find(|(n, _)| n == name)
            .expect(name)
            .1
            .clone()
    };
    let ref04 = sequence_of("ref04");
    let ref07 = sequence_of("ref07");

    // A batch of two queries: 300 nt from the middle of ref04, and a stretch of
    // ref07 read from the other strand.
    let fasta = format!(
        ">cut04 ref04 700..999\n{}\n>cut07rc ref07 1201..1450, reverse complement\n{}\n",
        &ref04[700..1000],
        reverse_complement(&ref07[1200..1450])
    );
    let command = format!("BLAST_DB={} sh {}", quoted(&db), script());
    let server = Server::start(|config| config.command = Some(command));
    let answer = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "text/x-fasta")],
        fasta.as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let body = answer.json();
    let ids: Vec<&str> = body["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();

    for (id, query, subject, length, (sstart, send)) in [
        (ids[0], "cut04", "ref04", 300, (701, 1000)),
        (ids[1], "cut07rc", "ref07", 250, (1450, 1201)),
    ] {
        let record = wait_finished(&server, id);
        assert_eq!(
            record["state"],
            "COMPLETE",
            "{record:#}\nstderr.txt:\n{}",
            file(&server, id, "stderr.txt")
        );

        let tsv = file(&server, id, "hits.tsv");
        let mut lines = tsv.lines();
        assert_eq!(
            lines.next(),
            Some(COLUMNS.join("\t").as_str()),
            "hits.tsv:\n{tsv}"
        );
        let top: Vec<&str> = lines
            .next()
            .unwrap_or_else(|| panic!("no hit in hits.tsv:\n{tsv}"))
            .split('\t')
            .collect();
        assert_eq!(top.len(), COLUMNS.len(), "{top:?}");
        assert_eq!(
            (top[0], top[1], top[2]),
            (query, subject, "100.000"),
            "the top hit: {top:?}"
        );
        assert_eq!(top[3].parse::<usize>().unwrap(), length, "{top:?}");
        assert_eq!(
            (
                top[8].parse::<usize>().unwrap(),
                top[9].parse::<usize>().unwrap()
            ),
            (sstart, send),
            "{top:?}"
        );

        let xml = file(&server, id, "hits.xml");
        assert!(
            xml.starts_with("<?xml"),
            "hits.xml is not XML: {}",
            &xml[..xml.len().min(200)]
        );
        assert!(
            xml.contains("<BlastOutput_program>blastn</BlastOutput_program>"),
            "{xml}"
        );
        assert!(
            xml.contains(&format!("<Hit_def>{subject} synthetic")),
            "{xml}"
        );
        assert!(
            xml.trim_end().ends_with("</BlastOutput>"),
            "hits.xml is cut short"
        );
    }
}

#[test]
fn a_blast_failure_ends_the_experiment_with_blasts_own_exit_code() {
    if !blast_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-db");
    let command = format!("BLAST_DB={} sh {}", quoted(&missing), script());
    let server = Server::start(|config| config.command = Some(command));
    let id = server.submit("q", "ACGTACGTACGTACGTACGTACGTACGTAC");
    let record = wait_finished(&server, &id);
    assert_eq!(record["state"], "EXECUTOR_ERROR", "{record:#}");
    // blastn's code for a database it cannot open.
    assert_eq!(record["exit_code"], 2, "{record:#}");
    let stderr = file(&server, &id, "stderr.txt");
    assert!(stderr.contains("BLAST Database error"), "{stderr}");
    assert!(stderr.contains("blastn exited with code 2"), "{stderr}");
}

#[test]
fn the_pipeline_without_blast_db_fails_saying_so() {
    // No BLAST needed: the script stops before running it.
    let server =
        Server::start(|config| config.command = Some(format!("unset BLAST_DB; sh {}", script())));
    let id = server.submit("q", "ACGTACGT");
    let record = wait_finished(&server, &id);
    assert_eq!(
        (record["state"].as_str(), record["exit_code"].as_i64()),
        (Some("EXECUTOR_ERROR"), Some(2)),
        "{record:#}"
    );
    let stderr = file(&server, &id, "stderr.txt");
    assert!(stderr.contains("BLAST_DB is not set"), "{stderr}");
}
