//! The worker end to end: experiments run one at a time in acceptance order,
//! the HTTP side never waits for them, a full queue refuses with 503, and a
//! processing command gets its environment, its logs, its exit code and its
//! timeout as DESIGN.md promises.
//!
//! The commands are real `/bin/sh` commands in the experiment directory; what
//! they write is how a test sees what happened inside them.

use crate::common::*;

use std::fs;
use std::thread;
use std::time::Instant;

use serde_json::Value;

#[test]
fn experiments_from_concurrent_clients_run_one_at_a_time_in_acceptance_order() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("run.log");
    let log_arg = log.to_str().unwrap();
    assert!(
        !log_arg.contains('\''),
        "the log path is quoted for the shell"
    );
    let command = format!(
        "echo \"start $EXPERIMENT_ID $(date +%s%N)\" >> '{log_arg}'; sleep 0.05; \
         echo \"end $EXPERIMENT_ID $(date +%s%N)\" >> '{log_arg}'"
    );
    let server = Server::start(|config| config.command = Some(command));

    let clients: Vec<_> = (0..10)
        .map(|client| {
            let addr = server.addr;
            thread::spawn(move || {
                (0..3)
                    .map(|n| submit(addr, &format!("client{client}-{n}"), "ACGTACGT"))
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for client in clients {
        let ids = client.join().expect("a client thread panicked");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "one client's ids grow in the order it was answered: {ids:?}"
        );
        accepted.extend(ids);
    }
    accepted.sort();
    accepted.dedup();
    assert_eq!(accepted.len(), 30, "every submission got its own id");

    wait_until("every experiment has run", || {
        server.get("/service-info").json()["backlog"] == 0
    });
    let counts = server.get("/service-info").json()["counts"].clone();
    assert_eq!(counts["COMPLETE"], 30, "{counts}");

    let text = fs::read_to_string(&log).unwrap();
    let events: Vec<(&str, &str, u128)> = text
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 3, "a malformed log line: {line:?}");
            (parts[0], parts[1], parts[2].parse().expect("nanoseconds"))
        })
        .collect();
    assert_eq!(
        events.len(),
        60,
        "a start and an end for each experiment:\n{text}"
    );
    let mut run_order = Vec::new();
    let mut previous_end = 0;
    for pair in events.chunks(2) {
        let [(start, id, began), (end, end_id, ended)] = [pair[0], pair[1]];
        assert_eq!(
            (start, end, id),
            ("start", "end", end_id),
            "a run was interrupted by another:\n{text}"
        );
        assert!(
            began >= previous_end,
            "{id} started before the previous run ended:\n{text}"
        );
        assert!(ended >= began, "{id} ended before it started:\n{text}");
        previous_end = ended;
        run_order.push(id.to_owned());
    }
    assert_eq!(run_order, accepted, "the run order is the acceptance order");

    // The records agree: each started after the one before it finished.
    let mut previous_finish = String::new();
    for id in &accepted {
        let record = server.get(&format!("/experiments/{id}")).json();
        let started = record["started_at"].as_str().unwrap().to_owned();
        assert!(
            started >= previous_finish,
            "{id} started at {started}, before {previous_finish}"
        );
        assert_eq!(record["attempts"], 1);
        previous_finish = record["finished_at"].as_str().unwrap().to_owned();
    }
}

#[test]
fn the_http_side_answers_while_a_command_burns_a_cpu_core() {
    // A busy loop in the shell, checking the clock between rounds, so it stops by
    // itself if the server's shutdown fails to stop it.
    let burn = "end=$(($(date +%s) + 20)); while [ \"$(date +%s)\" -lt \"$end\" ]; do \
                i=0; while [ $i -lt 100000 ]; do i=$((i + 1)); done; done";
    let server = Server::start(|config| config.command = Some(burn.into()));
    let busy = server.submit("busy", "ACGT");
    server.wait_for_state(&busy, "RUNNING");

    let backlog = server.get("/backlog");
    assert_eq!(backlog.status, 200);
    assert_eq!(
        backlog.json(),
        serde_json::json!(["Currently 1 jobs in the backlog."])
    );
    let record = server.get(&format!("/experiments/{busy}"));
    assert_eq!(record.status, 200);
    assert_eq!(record.json()["state"], "RUNNING");
    let answer = server.post_form(
        "/experiments",
        &[("query_name", "next"), ("query_sequence", "ACGT")],
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let next = answer.json();
    assert_eq!(next["state"], "QUEUED");
    assert_eq!(next["position"], 1);
    let legacy = server.post_form("/", &[("query_name", "legacy"), ("query_sequence", "ACGT")]);
    assert_eq!(legacy.status, 200, "{}", legacy.text());
    assert_eq!(legacy.json()["Backlog Length"], 3);
    assert_eq!(
        server.get("/backlog/").json(),
        serde_json::json!(["Currently 3 jobs in the backlog."])
    );

    // The proof that none of those answers waited for the command: it is still running.
    assert_eq!(
        server.get(&format!("/experiments/{busy}")).json()["state"],
        "RUNNING"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Server::start_in(&dir, |config| {
        config.command = Some("sleep 30 & echo $! > sleep.pid; wait".into());
        config.capacity = 2;
    });
    let running = server.submit("runs", "ACGT");
    server.wait_for_state(&running, "RUNNING");
    let waiting = [
        server.submit("waits-1", "ACGT"),
        server.submit("waits-2", "ACGT"),
    ];
    let dirs = server.experiment_dirs();
    assert_eq!(dirs.len(), 3);
    let before = snapshot(&server.dir);

    let refused = [
        server.post_form(
            "/experiments",
            &[("query_name", "one-too-many"), ("query_sequence", "ACGT")],
        ),
        server.post_json(
            "/experiments",
            &serde_json::json!({"query_name": "json-too", "query_sequence": "ACGT"}),
        ),
        server.post_form(
            "/",
            &[("query_name", "legacy-too"), ("query_sequence", "ACGT")],
        ),
    ];
    for answer in &refused {
        assert_eq!(answer.status, 503, "{}", answer.text());
        let retry = answer
            .header("Retry-After")
            .expect("a 503 says when to retry");
        assert!(
            retry.parse::<u64>().is_ok_and(|secs| secs > 0),
            "Retry-After: {retry}"
        );
        let error = answer.json();
        assert_eq!(error["status_code"], 503);
        assert!(
            error["msg"].as_str().is_some_and(|msg| !msg.is_empty()),
            "{error}"
        );
        assert!(error.get("field").is_none(), "{error}");
    }
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused submission wrote something"
    );
    assert_eq!(
        server.get("/backlog").json(),
        serde_json::json!(["Currently 3 jobs in the backlog."])
    );
    for id in &waiting {
        assert_eq!(
            server.get(&format!("/experiments/{id}")).json()["state"],
            "QUEUED"
        );
    }

    // The graceful stop ends the blocking command rather than waiting 30 s for it.
    let pid = read_pid(&dir.join(&running).join("sleep.pid"));
    let stopping = Instant::now();
    drop(server);
    eprintln!(
        "stopping the server with a running command took {:.2} s",
        stopping.elapsed().as_secs_f64()
    );
    wait_until("the command's sleep is gone", || !alive(pid));
    let record = record_on_disk(&dir, &running);
    assert_ne!(
        record["state"], "COMPLETE",
        "the stop waited for the command to finish: {record:#}"
    );
}

#[test]
fn a_command_sees_its_environment_and_its_output_lands_in_the_logs() {
    let command = r#"case "$QUERY_NAME" in
        exit3) echo failing on purpose >&2; exit 3;;
        exit127) exit 127;;
        missing) no-such-program-for-seqspool --flag;;
        *) printf '%s\n' "$EXPERIMENT_ID" "$EXPERIMENT_DIR" "$QUERY_NAME" "$QUERY_FASTA" "$(pwd)" > env.txt
           echo to-stdout; echo to-stderr >&2;;
    esac"#;
    let server = Server::start(|config| config.command = Some(command.into()));
    let id = server.submit("env test 1", ">ignored header words\nacgt acgt\nAC");
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["exit_code"], 0, "a command that exits 0 records it");
    assert_eq!(record["error"], Value::Null);

    let dir = server.dir.canonicalize().unwrap().join(&id);
    let env = fs::read_to_string(dir.join("env.txt")).unwrap();
    let env: Vec<&str> = env.lines().collect();
    let dir_text = dir.to_str().unwrap();
    let fasta = dir.join("query.fasta");
    assert_eq!(
        env,
        [
            id.as_str(),
            dir_text,
            "env test 1",
            fasta.to_str().unwrap(),
            dir_text
        ],
        "EXPERIMENT_ID, EXPERIMENT_DIR, QUERY_NAME, QUERY_FASTA and the working directory"
    );
    assert_eq!(
        fs::read_to_string(&fasta).unwrap(),
        ">env test 1 header words\nACGTACGTAC\n"
    );
    for (name, text) in [("stdout.txt", "to-stdout\n"), ("stderr.txt", "to-stderr\n")] {
        let answer = server.get(&format!("/experiments/{id}/files/{name}"));
        assert_eq!(answer.status, 200, "{name}: {}", answer.text());
        assert_eq!(answer.text(), text, "{name}");
    }
    let listed: Vec<&str> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for name in ["env.txt", "stdout.txt", "stderr.txt", "query.fasta"] {
        assert!(listed.contains(&name), "{name} is not listed: {listed:?}");
    }

    let failed = server.submit("exit3", "ACGT");
    let record = server.wait_for_state(&failed, "EXECUTOR_ERROR");
    assert_eq!(record["exit_code"], 3);
    let error = record["error"].as_str().expect("a failure says why");
    assert!(
        error.contains('3'),
        "the error names the exit code: {error}"
    );
    assert_eq!(
        server
            .get(&format!("/experiments/{failed}/files/stderr.txt"))
            .text(),
        "failing on purpose\n"
    );

    // A program that cannot be found is the workstation's to fix, not the
    // query's: the experiment waits again at the head and the queue pauses.
    for name in ["exit127", "missing"] {
        let id = server.submit(name, "ACGT");
        wait_until("the queue pauses", || {
            server.get("/queue").json()["paused"] == true
        });
        let queue = server.get("/queue").json();
        let reason = queue["pause"]["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("experiment {id}")) && reason.contains("127"),
            "{queue:#}"
        );
        let record = server.get(&format!("/experiments/{id}")).json();
        assert_eq!(
            (record["state"].as_str(), record["position"].as_u64()),
            (Some("QUEUED"), Some(1)),
            "{record:#}"
        );
        assert!(
            record["error"].as_str().unwrap().contains("127"),
            "{record:#}"
        );
        if name == "missing" {
            let stderr = server
                .get(&format!("/experiments/{id}/files/stderr.txt"))
                .text();
            assert!(
                stderr.contains("no-such-program-for-seqspool"),
                "the shell's complaint is kept: {stderr}"
            );
        }
        assert_eq!(server.delete(&format!("/experiments/{id}")).status, 200);
        assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    }
}

#[test]
fn a_command_that_times_out_is_an_executor_error_and_its_background_children_are_gone_too() {
    let server = Server::start(|config| {
        config.command = Some("sleep 60 & echo $! > bg.pid; wait".into());
        config.timeout = Some(std::time::Duration::from_secs(1));
    });
    let id = server.submit("slow", "ACGT");
    let record = server.wait_for_state(&id, "EXECUTOR_ERROR");
    let error = record["error"].as_str().expect("a timeout says why");
    assert!(error.contains("timed out"), "{error}");

    let pid = read_pid(&server.dir.join(&id).join("bg.pid"));
    wait_until("the background sleep is gone", || !alive(pid));

    // The worker carries on with the next one.
    let next = server.submit("next", "ACGT");
    server.wait_for_state(&next, "RUNNING");
}

#[test]
fn a_command_that_floods_its_output_completes_with_its_log_capped() {
    let server = Server::start(|config| {
        config.command = Some("head -c 200000000 /dev/zero; echo to-stderr >&2".into());
        config.max_output = 10_000;
    });
    let id = server.submit("flood", "ACGT");
    server.wait_for_state(&id, "COMPLETE");

    let answer = server.get(&format!("/experiments/{id}/files/stdout.txt"));
    assert_eq!(answer.status, 200);
    let log = answer.body;
    assert!(
        (10_000..10_200).contains(&log.len()),
        "stdout.txt holds {} bytes",
        log.len()
    );
    assert!(
        log[..10_000].iter().all(|&b| b == 0),
        "the first 10000 bytes are the output's"
    );
    let note = String::from_utf8_lossy(&log[10_000..]);
    assert!(
        note.contains("[seqspool: 199990000 more bytes dropped"),
        "the log says what was dropped: {note:?}"
    );
    assert_eq!(
        server
            .get(&format!("/experiments/{id}/files/stderr.txt"))
            .text(),
        "to-stderr\n"
    );
}
