//! The real pipelines: seqspool running `examples/pipelines/blastn.sh` and
//! `blastp.sh` against the databases `examples/data/make_databases.sh` builds
//! from the shipped references, as a plain `--command` and as the lab's
//! configuration `examples/seqspool.toml` declares them.
//!
//! It needs NCBI BLAST+ (`blastn`, `blastp`, `makeblastdb`, `blast_formatter`,
//! `blastdbcmd`; Debian's `ncbi-blast+`), marked as `common`'s doc says.

use crate::common::blast::*;
use crate::common::*;

use std::path::Path;

use serde_json::Value;

/// The columns the pipelines' `hits.tsv` header names, in order: the standard
/// twelve of `-outfmt 6`, then the hit's title.
const COLUMNS: [&str; 13] = [
    "qseqid", "sseqid", "pident", "length", "mismatch", "gapopen", "qstart", "qend", "sstart",
    "send", "evalue", "bitscore", "stitle",
];

/// The blastn script, quoted for the command line (the path is ours, not a client's).
fn script() -> String {
    quoted(&repository().join("examples/pipelines/blastn.sh"))
}

fn quoted(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 path");
    assert!(!text.contains('\''), "a path with a quote in it: {text}");
    format!("'{text}'")
}

/// Submits a form to `POST /experiments`, expecting 202, and returns the id.
fn submit_form(server: &Server, fields: &[(&str, &str)]) -> String {
    let answer = server.post_form("/experiments", fields);
    assert_eq!(answer.status, 202, "{fields:?}: {}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

/// The hits of a `hits.tsv`, each split into its columns, after checking its header.
fn hits(tsv: &str) -> Vec<Vec<String>> {
    let mut lines = tsv.lines();
    assert_eq!(
        lines.next(),
        Some(COLUMNS.join("\t").as_str()),
        "hits.tsv:\n{tsv}"
    );
    let hits: Vec<Vec<String>> = lines
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect();
    assert!(!hits.is_empty(), "no hit in hits.tsv:\n{tsv}");
    for hit in &hits {
        assert_eq!(hit.len(), COLUMNS.len(), "{hit:?}");
    }
    hits
}

/// Checks `hits.xml` of experiment `id`: whole, from `program`, naming `subject`'s title.
fn check_xml(server: &Server, id: &str, program: &str, subject: &Reference) {
    let xml = file(server, id, "hits.xml");
    assert!(
        xml.starts_with("<?xml"),
        "hits.xml is not XML: {}",
        &xml[..xml.len().min(200)]
    );
    assert!(
        xml.contains(&format!(
            "<BlastOutput_program>{program}</BlastOutput_program>"
        )),
        "{xml}"
    );
    // -parse_seqids: the hit is its own identifier and title, not gnl|BL_ORD_ID|n.
    assert!(
        xml.contains(&format!("<Hit_id>{}</Hit_id>", subject.id)),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<Hit_def>{}</Hit_def>", subject.title)),
        "{xml}"
    );
    assert!(
        xml.trim_end().ends_with("</BlastOutput>"),
        "hits.xml is cut short"
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_blastn_pipeline_finds_the_sequence_each_query_was_cut_from() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    make_databases(tmp.path());
    let db = tmp.path().join("reference");
    let ref04 = reference("reference.fasta", "ref04");
    let ref07 = reference("reference.fasta", "ref07");

    // A batch of two queries: 300 nt from the middle of ref04, and a stretch of
    // ref07 read from the other strand.
    let fasta = format!(
        ">cut04 ref04 700..999\n{}\n>cut07rc ref07 1201..1450, reverse complement\n{}\n",
        &ref04.sequence[700..1000],
        reverse_complement(&ref07.sequence[1200..1450])
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
        (ids[0], "cut04", &ref04, 300, (701, 1000)),
        (ids[1], "cut07rc", &ref07, 250, (1450, 1201)),
    ] {
        wait_complete(&server, id);
        let hits = hits(&file(&server, id, "hits.tsv"));
        let top = &hits[0];
        assert_eq!(
            (top[0].as_str(), top[1].as_str(), top[2].as_str()),
            (query, subject.id.as_str(), "100.000"),
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
        assert_eq!(top[12], subject.title, "{top:?}");
        check_xml(&server, id, "blastn", subject);
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn a_blast_failure_ends_the_experiment_with_blasts_own_exit_code() {
    need_blast();
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

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_example_configurations_blastn_finds_the_reference_a_read_was_cut_from() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    let server = ready_example_server(tmp.path());
    let ref06 = reference("reference.fasta", "ref06");
    let ref03 = reference("reference.fasta", "ref03");

    // 400 nt of ref06 with the pipeline's defaults (megablast); 120 nt of ref03's
    // other strand with the blastn task, and room for one hit only.
    let read = &ref06.sequence[1100..1500];
    let id = submit_form(
        &server,
        &[
            ("query_name", "read06"),
            ("query_sequence", read),
            ("pipeline", "blastn"),
        ],
    );
    let rc = reverse_complement(&ref03.sequence[500..620]);
    let id_rc = submit_form(
        &server,
        &[
            ("query_name", "read03rc"),
            ("query_sequence", &rc),
            ("pipeline", "blastn"),
            ("param.task", "blastn"),
            ("param.evalue", "1e-10"),
            ("param.max_hits", "1"),
        ],
    );

    let record = wait_complete(&server, &id);
    assert_eq!(record["pipeline"], "blastn", "{record:#}");
    assert_eq!(record["params"]["task"], "megablast", "{record:#}");
    let hits06 = hits(&file(&server, &id, "hits.tsv"));
    let top = &hits06[0];
    assert_eq!(
        (
            top[0].as_str(),
            top[1].as_str(),
            top[2].as_str(),
            top[3].as_str()
        ),
        ("read06", "ref06", "100.000", "400"),
        "the top hit: {top:?}"
    );
    assert_eq!(
        (top[8].as_str(), top[9].as_str()),
        ("1101", "1500"),
        "{top:?}"
    );
    assert_eq!(top[12], ref06.title, "{top:?}");
    check_xml(&server, &id, "blastn", &ref06);
    let archive = server.get(&format!("/experiments/{id}/files/hits.asn"));
    assert_eq!(archive.status, 200);
    assert!(archive.text().starts_with("Blast4-archive"), "hits.asn");

    let record = wait_complete(&server, &id_rc);
    assert_eq!(record["params"]["task"], "blastn", "{record:#}");
    let hits03 = hits(&file(&server, &id_rc, "hits.tsv"));
    assert_eq!(hits03.len(), 1, "param.max_hits = 1: {hits03:?}");
    let top = &hits03[0];
    assert_eq!(
        (
            top[1].as_str(),
            top[2].as_str(),
            top[8].as_str(),
            top[9].as_str()
        ),
        ("ref03", "100.000", "620", "501"),
        "the top hit: {top:?}"
    );
    assert_eq!(top[12], ref03.title, "{top:?}");
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_example_configurations_blastp_finds_the_protein_a_query_was_cut_from() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    let server = ready_example_server(tmp.path());
    let proteins = "reference_proteins.fasta";
    let prot02 = reference(proteins, "prot02");
    let prot01 = reference(proteins, "prot01");
    let prot05 = reference(proteins, "prot05");

    let id = submit_form(
        &server,
        &[
            ("query_name", "gfp_fragment"),
            ("query_sequence", &prot02.sequence[40..160]),
            ("pipeline", "blastp"),
            ("param.evalue", "1e-3"),
            ("param.matrix", "BLOSUM80"),
        ],
    );
    // prot05 is a paralog of prot01: a piece of prot01 finds it second.
    let id_chitinase = submit_form(
        &server,
        &[
            ("query_name", "chitinase_fragment"),
            ("query_sequence", &prot01.sequence[50..250]),
            ("pipeline", "blastp"),
        ],
    );

    let record = wait_complete(&server, &id);
    assert_eq!(record["pipeline"], "blastp", "{record:#}");
    assert_eq!(record["params"]["evalue"], "1e-3", "{record:#}");
    assert_eq!(record["params"]["matrix"], "BLOSUM80", "{record:#}");
    let found = hits(&file(&server, &id, "hits.tsv"));
    let top = &found[0];
    assert_eq!(
        (
            top[0].as_str(),
            top[1].as_str(),
            top[2].as_str(),
            top[3].as_str()
        ),
        ("gfp_fragment", "prot02", "100.000", "120"),
        "the top hit: {top:?}"
    );
    assert_eq!((top[8].as_str(), top[9].as_str()), ("41", "160"), "{top:?}");
    assert_eq!(top[12], prot02.title, "{top:?}");
    check_xml(&server, &id, "blastp", &prot02);

    wait_complete(&server, &id_chitinase);
    let found = hits(&file(&server, &id_chitinase, "hits.tsv"));
    assert!(found.len() >= 2, "{found:?}");
    assert_eq!(
        (found[0][1].as_str(), found[0][2].as_str()),
        ("prot01", "100.000"),
        "{found:?}"
    );
    assert_eq!(found[1][1], "prot05", "{found:?}");
    assert_eq!(found[1][12], prot05.title, "{found:?}");
    let identity: f64 = found[1][2].parse().unwrap();
    assert!((60.0..90.0).contains(&identity), "{found:?}");
}

#[test]
#[cfg_attr(
    not(seqspool_test_blast),
    ignore = "needs NCBI BLAST+ (blastn, blastp, makeblastdb, blast_formatter, blastdbcmd on the PATH)"
)]
fn the_example_configuration_refuses_what_its_pipelines_do_not_take() {
    need_blast();
    let tmp = tempfile::tempdir().unwrap();
    make_databases(tmp.path());
    let server = example_server(tmp.path());
    let dna = &reference("reference.fasta", "ref04").sequence[700..1000];

    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "wrong_tool"),
            ("query_sequence", dna),
            ("pipeline", "blastp"),
        ],
    );
    assert_error(
        &answer,
        422,
        Some("query_sequence"),
        &["blastp", "protein", "DNA"],
        "a DNA sequence to blastp",
    );
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "bad_evalue"),
            ("query_sequence", dna),
            ("pipeline", "blastn"),
            ("param.evalue", "-1"),
        ],
    );
    assert_error(
        &answer,
        422,
        Some("param.evalue"),
        &["-1"],
        "a negative E-value",
    );
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "bad_matrix"),
            ("query_sequence", "MKVLAAGIVGLLLAQPA"),
            ("pipeline", "blastp"),
            ("param.matrix", "BLOSUM62; touch pwned"),
        ],
    );
    assert_error(
        &answer,
        422,
        Some("param.matrix"),
        &["BLOSUM62, BLOSUM45"],
        "a matrix that is not offered",
    );
    assert!(server.experiment_dirs().is_empty());
    assert_ready(&server);
}

#[test]
fn without_its_databases_the_example_configuration_pauses_the_queue() {
    // No BLAST needed: without it, the checks fail all the same.
    let tmp = tempfile::tempdir().unwrap();
    let server = example_server(tmp.path());
    let mut queue = Value::Null;
    wait_until("the queue pauses", || {
        queue = server.get("/queue").json();
        queue["paused"] == true
    });
    let reason = queue["pause"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("blastn"), "{queue:#}");
    let pipelines = server.get("/pipelines").json();
    for pipeline in pipelines["pipelines"].as_array().unwrap() {
        let needs_a_database = pipeline["name"] == "blastn" || pipeline["name"] == "blastp";
        assert_eq!(pipeline["available"], !needs_a_database, "{pipeline:#}");
    }
    // The scientists can still submit; it waits for the operator.
    let id = submit_form(
        &server,
        &[
            ("query_name", "waits"),
            ("query_sequence", "ACGTACGTACGTACGT"),
            ("pipeline", "blastn"),
        ],
    );
    assert_eq!(
        server.get(&format!("/experiments/{id}")).json()["state"],
        "QUEUED"
    );
}
