//! Pipelines: the lab's tools, declared in its configuration file, chosen per
//! experiment and recorded with it. Every pipeline shares the one queue and
//! the one worker; parameters reach a command only through its environment;
//! what was accepted runs as accepted, whatever the configuration says after
//! a restart; a missing program or a failed check pauses the queue instead of
//! failing the experiments behind it.

use crate::common::*;

use std::fs;
use std::path::Path;
use std::thread;

use serde_json::{json, Value};

/// Two pipelines that log their runs: `start PIPELINE ID` and `end PIPELINE ID`.
const TWO: &str = r#"
[[pipeline]]
name = "first"
title = "The first tool"
command = 'echo "start $PIPELINE $EXPERIMENT_ID" >> @LOG@; sleep 0.02; echo "end $PIPELINE $EXPERIMENT_ID" >> @LOG@'

[[pipeline]]
name = "second"
title = "The second tool"
description = "Takes proteins only, with settings."
alphabets = ["protein"]
command = 'echo "start $PIPELINE $EXPERIMENT_ID" >> @LOG@; env | grep -E "^(PARAM_|PIPELINE=)" | sort > env.txt; echo "end $PIPELINE $EXPERIMENT_ID" >> @LOG@'

[[pipeline.param]]
name = "evalue"
type = "number"
label = "E-value"
default = 0.001
min = 0
max = 10

[[pipeline.param]]
name = "matrix"
type = "choice"
options = ["BLOSUM62", "PAM30"]
default = "BLOSUM62"

[[pipeline.param]]
name = "tag"
type = "text"
pattern = "[A-Za-z0-9_]{1,20}"

[[pipeline.param]]
name = "note"
type = "text"
"#;

const DNA: &str = "ACGTACGTTGCAACGT";
const PROTEIN: &str = "MKVLAAGIVGLLLQRW";

fn submit_to(server: &Server, body: &Value) -> Response {
    server.post_json("/experiments", body)
}

#[test]
fn experiments_of_two_pipelines_from_five_clients_run_one_at_a_time_in_acceptance_order() {
    let lab = Lab::new();
    lab.config(TWO);
    let server = lab.server(|_| {});
    let addr = server.addr;
    let clients: Vec<_> = (0..5)
        .map(|client| {
            thread::spawn(move || {
                (0..4)
                    .map(|n| {
                        let (pipeline, sequence) = if (client + n) % 2 == 0 {
                            ("first", DNA)
                        } else {
                            ("second", PROTEIN)
                        };
                        let answer = request(
                            addr,
                            "POST",
                            "/experiments",
                            &[("Content-Type", "application/json")],
                            json!({"query_name": format!("c{client}-{n}"), "query_sequence": sequence, "pipeline": pipeline})
                                .to_string()
                                .as_bytes(),
                        );
                        assert_eq!(answer.status, 202, "{}", answer.text());
                        let record = answer.json();
                        assert_eq!(record["pipeline"], pipeline);
                        (record["id"].as_str().unwrap().to_owned(), pipeline)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut accepted: Vec<(String, &str)> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    accepted.sort();
    for (id, _) in &accepted {
        server.wait_for_state(id, "COMPLETE");
    }
    // Each run ended before the next began, in id (acceptance) order,
    // whichever pipeline it belonged to.
    let expected: Vec<String> = accepted
        .iter()
        .flat_map(|(id, pipeline)| {
            [
                format!("start {pipeline} {id}"),
                format!("end {pipeline} {id}"),
            ]
        })
        .collect();
    assert_eq!(lab.log(), expected);
}

#[test]
fn parameters_reach_the_command_only_through_its_environment() {
    let lab = Lab::new();
    lab.config(TWO);
    let server = lab.server(|_| {});
    let answer = submit_to(
        &server,
        &json!({
            "query_name": "p", "query_sequence": PROTEIN, "pipeline": "second",
            "params": {"evalue": 1e-5, "tag": "run_7", "note": "a;b $(touch pwned) `id`"}
        }),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let record = answer.json();
    let id = record["id"].as_str().unwrap();
    assert_eq!(
        record["params"],
        json!({"evalue": "0.00001", "matrix": "BLOSUM62", "tag": "run_7", "note": "a;b $(touch pwned) `id`"})
    );
    server.wait_for_state(id, "COMPLETE");
    let env = fs::read_to_string(server.dir.join(id).join("env.txt")).unwrap();
    assert_eq!(
        env,
        "PARAM_EVALUE=0.00001\nPARAM_MATRIX=BLOSUM62\nPARAM_NOTE=a;b $(touch pwned) `id`\nPARAM_TAG=run_7\nPIPELINE=second\n"
    );
    // The text reached the command verbatim, and nothing of it ran.
    assert!(!server.dir.join(id).join("pwned").exists());
    assert!(!server.dir.join(id).join("id").exists());
    // The page and the record say what it ran with.
    let record = server.get(&format!("/experiments/{id}")).json();
    assert_eq!(record["pipeline"], "second");
    assert!(record["definition"]["command"]
        .as_str()
        .unwrap()
        .contains("env.txt"));
}

#[test]
fn each_kind_of_bad_submission_gets_422_naming_its_field_and_nothing_is_written() {
    let lab = Lab::new();
    lab.config(TWO);
    let server = lab.server(|_| {});
    let before = snapshot(&server.dir);
    let cases = [
        (
            json!({"query_name": "q", "query_sequence": DNA, "pipeline": "third"}),
            "pipeline",
            "no pipeline 'third'",
        ),
        (
            json!({"query_name": "q", "query_sequence": DNA, "pipeline": "second"}),
            "query_sequence",
            "second takes protein; this sequence reads as DNA",
        ),
        (
            json!({"query_name": "q", "query_sequence": PROTEIN, "pipeline": "second", "params": {"colour": "red"}}),
            "param.colour",
            "has no parameter 'colour'",
        ),
        (
            json!({"query_name": "q", "query_sequence": PROTEIN, "pipeline": "second", "params": {"evalue": 11}}),
            "param.evalue",
            "above the most allowed",
        ),
        (
            json!({"query_name": "q", "query_sequence": PROTEIN, "pipeline": "second", "params": {"evalue": "1e-5; rm"}}),
            "param.evalue",
            "is not a number",
        ),
        (
            json!({"query_name": "q", "query_sequence": PROTEIN, "pipeline": "second", "params": {"matrix": "PAM250"}}),
            "param.matrix",
            "is not one of BLOSUM62, PAM30",
        ),
        (
            json!({"query_name": "q", "query_sequence": PROTEIN, "pipeline": "second", "params": {"tag": "$(touch pwned)"}}),
            "param.tag",
            "does not match the pattern",
        ),
        (
            json!({"query_name": "q", "query_sequence": DNA, "pipeline": "first", "params": {"evalue": 1}}),
            "param.evalue",
            "first takes no parameters",
        ),
    ];
    for (body, field, says) in cases {
        let answer = submit_to(&server, &body);
        assert_error(&answer, 422, Some(field), &[says], &body.to_string());
    }
    // The same from a form and from a FASTA body's query string.
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "q"),
            ("query_sequence", PROTEIN),
            ("pipeline", "second"),
            ("param.evalue", "-1"),
        ],
    );
    assert_error(
        &answer,
        422,
        Some("param.evalue"),
        &["below the least allowed"],
        "a form",
    );
    let answer = request(
        server.addr,
        "POST",
        "/experiments?pipeline=second&param.matrix=nope",
        &[("Content-Type", "text/x-fasta")],
        format!(">a\n{PROTEIN}\n>b\n{PROTEIN}\n").as_bytes(),
    );
    assert_error(
        &answer,
        422,
        Some("param.matrix"),
        &["is not one of"],
        "a FASTA body",
    );
    let answer = request(
        server.addr,
        "POST",
        "/experiments?pipeline=second",
        &[("Content-Type", "text/x-fasta")],
        format!(">a\n{PROTEIN}\n>b\n{DNA}\n").as_bytes(),
    );
    assert_error(
        &answer,
        422,
        Some("query_sequence"),
        &["record 2 (b): second takes protein"],
        "a batch",
    );
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused submission wrote something"
    );

    // A FASTA body runs in the pipeline its query string names, with its parameters.
    let answer = request(
        server.addr,
        "POST",
        "/experiments?pipeline=second&param.matrix=PAM30",
        &[("Content-Type", "text/x-fasta")],
        format!(">a\n{PROTEIN}\n>b\n{PROTEIN}\n").as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    for experiment in answer.json()["experiments"].as_array().unwrap() {
        assert_eq!(experiment["pipeline"], "second");
        assert_eq!(experiment["params"]["matrix"], "PAM30");
    }
}

#[test]
fn the_pipelines_are_listed_with_their_parameters_for_a_client_to_build_its_form() {
    let lab = Lab::new();
    lab.config(TWO);
    let server = lab.server(|_| {});
    let listed = server.get("/pipelines").json();
    let pipelines = listed["pipelines"].as_array().unwrap();
    assert_eq!(pipelines.len(), 2);
    assert_eq!(pipelines[0]["name"], "first");
    assert_eq!(pipelines[0]["available"], true);
    let second = &pipelines[1];
    assert_eq!(second["title"], "The second tool");
    assert_eq!(second["alphabets"], json!(["protein"]));
    assert_eq!(
        second["params"][0],
        json!({"name": "evalue", "label": "E-value", "type": "number", "min": 0.0, "max": 10.0, "default": "0.001"})
    );
    assert_eq!(second["params"][1]["options"], json!(["BLOSUM62", "PAM30"]));
    assert_eq!(
        server.get("/service-info").json()["pipelines"],
        listed["pipelines"]
    );

    // Without a configuration: the built-in analysis, or the one command.
    let plain = Server::start(|_| {});
    assert_eq!(
        plain.get("/pipelines").json()["pipelines"][0]["name"],
        "analysis"
    );
    let command = Server::start(|config| config.command = Some("true".into()));
    let listed = command.get("/pipelines").json();
    assert_eq!(listed["pipelines"][0]["name"], "default");
    assert_eq!(listed["pipelines"][0]["command"], "true");
}

#[test]
fn an_e_value_of_0_is_refused_by_the_example_configurations_exclusive_bound() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines/blast.toml");
    let text = fs::read_to_string(&example).unwrap();
    let server = Server::start(|config| config.apply_file(&text, &example, None).unwrap());
    // Whatever its checks find (no databases here), nothing runs.
    server.post_form("/queue/pause", &[]);

    for (pipeline, sequence) in [("blastn", DNA), ("blastp", PROTEIN)] {
        for zero in ["0", "0.0", "-0", "0e5"] {
            let answer = server.post_form(
                "/experiments",
                &[
                    ("query_name", "q"),
                    ("query_sequence", sequence),
                    ("pipeline", pipeline),
                    ("param.evalue", zero),
                ],
            );
            assert_error(
                &answer,
                422,
                Some("param.evalue"),
                &["is too small: it must be above 0"],
                &format!("{pipeline} with E-value {zero}"),
            );
        }
    }
    // The same through NCBI's API, in its terms.
    let put = server.post_form(
        "/Blast.cgi",
        &[
            ("CMD", "Put"),
            ("PROGRAM", "blastn"),
            ("DATABASE", "nt"),
            ("QUERY", DNA),
            ("EXPECT", "0"),
        ],
    );
    assert!(
        put.text()
            .contains("EXPECT: 0 is too small: it must be above 0"),
        "{}",
        put.text()
    );
    assert_eq!(experiment_dirs(&server.dir), Vec::<String>::new());
    // The least E-value above 0 is taken.
    let answer = server.post_form(
        "/experiments",
        &[
            ("query_name", "q"),
            ("query_sequence", DNA),
            ("pipeline", "blastn"),
            ("param.evalue", "1e-300"),
        ],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());

    // A client building its form reads the bound, and so does a person.
    let listed = server.get("/pipelines").json();
    let evalue = &listed["pipelines"][1]["params"][0];
    assert_eq!(evalue["name"], "evalue", "{evalue}");
    assert_eq!(evalue["above"], 0.0, "{evalue}");
    assert!(evalue.get("min").is_none(), "{evalue}");
    let page = request(server.addr, "GET", "/", &[("Accept", "text/html")], b"").text();
    assert!(
        page.contains(
            "Report hits at or below this expect value. A number, above 0 and at most 1000."
        ),
        "{page}"
    );
}

/// What a restart is given: the same pipeline `a` with another command, or no `a` at all.
fn restart_keeps_the_recorded_definition(second_config: &str) {
    let lab = Lab::new();
    let gate = lab.path("gate");
    let first = format!(
        r#"
[[pipeline]]
name = "a"
command = 'echo "ran-as-accepted $EXPERIMENT_ID" >> @LOG@; while [ ! -e "{gate}" ]; do sleep 0.02; done'
"#,
        gate = gate.display()
    );
    lab.config(&first);
    let mut server = lab.binary(&[]);
    let ids: Vec<String> = (0..3)
        .map(|n| submit(server.addr, &format!("q{n}"), DNA))
        .collect();
    wait_for_state(server.addr, &ids[0], "RUNNING");
    // RUNNING comes before the command: crash only once it has begun.
    let begun = format!("ran-as-accepted {}", ids[0]);
    wait_until("the first command has begun", || lab.log().contains(&begun));
    server.crash();

    fs::write(&gate, "").unwrap();
    lab.config(second_config);
    let server = lab.binary(&[]);
    assert!(
        server
            .log()
            .contains("3 queued experiment(s) run a pipeline as it was when they were accepted"),
        "{}",
        server.log()
    );
    for id in &ids {
        let record = wait_for_state(server.addr, id, "COMPLETE");
        assert_eq!(record["pipeline"], "a");
    }
    let ran: Vec<String> = lab
        .log()
        .into_iter()
        .filter(|l| l.starts_with("ran-as-accepted"))
        .collect();
    assert_eq!(
        ran.len(),
        4,
        "the first runs twice (it was interrupted), then the others: {ran:?}"
    );
    assert!(
        !lab.log().iter().any(|l| l.starts_with("changed")),
        "{:?}",
        lab.log()
    );
}

#[test]
fn after_a_restart_with_a_changed_pipeline_accepted_experiments_run_as_accepted() {
    restart_keeps_the_recorded_definition(
        r#"
[[pipeline]]
name = "a"
command = 'echo "changed $EXPERIMENT_ID" >> @LOG@'
"#,
    );
}

#[test]
fn after_a_restart_without_their_pipeline_accepted_experiments_run_as_accepted() {
    restart_keeps_the_recorded_definition(
        r#"
[[pipeline]]
name = "other"
command = 'echo "changed $EXPERIMENT_ID" >> @LOG@'
"#,
    );
}

#[test]
fn a_missing_program_pauses_the_queue_and_the_rest_wait_until_it_is_installed() {
    let lab = Lab::new();
    let program = lab.path("bin/analyse");
    lab.config(&format!(
        "[[pipeline]]\nname = \"tool\"\ncommand = [\"{}\"]\n",
        program.display()
    ));
    let server = lab.server(|_| {});
    let ids: Vec<String> = (0..10)
        .map(|n| server.submit(&format!("q{n}"), DNA))
        .collect();
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let queue = server.get("/queue").json();
    let reason = queue["pause"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("experiment {}", ids[0])) && reason.contains("No such file"),
        "{queue:#}"
    );
    for (n, id) in ids.iter().enumerate() {
        let record = server.get(&format!("/experiments/{id}")).json();
        assert_eq!(record["state"], "QUEUED", "{record:#}");
        assert_eq!(record["position"], n + 1);
    }

    // The operator installs the program and resumes: all ten run, in order.
    fs::create_dir_all(program.parent().unwrap()).unwrap();
    fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$EXPERIMENT_ID\" >> '{}'\n",
            lab.path("run.log").display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
    assert_eq!(lab.log(), ids);
}

#[test]
fn a_failing_check_at_start_pauses_the_queue_and_shows_the_pipeline_unavailable() {
    let lab = Lab::new();
    let ready = lab.path("ready");
    lab.config(&format!(
        "[[pipeline]]\nname = \"needs-db\"\ncommand = \"true\"\ncheck = 'test -e \"{}\" || {{ echo database missing >&2; exit 3; }}'\n",
        ready.display()
    ));
    let server = lab.server(|_| {});
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let reason = server.get("/queue").json()["pause"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("pipeline needs-db is not ready") && reason.contains("database missing"),
        "{reason}"
    );
    let pipelines = server.get("/pipelines").json();
    assert_eq!(
        pipelines["pipelines"][0]["available"], false,
        "{pipelines:#}"
    );
    // Submissions are still taken; nothing runs.
    let id = server.submit("waits", DNA);
    assert_eq!(
        server.get(&format!("/experiments/{id}")).json()["state"],
        "QUEUED"
    );

    // Fixed, and resumed: the check runs again, passes, and the experiment runs.
    fs::write(&ready, "").unwrap();
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    server.wait_for_state(&id, "COMPLETE");
    assert_eq!(
        server.get("/pipelines").json()["pipelines"][0]["available"],
        true
    );
}

#[test]
fn a_failed_experiment_runs_again_as_a_new_one_linked_both_ways() {
    let lab = Lab::new();
    let flag = lab.path("works-now");
    lab.config(&format!(
        "[[pipeline]]\nname = \"flaky\"\ncommand = 'test -e \"{}\"'\n[[pipeline.param]]\nname = \"k\"\ntype = \"integer\"\ndefault = 3\n",
        flag.display()
    ));
    let server = lab.server(|_| {});
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": "q", "query_sequence": DNA, "params": {"k": 5}}),
    );
    let failed = answer.json()["id"].as_str().unwrap().to_owned();
    server.wait_for_state(&failed, "EXECUTOR_ERROR");

    fs::write(&flag, "").unwrap();
    let answer = server.post_form(&format!("/experiments/{failed}/retry"), &[]);
    assert_eq!(answer.status, 202, "{}", answer.text());
    let again = answer.json();
    let again_id = again["id"].as_str().unwrap().to_owned();
    assert_eq!(
        answer.header("Location"),
        Some(format!("/experiments/{again_id}").as_str())
    );
    assert_eq!(again["retry_of"], failed.as_str());
    assert_eq!(again["params"], json!({"k": "5"}));
    assert_eq!(again["query_name"], "q");
    server.wait_for_state(&again_id, "COMPLETE");
    assert_eq!(
        fs::read(server.dir.join(&again_id).join("query.fasta")).unwrap(),
        fs::read(server.dir.join(&failed).join("query.fasta")).unwrap()
    );
    let original = server.get(&format!("/experiments/{failed}")).json();
    assert_eq!(original["retried_as"], again_id.as_str());
    assert_eq!(original["state"], "EXECUTOR_ERROR");
    // On disk too.
    let on_disk = record_on_disk(&server.dir, &failed);
    assert_eq!(on_disk["retried_as"], again_id.as_str());

    // A completed experiment, or one still waiting, has nothing to run again.
    assert_error(
        &server.post_form(&format!("/experiments/{again_id}/retry"), &[]),
        409,
        None,
        &["completed"],
        "a retry of a completed experiment",
    );
    assert_eq!(
        server.post_form("/experiments/999999/retry", &[]).status,
        404
    );
}

#[test]
fn the_lab_configuration_file_sets_options_and_the_command_line_wins() {
    let lab = Lab::new();
    lab.config(
        "capacity = 3\nmax_records = 7\n[[pipeline]]\nname = \"only\"\ncommand = \"true\"\n",
    );
    let server = lab.binary(&["--capacity", "5"]);
    let info = request(server.addr, "GET", "/service-info", &[], b"").json();
    assert_eq!(info["capacity"], 5, "the command line wins");
    assert_eq!(
        info["max_records"], 7,
        "the file sets what the command line does not"
    );
    assert_eq!(info["pipelines"][0]["name"], "only");
    drop(server);

    // A mistake in the file stops the start with what and where.
    lab.config("[[pipeline]]\nname = \"Bad Name\"\ncommand = \"true\"\n");
    let output = output_within(&mut lab.command(&[]));
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("lab.toml") && said.contains("is not a pipeline name"),
        "{said}"
    );
}

#[test]
fn a_configuration_that_could_never_accept_anything_is_refused_naming_the_field() {
    let lab = Lab::new();
    // Runs the binary to its end; it must refuse to start, and say `parts`.
    let refused = |args: &[&str], env: &[(&str, &str)], parts: &[&str]| {
        let mut command = Binary::command(&lab.experiments(), args);
        for (name, value) in env {
            command.env(name, value);
        }
        let output = output_within(&mut command);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {env:?} started: {said}");
        for part in parts {
            assert!(said.contains(part), "{args:?} {env:?}: {said}");
        }
        assert!(
            !lab.experiments().exists(),
            "{args:?}: it made its directory"
        );
    };
    let pipeline = "[[pipeline]]\nname = \"blastn\"\ncommand = \"true\"\n";
    for (file, parts) in [
        ("max_body = 0\n", &["lab.toml: max_body = 0 would take nothing"][..]),
        ("max_records = 0\n", &["max_records = 0 would take nothing"]),
        ("max_residues = 0\n", &["max_residues = 0 would take nothing"]),
        ("capacity = 0\n", &["capacity = 0 would take nothing"]),
        ("max_connections = 0\n", &["max_connections = 0 would take nothing"]),
        ("max_streams = 0\n", &["max_streams = 0 would take nothing"]),
        ("timeout = 0\n", &["timeout = 0: '0' would stop every command"]),
        (
            &format!("{pipeline}[[pipeline.param]]\nname = \"word_size\"\ntype = \"integer\"\nmin = 10\nmax = 5\n"),
            &["pipeline 'blastn': parameter 'word_size': min = 10 is above max = 5: no value could ever be given"],
        ),
        (
            &format!("{pipeline}[[pipeline.param]]\nname = \"note\"\ntype = \"text\"\nmax_length = 0\n"),
            &["parameter 'note': max_length = 0: no value could ever be given"],
        ),
        (
            &format!("{pipeline}[[pipeline.param]]\nname = \"task\"\ntype = \"choice\"\noptions = [\"megablast\", \" blastn\"]\n"),
            &["parameter 'task': the option \" blastn\" could never be chosen"],
        ),
        (
            &format!("alphabet = \"nucleotide\"\n{pipeline}alphabets = [\"protein\"]\n"),
            &["pipeline 'blastn' takes only protein, which this server never reads (alphabet = \"nucleotide\""],
        ),
    ] {
        let path = lab.config(file);
        refused(&["--config", path.to_str().unwrap()], &[], parts);
    }
    // The same limits on the command line, and in the environment.
    for flag in [
        "--max-body",
        "--max-records",
        "--max-residues",
        "--capacity",
        "--max-connections",
        "--max-streams",
        "--max-streams-per-client",
        "--timeout",
    ] {
        refused(&[flag, "0"], &[], &["invalid value '0' for", flag]);
    }
    refused(
        &[],
        &[("SEQSPOOL_MAX_BODY", "0")],
        &["invalid value '0' for", "--max-body"],
    );
    // A protein-only pipeline on a server told to read only nucleotides.
    let path = lab.config(&format!("{pipeline}alphabets = [\"protein\"]\n"));
    refused(
        &[
            "--config",
            path.to_str().unwrap(),
            "--alphabet",
            "nucleotide",
        ],
        &[],
        &[
            "pipeline 'blastn' takes only protein",
            "could never accept a sequence",
        ],
    );
}
