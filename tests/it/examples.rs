//! The examples the README shows really work: `examples/kmer_count.sh` as a
//! processing command and as a pipeline of `examples/seqspool.toml`, and
//! `examples/submit.py` as a client (one sequence, and a plate with a
//! pipeline, its parameters and a token), each against a real server.
//! (`blast` runs the example configuration's BLAST pipelines.)

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use seqspool::Config;

/// The README's `--command`, with the script's absolute path: the command runs
/// in the experiment's directory, where a relative path would not resolve.
fn kmer_command() -> String {
    format!("sh {}/examples/kmer_count.sh", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_kmer_example_writes_sorted_counts_that_match_a_hand_count() {
    let server = Server::start(|config| config.command = Some(kmer_command()));
    // ACGTACGTAC has eight 3-mers: ACG, CGT, GTA and TAC twice each; AAAA adds
    // two AAA; TTT once. Wrapped over lines with a header, as FASTA comes.
    let id = server.submit("kmers", ">kmers demo\nACGTACGTAC\nAAAATTT");
    let record = server.wait_for_state(&id, "COMPLETE");
    assert!(record["error"].is_null(), "{record:#}");

    let tsv = server.get(&format!("/experiments/{id}/files/kmers.tsv"));
    assert_eq!(tsv.status, 200, "{}", tsv.text());
    let text = tsv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "kmer\tcount");
    // ACGTACGTACAAAATTT: 17 residues, 15 windows of 3.
    let expected = [
        "AAA\t2", "ACG\t2", "CGT\t2", "GTA\t2", "TAC\t2", // count 2, alphabetical
        "AAT\t1", "ACA\t1", "ATT\t1", "CAA\t1", "TTT\t1", // count 1, alphabetical
    ];
    assert_eq!(&lines[1..], &expected, "kmers.tsv:\n{text}");

    let stdout = server.get(&format!("/experiments/{id}/files/stdout.txt"));
    assert_eq!(stdout.text().trim(), "17 residues, 15 3-mers, 10 distinct");
}

#[test]
fn the_kmer_example_fails_a_sequence_shorter_than_k() {
    let server = Server::start(|config| config.command = Some(kmer_command()));
    let id = server.submit("too-short", "AC");
    let record = server.wait_for_state(&id, "EXECUTOR_ERROR");
    assert_ne!(record["exit_code"], 0, "{record:#}");

    let stderr = server
        .get(&format!("/experiments/{id}/files/stderr.txt"))
        .text();
    assert!(stderr.contains("fewer than k = 3"), "stderr.txt: {stderr}");
    let files = server.get(&format!("/experiments/{id}")).json()["files"].to_string();
    assert!(
        !files.contains("kmers.tsv"),
        "no result file for a failed count: {files}"
    );
}

fn example_config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines/blast.toml")
}

/// Loads the example configuration into `config`, as `--config` would.
fn apply_example_config(config: &mut Config) {
    let path = example_config_path();
    let text = std::fs::read_to_string(&path).expect("examples/pipelines/blast.toml");
    config
        .apply_file(&text, &path, None)
        .expect("examples/pipelines/blast.toml reads");
}

#[test]
fn the_example_configuration_declares_the_pipelines_the_readme_names() {
    let mut config = Config::new("experiments");
    apply_example_config(&mut config);
    let names: Vec<&str> = config.pipelines.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["analysis", "blastn", "blastp", "kmers"]);
    let examples = example_config_path()
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    // The databases are where examples/data/make_databases.sh builds them by default.
    for (pipeline, db) in [("blastn", "reference"), ("blastp", "reference_proteins")] {
        let pipeline = config
            .pipelines
            .iter()
            .find(|p| p.name == pipeline)
            .unwrap();
        assert_eq!(
            Path::new(&pipeline.definition.env["BLAST_DB"]),
            examples.join("../data/db").join(db)
        );
        assert!(pipeline.check.is_some(), "{pipeline:?}");
    }
}

#[test]
fn the_example_configurations_kmer_pipeline_counts_words_of_k_letters() {
    let server = Server::start(|config| {
        apply_example_config(config);
        // Only the pipelines that need no BLAST database: the BLAST ones' checks
        // would pause the queue where BLAST+ or its databases are missing
        // (`blast` runs them with their databases).
        config
            .pipelines
            .retain(|pipeline| pipeline.name == "kmers" || pipeline.name == "analysis");
    });
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "kmers4"),
            ("query_sequence", "ACGTACGTACAAAATTT"),
            ("pipeline", "kmers"),
            ("param.k", "4"),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["pipeline"], "kmers", "{record:#}");
    assert_eq!(record["params"]["k"], "4", "{record:#}");

    let text = server
        .get(&format!("/experiments/{id}/files/kmers.tsv"))
        .text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "kmer\tcount");
    // ACGTACGTACAAAATTT: 17 residues, 14 windows of 4.
    let expected = [
        "ACGT\t2", "CGTA\t2", "GTAC\t2", // count 2, alphabetical
        "AAAA\t1", "AAAT\t1", "AATT\t1", "ACAA\t1", "ATTT\t1", "CAAA\t1", "TACA\t1",
        "TACG\t1", // count 1, alphabetical
    ];
    assert_eq!(&lines[1..], &expected, "kmers.tsv:\n{text}");
    let stdout = server
        .get(&format!("/experiments/{id}/files/stdout.txt"))
        .text();
    assert_eq!(stdout.trim(), "17 residues, 14 4-mers, 11 distinct");

    // k is checked before anything is written.
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "kmers13"),
            ("query_sequence", "ACGTACGTACAAAATTT"),
            ("pipeline", "kmers"),
            ("param.k", "13"),
        ],
    );
    assert_error(&answer, 422, Some("param.k"), &["12"], "k = 13");
    assert_eq!(server.experiment_dirs().len(), 1);
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn the_client_example_submits_waits_and_prints_the_analysis() {
    let python = python3();
    let server = Server::start(|_| {});
    let output = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/submit.py"))
        .args(["--server", &format!("http://{}", server.addr)])
        .args(["--max-wait", "30"])
        .args(["primer", "ATGGCCTAA"])
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "submit.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("submitted experiment 000001"), "{stdout}");
    assert!(stdout.contains("finished: COMPLETE"), "{stdout}");
    assert!(stdout.contains("analysis.json"), "{stdout}");
    assert!(
        stdout.contains("\"length\": 9"),
        "the analysis is printed: {stdout}"
    );
}

/// How many `GET /experiments/{id}` the server has answered with 200, by its metrics.
fn reads_answered(server: &Server) -> f64 {
    requests_answered(server.addr, "/experiments/{id}", 200)
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn the_client_example_waits_for_the_end_in_one_request_and_prints_the_estimate() {
    let python = python3();
    // Long enough that a poll would ask more than once. The experiment
    // named `ahead` also waits for its gate, so that the second submission
    // finds it still running however slowly python3 starts.
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("ahead");
    let command = format!(
        "if [ \"$QUERY_NAME\" = ahead ]; then while [ ! -e '{}' ]; do sleep 0.02; done; fi; \
         sleep 2; echo done > result.txt",
        gate.display()
    );
    let server = Server::start(move |config| config.command = Some(command));
    let submit = || {
        let output = Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/submit.py"))
            .args(["--server", &format!("http://{}", server.addr)])
            .args(["--max-wait", "60"])
            .args(["primer", "ATGGCCTAA"])
            .output()
            .expect("running python3");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "submit.py failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        stdout
    };

    let first = submit();
    // Queued when accepted, or already taken by the worker by the time the answer was made.
    assert!(
        first.starts_with("submitted experiment 000001, queue position 1; no estimate yet\n")
            || first.starts_with("submitted experiment 000001, RUNNING; no estimate yet\n"),
        "{first}"
    );
    assert!(
        first.contains("experiment 000001 finished: COMPLETE"),
        "{first}"
    );
    assert!(first.contains("result.txt"), "{first}");
    // Its read (the submission is another route) waited on the server until
    // the run ended, two seconds after it began: one request, no poll.
    assert_eq!(reads_answered(&server), 1.0);

    // A run has completed: the next one is told when it should start and
    // end. One submitted ahead of it (two seconds long) keeps it waiting.
    let ahead = post_form(
        server.addr,
        "/experiments",
        &[("query_name", "ahead"), ("query_sequence", "ACGT")],
    );
    assert_eq!(ahead.status, 202, "{}", ahead.text());
    let second = std::thread::scope(|scope| {
        let second = scope.spawn(submit);
        // Once the second is accepted behind it (seen in the backlog, a
        // route the read count leaves alone), `ahead` may go on.
        wait_until("the second submission is queued", || {
            request(server.addr, "GET", "/backlog", &[], b"")
                .text()
                .contains("Currently 2 jobs")
        });
        std::fs::write(&gate, "").unwrap();
        second.join().unwrap()
    });
    let line = second.lines().next().unwrap();
    assert!(
        (line.starts_with(
            "submitted experiment 000003, queue position 1; expected to start about "
        ) || line.starts_with(
            "submitted experiment 000003, queue position 2; expected to start about "
        )) && line.contains(", to finish about "),
        "{second}"
    );
    assert!(
        second.contains("experiment 000003 finished: COMPLETE"),
        "{second}"
    );
    assert_eq!(reads_answered(&server), 2.0);
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn the_client_example_explains_a_refusal_and_exits_1() {
    let python = python3();
    let server = Server::start(|_| {});
    let output = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/submit.py"))
        .args(["--server", &format!("http://{}", server.addr)])
        .args(["bad", "ACGT@"])
        .output()
        .expect("running python3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("422") && stderr.contains("query_sequence"),
        "{stderr}"
    );
    assert!(server.experiment_dirs().is_empty());
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn the_client_example_submits_a_plate_with_a_pipeline_its_parameters_and_a_token() {
    let python = python3();
    let lab = Lab::new();
    lab.config(
        "[[pipeline]]\nname = \"slow\"\ncommand = '''sleep 0.3; echo \"$PARAM_EVALUE\" > hits.tsv'''\n\
         [[pipeline.param]]\nname = \"evalue\"\ntype = \"number\"\ndefault = 1e-5\nabove = 0\n",
    );
    let server = lab.server(|config| config.access = seqspool::config::AccessMode::Members);
    let token = add_user(&server.dir, "anna", false);
    let plate = lab.path("plate.fasta");
    std::fs::write(&plate, ">A01\nACGTACGT\n>A02\nTTGCAACG\n>A03\nGGCATGCA\n").unwrap();
    let submit = |token: Option<&str>| {
        let mut command = Command::new(python);
        command
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/submit.py"))
            .args(["--fasta", plate.to_str().unwrap()])
            .args(["--pipeline", "slow", "--param", "evalue=1e-10"])
            .env("SEQSPOOL_URL", format!("http://{}", server.addr))
            .env_remove("SEQSPOOL_TOKEN");
        if let Some(token) = token {
            command.env("SEQSPOOL_TOKEN", token);
        }
        output_within(&mut command)
    };

    // Without the token: what to do, and nothing written.
    let refused = submit(None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("401")
            && stderr.contains("set SEQSPOOL_TOKEN")
            && stderr.contains("seqspool user add NAME"),
        "{stderr}"
    );
    assert!(server.experiment_dirs().is_empty());

    let done = submit(Some(&token));
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        stdout.starts_with("submitted batch 000001: 3 experiments, 000001 to 000003\n"),
        "{stdout}"
    );
    for line in [
        "000001   A01  COMPLETE",
        "000002   A02  COMPLETE",
        "000003   A03  COMPLETE",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    // One held read each, answered when it ended: no poll.
    assert_eq!(reads_answered(&server), 3.0);
    let record = server.get("/experiments/000003").json();
    assert_eq!(record["submitted_by"], "anna");
    assert_eq!(record["pipeline"], "slow");
    assert_eq!(record["params"]["evalue"], "1e-10", "{record:#}");
    let hits = server.get("/experiments/000002/files/hits.tsv").text();
    assert_eq!(hits, "1e-10\n");
}
