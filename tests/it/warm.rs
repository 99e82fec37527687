//! Warm pipelines: a processor started once and fed experiments one at a
//! time, still one experiment at a time across every pipeline, in acceptance
//! order. A cancel, a timeout or a crash kills the processor's whole tree and
//! the next experiment gets a fresh one; one that cannot start or answer its
//! first request pauses the queue, until an experiment has failed two fresh
//! processors and fails; nothing of it outlives a killed server.

use crate::common::*;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::thread;

use serde_json::{json, Value};

/// A warm processor in `sh`, for the tests. It logs its start
/// (`processor PID`) and each request (`start warm ID`, `end warm ID`) to
/// `$LOG`, and checks, at each request, that the one before it is recorded
/// as finished (or logs `unrecorded ID`). What it does with a request
/// depends on the query's name:
///
/// - `crash…`: says `boom` on stderr and exits with code 3;
/// - `hang…`: starts a child in a session of its own, writes the child's pid
///   into `child.pid`, and never answers;
/// - `gated…`: the same, and answers once the file `$GATE` exists;
/// - `fail…`: answers that it failed;
/// - anything else: prints a line on each of stdout and stderr, writes its
///   pid into `processor.pid`, and answers ok.
///
/// At start: `$BROKEN`, if that file exists, makes it exit at once with a
/// message; `$NEVER_READY` makes it never say it is ready; `$IGNORE_TERM`
/// makes it ignore SIGTERM.
const PROCESSOR: &str = r#"
[ -n "$IGNORE_TERM" ] && trap '' TERM
echo "processor $$" >> "$LOG"
if [ -n "$BROKEN" ] && [ -e "$BROKEN" ]; then
    echo "cannot load the model: out of GPU memory" >&2
    exit 1
fi
[ -n "$NEVER_READY" ] && while :; do sleep 1; done
echo loaded
echo '{"ready": true}' >&"$SEQSPOOL_ANSWER_FD"
previous=
while read -r line; do
    id=${line#*\"id\":\"}; id=${id%%\"*}
    dir=${line#*\"dir\":\"}; dir=${dir%%\"*}
    name=${line#*\"query_name\":\"}; name=${name%%\"*}
    if [ -n "$previous" ] && ! grep -Eq '"state": "(COMPLETE|EXECUTOR_ERROR)"' "$previous/experiment.json"; then
        echo "unrecorded $previous" >> "$LOG"
    fi
    previous=$dir
    echo "start warm $id" >> "$LOG"
    case $name in
    crash*)
        echo "boom" >&2
        exit 3
        ;;
    hang* | gated*)
        setsid sh -c 'echo $$ > child.pid; exec sleep 300' > /dev/null 2>&1 &
        while [ ! -s child.pid ]; do sleep 0.01; done
        mv child.pid "$dir/child.pid"
        echo $$ > "$dir/processor.pid"
        until [ -n "$GATE" ] && [ -e "$GATE" ] && [ "${name#gated}" != "$name" ]; do sleep 0.02; done
        ;;
    fail*)
        echo "end warm $id" >> "$LOG"
        echo "{\"id\": \"$id\", \"ok\": false, \"error\": \"no good: $name\"}" >&"$SEQSPOOL_ANSWER_FD"
        continue
        ;;
    esac
    echo "out $name"
    echo "err $name" >&2
    echo $$ > "$dir/processor.pid"
    echo "end warm $id" >> "$LOG"
    echo "{\"id\": \"$id\", \"ok\": true}" >&"$SEQSPOOL_ANSWER_FD"
done
"#;

/// A lab with the processor in it, as `processor.sh`.
fn lab_with_processor() -> Lab {
    let lab = Lab::new();
    fs::write(lab.path("processor.sh"), PROCESSOR).unwrap();
    lab
}

/// The pids of the processors started in `lab`, in order.
fn processors(lab: &Lab) -> Vec<i32> {
    lab.log()
        .iter()
        .filter_map(|line| line.strip_prefix("processor ")?.parse().ok())
        .collect()
}

/// One warm pipeline, `warm`, with the processor, `env` added to its table.
fn warm(env: &str) -> String {
    format!(
        "[[pipeline]]\nname = \"warm\"\nexecutor = \"warm\"\ncommand = [\"/bin/sh\", \"@LAB@/processor.sh\"]\nenv = {{ LOG = \"@LOG@\"{env} }}\n"
    )
}

/// A warm pipeline and a local one, both logging their runs.
const MIXED: &str = r#"
[[pipeline]]
name = "warm"
executor = "warm"
command = ["/bin/sh", "@LAB@/processor.sh"]
env = { LOG = "@LOG@" }

[[pipeline]]
name = "local"
command = 'echo "start local $EXPERIMENT_ID" >> @LOG@; sleep 0.02; echo "end local $EXPERIMENT_ID" >> @LOG@'
"#;

const DNA: &str = "ACGTACGTTGCAACGT";

fn submit_to(addr: std::net::SocketAddr, pipeline: &str, name: &str) -> String {
    let answer = request(
        addr,
        "POST",
        "/experiments",
        &[("Content-Type", "application/json")],
        json!({"query_name": name, "query_sequence": DNA, "pipeline": pipeline})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

/// The process whose pid a processor wrote into `name` in experiment `id`'s directory.
fn process_in(dir: &Path, id: &str, name: &str) -> Process {
    Process::from_pid_file(&dir.join(id).join(name))
}

/// Checks that the processor that ran experiment `id` (as its `record` says)
/// is gone, and the child it started for it, if it got that far (a processor
/// that works at the lowest priority on a busy machine may be stopped first).
fn assert_tree_gone(dir: &Path, id: &str, record: &Value) {
    let processor = record["processor"]["pid"].as_i64().expect("a processor") as i32;
    wait_until("the processor is gone", || !alive(processor));
    for file in [
        dir.join(id).join("child.pid"),
        dir.join(".warm/warm/child.pid"),
    ] {
        if let Some(child) = fs::read_to_string(&file)
            .ok()
            .and_then(|pid| pid.trim().parse().ok())
        {
            assert!(!alive(child), "the processor's child {child} outlived it");
        }
    }
}

fn wait_gone(what: &str, processes: &[Process]) {
    wait_until(what, || processes.iter().all(Process::is_gone));
}

#[test]
fn a_warm_and_a_local_pipeline_share_the_queue_one_at_a_time_in_order_and_the_processor_starts_once(
) {
    let lab = lab_with_processor();
    lab.config(MIXED);
    let server = lab.server(|_| {});
    let addr = server.addr;
    let clients: Vec<_> = (0..4)
        .map(|client| {
            thread::spawn(move || {
                (0..6)
                    .map(|n| {
                        let pipeline = if (client + n) % 3 == 0 {
                            "local"
                        } else {
                            "warm"
                        };
                        let id = submit_to(addr, pipeline, &format!("c{client}-{n}"));
                        (id, pipeline)
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
    let records: Vec<Value> = accepted
        .iter()
        .map(|(id, _)| server.wait_for_state(id, "COMPLETE"))
        .collect();

    let runs: Vec<String> = lab
        .log()
        .into_iter()
        .filter(|line| !line.starts_with("processor"))
        .collect();
    let expected: Vec<String> = accepted
        .iter()
        .flat_map(|(id, pipeline)| {
            [
                format!("start {pipeline} {id}"),
                format!("end {pipeline} {id}"),
            ]
        })
        .collect();
    assert_eq!(runs, expected, "one at a time, in acceptance order");
    assert_eq!(processors(&lab).len(), 1, "{:?}", lab.log());

    // Every warm experiment names the one processor; the local ones none.
    let pid = processors(&lab)[0];
    let mut instances = records
        .iter()
        .zip(&accepted)
        .filter(|(_, (_, pipeline))| *pipeline == "warm")
        .map(|(record, _)| record["processor"].clone());
    let first = instances.next().unwrap();
    assert_eq!(first["pid"], pid, "{first}");
    assert!(first["started_at"].is_string(), "{first}");
    assert!(instances.all(|instance| instance == first));
    for (record, (_, pipeline)) in records.iter().zip(&accepted) {
        if *pipeline == "local" {
            assert!(record.get("processor").is_none(), "{record:#}");
        }
    }

    // What it printed for an experiment is in that experiment's logs, and in the pipeline's.
    let ((id, _), record) = accepted
        .iter()
        .zip(&records)
        .find(|((_, pipeline), _)| *pipeline == "warm")
        .unwrap();
    let name = record["query_name"].as_str().unwrap();
    let files = |file: &str| fs::read_to_string(server.dir.join(id).join(file)).unwrap_or_default();
    assert_eq!(files("stdout.txt"), format!("out {name}\n"));
    assert_eq!(files("stderr.txt"), format!("err {name}\n"));
    let log = fs::read_to_string(server.dir.join(".warm/warm.log")).unwrap();
    assert!(
        log.contains("loaded\n") && log.contains(&format!("out {name}\n")),
        "{log}"
    );

    // The page says which processor ran it.
    let page = request(
        addr,
        "GET",
        &format!("/experiments/{id}"),
        &[("Accept", "text/html")],
        b"",
    )
    .text();
    assert!(page.contains("Warm processor") && page.contains(&format!("pid {pid}, started")));
}

#[test]
fn a_cancel_kills_the_processors_whole_tree_and_the_next_experiment_gets_a_fresh_one() {
    let lab = lab_with_processor();
    lab.config(&warm(""));
    let server = lab.server(|_| {});
    let hung = server.submit("hang", DNA);
    server.wait_for_state(&hung, "RUNNING");
    let tree = Leftovers(vec![
        process_in(&server.dir, &hung, "processor.pid"),
        process_in(&server.dir, &hung, "child.pid"),
    ]);
    assert_eq!(server.delete(&format!("/experiments/{hung}")).status, 202);
    server.wait_for_state(&hung, "CANCELED");
    assert!(
        tree.0.iter().all(Process::is_gone),
        "the processor or its child outlived the cancel"
    );

    let next = server.submit("next", DNA);
    let record = server.wait_for_state(&next, "COMPLETE");
    let processors = processors(&lab);
    assert_eq!(processors.len(), 2, "{:?}", lab.log());
    assert_eq!(record["processor"]["pid"], processors[1]);
    assert_eq!(record["attempts"], 1);
}

#[test]
fn a_timeout_kills_the_processor_and_fails_only_that_experiment() {
    let lab = lab_with_processor();
    lab.config(&format!("{}timeout = 1\n", warm("")));
    let server = lab.server(|_| {});
    let first = server.submit("first", DNA);
    server.wait_for_state(&first, "COMPLETE");
    let hung = server.submit("hang", DNA);
    let record = server.wait_for_state(&hung, "EXECUTOR_ERROR");
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("timed out after 1 s"), "{record:#}");
    assert_tree_gone(&server.dir, &hung, &record);

    let next = server.submit("next", DNA);
    let record = server.wait_for_state(&next, "COMPLETE");
    assert_eq!(processors(&lab).len(), 2, "{:?}", lab.log());
    assert_eq!(record["processor"]["pid"], processors(&lab)[1]);
}

#[test]
fn a_processor_that_crashes_fails_that_experiment_with_its_last_words_and_is_started_again() {
    let lab = lab_with_processor();
    lab.config(&warm(""));
    let server = lab.server(|_| {});
    let ids: Vec<String> = ["first", "crash", "fail", "after"]
        .iter()
        .map(|name| server.submit(name, DNA))
        .collect();
    server.wait_for_state(&ids[0], "COMPLETE");
    let crashed = server.wait_for_state(&ids[1], "EXECUTOR_ERROR");
    let error = crashed["error"].as_str().unwrap();
    assert!(
        error.contains("exited with code 3") && error.contains("boom"),
        "{crashed:#}"
    );
    assert_eq!(crashed["exit_code"], 3);
    let failed = server.wait_for_state(&ids[2], "EXECUTOR_ERROR");
    assert_eq!(failed["error"], "the processor said: no good: fail");
    let after = server.wait_for_state(&ids[3], "COMPLETE");

    let processors = processors(&lab);
    assert_eq!(processors.len(), 2, "{:?}", lab.log());
    assert!(!alive(read_pid(
        &server.dir.join(&ids[0]).join("processor.pid")
    )));
    // An answer that says it failed leaves the processor fit: it answers the next.
    assert_eq!(failed["processor"], after["processor"]);
    assert_eq!(after["processor"]["pid"], processors[1]);
    assert!(
        !lab.log().iter().any(|line| line.starts_with("unrecorded")),
        "{:?}",
        lab.log()
    );
}

#[test]
fn a_processor_that_cannot_start_pauses_the_queue_until_it_is_fixed() {
    let lab = lab_with_processor();
    let broken = lab.path("broken");
    fs::write(&broken, "").unwrap();
    lab.config(&warm(&format!(", BROKEN = \"{}\"", broken.display())));
    let server = lab.server(|_| {});
    let ids: Vec<String> = (0..3)
        .map(|n| server.submit(&format!("q{n}"), DNA))
        .collect();
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let reason = server.get("/queue").json()["pause"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains(&format!("experiment {}", ids[0]))
            && reason.contains("did not start")
            && reason.contains("exited with code 1")
            && reason.contains("out of GPU memory"),
        "{reason}"
    );
    for (n, id) in ids.iter().enumerate() {
        let record = server.get(&format!("/experiments/{id}")).json();
        assert_eq!(record["state"], "QUEUED", "{record:#}");
        assert_eq!(record["position"], n + 1);
        assert_eq!(record["attempts"], 0);
    }

    fs::remove_file(&broken).unwrap();
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
    assert_eq!(processors(&lab).len(), 2);
}

#[test]
fn a_processor_that_never_says_it_is_ready_pauses_the_queue_and_is_killed() {
    let lab = lab_with_processor();
    lab.config(&format!(
        "{}start_timeout = 0.5\n",
        warm(", NEVER_READY = \"1\"")
    ));
    let server = lab.server(|_| {});
    let id = server.submit("q", DNA);
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let reason = server.get("/queue").json()["pause"]["reason"].clone();
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("did not say it was ready within 0.5 s"),
        "{reason}"
    );
    let record = server.get(&format!("/experiments/{id}")).json();
    assert_eq!(record["state"], "QUEUED");
    let processor = record["processor"]["pid"].as_i64().unwrap() as i32;
    assert_eq!(processors(&lab), [processor]);
    wait_until("the processor is gone", || !alive(processor));
}

#[test]
fn a_processor_that_never_answers_its_first_request_pauses_the_queue_and_is_killed() {
    let lab = lab_with_processor();
    lab.config(&format!("{}timeout = 0.5\n", warm("")));
    let server = lab.server(|_| {});
    let id = server.submit("hang", DNA);
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let reason = server.get("/queue").json()["pause"]["reason"].clone();
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("did not answer its first request: it timed out after 0.5 s"),
        "{reason}"
    );
    let record = server.get(&format!("/experiments/{id}")).json();
    assert_eq!(record["state"], "QUEUED", "{record:#}");
    assert_eq!(
        record["attempts"], 1,
        "it was handed over: its attempt counts"
    );
    assert_tree_gone(&server.dir, &id, &record);
}

#[test]
fn an_experiment_that_makes_two_fresh_processors_fail_fails_and_the_queue_goes_on() {
    let lab = lab_with_processor();
    lab.config(&warm(""));
    let server = lab.server(|_| {});
    // `crash…` makes every processor exit at its request: a fresh one too.
    let poison = server.submit("crash-poison", DNA);
    let next = server.submit("q1", DNA);
    wait_until("the queue pauses", || {
        server.get("/queue").json()["paused"] == true
    });
    let reason = server.get("/queue").json()["pause"]["reason"].clone();
    assert!(
        reason.as_str().unwrap().contains(&format!(
            "experiment {poison}: pipeline warm's processor did not answer its first request: it exited with code 3"
        )),
        "{reason}"
    );
    assert_eq!(
        server.get(&format!("/experiments/{poison}")).json()["state"],
        "QUEUED"
    );
    assert_eq!(
        server.get(&format!("/experiments/{next}")).json()["position"],
        2
    );

    // Resumed, it makes a second fresh processor fail: it is failed, not paused on.
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    let record = server.wait_for_state(&poison, "EXECUTOR_ERROR");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("did not answer its first request: it exited with code 3")
            && error.contains("its last words: boom")
            && error.contains("has now failed 2 freshly started processors")
            && error.contains("the queue goes on"),
        "{error}"
    );
    assert_eq!(record["exit_code"], 3);
    assert_eq!(record["attempts"], 2);
    server.wait_for_state(&next, "COMPLETE");
    assert_eq!(server.get("/queue").json()["paused"], false);
    assert_eq!(
        processors(&lab).len(),
        3,
        "two for the one that failed, one for the next"
    );
}

#[test]
fn a_preloaded_processor_starts_with_the_server_and_one_idle_too_long_is_stopped() {
    let lab = lab_with_processor();
    lab.config(&format!("{}preload = true\n", warm("")));
    let server = lab.server(|config| {
        config.warm_idle = std::time::Duration::from_secs(3);
    });
    wait_until("the processor is preloaded", || processors(&lab).len() == 1);
    let preloaded = processors(&lab)[0];
    let id = server.submit("q", DNA);
    let record = server.wait_for_state(&id, "COMPLETE");
    assert_eq!(record["processor"]["pid"], preloaded);
    assert!(
        record["processor"]["started_at"].as_str().unwrap()
            < record["submitted_at"].as_str().unwrap(),
        "{record:#}"
    );
    wait_until("the idle processor is stopped", || !alive(preloaded));
    let again = server.submit("again", DNA);
    let record = server.wait_for_state(&again, "COMPLETE");
    assert_eq!(processors(&lab).len(), 2);
    assert_eq!(record["processor"]["pid"], processors(&lab)[1]);
}

/// Two warm pipelines, `warm` and `other`.
fn two_warm() -> String {
    format!(
        "{}\n{}",
        warm(""),
        warm("").replace("name = \"warm\"", "name = \"other\"")
    )
}

#[test]
fn switching_pipelines_stops_the_idle_processor_first_unless_more_may_stay() {
    let lab = lab_with_processor();
    lab.config(&two_warm());
    let server = lab.server(|_| {});
    let first = submit_to(server.addr, "warm", "a");
    let first = server.wait_for_state(&first, "COMPLETE")["processor"]["pid"]
        .as_i64()
        .unwrap() as i32;
    let second = submit_to(server.addr, "other", "b");
    server.wait_for_state(&second, "COMPLETE");
    assert_eq!(processors(&lab).len(), 2, "{:?}", lab.log());
    assert!(
        !alive(first),
        "the first processor still runs beside the second: {:?}",
        lab.log()
    );
    drop(server);

    // With room for two, both stay warm, and each is started once.
    let lab = lab_with_processor();
    lab.config(&two_warm());
    let server = lab.server(|config| config.max_warm = 2);
    let ids: Vec<String> = (0..6)
        .map(|n| submit_to(server.addr, ["warm", "other"][n % 2], &format!("q{n}")))
        .collect();
    for id in &ids {
        server.wait_for_state(id, "COMPLETE");
    }
    let processors = processors(&lab);
    assert_eq!(processors.len(), 2, "{:?}", lab.log());
    assert!(processors.iter().all(|&pid| alive(pid)));
}

#[test]
fn a_graceful_stop_stops_every_processor_and_the_interrupted_experiment_runs_again_first() {
    let lab = lab_with_processor();
    let gate = lab.path("gate");
    // Two warm pipelines, both kept: one works, the other idles.
    lab.config(&two_warm().replace(
        "LOG = \"@LOG@\"",
        &format!("LOG = \"@LOG@\", GATE = \"{}\"", gate.display()),
    ));
    let server = lab.server(|config| config.max_warm = 2);
    let idle = submit_to(server.addr, "other", "idle");
    let idle = server.wait_for_state(&idle, "COMPLETE")["processor"]["pid"]
        .as_i64()
        .unwrap() as i32;
    let gated = submit_to(server.addr, "warm", "gated");
    server.wait_for_state(&gated, "RUNNING");
    let tree = Leftovers(vec![
        process_in(&server.dir, &gated, "processor.pid"),
        process_in(&server.dir, &gated, "child.pid"),
    ]);
    server.stop().unwrap();
    assert!(tree.all_gone());
    assert!(!alive(idle), "the idle processor outlived the server");

    fs::write(&gate, "").unwrap();
    let server = lab.server(|_| {});
    let record = server.wait_for_state(&gated, "COMPLETE");
    assert_eq!(record["attempts"], 2);
}

#[test]
fn a_killed_server_leaves_no_processor_behind_and_its_experiment_runs_again_first() {
    let lab = lab_with_processor();
    let gate = lab.path("gate");
    lab.config(&warm(&format!(", GATE = \"{}\"", gate.display())));
    let dir = lab.experiments();
    let args = ["--shutdown-grace", "2"];
    let mut server = lab.binary(&args);
    let first = submit(server.addr, "gated", DNA);
    let second = submit(server.addr, "after", DNA);
    wait_for_state(server.addr, &first, "RUNNING");
    let tree = Leftovers(vec![
        process_in(&dir, &first, "processor.pid"),
        process_in(&dir, &first, "child.pid"),
    ]);
    server.crash();
    wait_gone("the processor's tree died with the server", &tree.0);

    fs::write(&gate, "").unwrap();
    let server = lab.binary(&args);
    let record = wait_for_state(server.addr, &first, "COMPLETE");
    assert_eq!(record["attempts"], 2);
    wait_for_state(server.addr, &second, "COMPLETE");
    let runs: Vec<String> = lab
        .log()
        .into_iter()
        .filter(|line| line.starts_with("start") || line.starts_with("end"))
        .collect();
    assert_eq!(
        runs,
        [
            format!("start warm {first}"),
            format!("start warm {first}"),
            format!("end warm {first}"),
            format!("start warm {second}"),
            format!("end warm {second}"),
        ]
    );
}

#[test]
fn a_processor_that_outlives_its_server_and_runner_is_killed_at_the_next_start() {
    let lab = lab_with_processor();
    let gate = lab.path("gate");
    lab.config(&warm(&format!(
        ", GATE = \"{}\", IGNORE_TERM = \"1\"",
        gate.display()
    )));
    let dir = lab.experiments();
    // A long grace: the runner is killed while it waits for the processor,
    // which ignores SIGTERM, to end. The next server's is short: recovery
    // gives SIGKILL after it.
    let mut server = lab.binary(&["--shutdown-grace", "10"]);
    let id = submit(server.addr, "gated", DNA);
    wait_for_state(server.addr, &id, "RUNNING");
    let processor = Leftovers(vec![
        process_in(&dir, &id, "processor.pid"),
        process_in(&dir, &id, "child.pid"),
    ]);
    let record = request(server.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
    let on_disk = record_on_disk(&dir, &id);
    assert_eq!(on_disk["handle"]["executor"], "warm", "{on_disk:#}");
    assert_eq!(record["processor"]["pid"], processor.0[0].pid);
    let runner = on_disk["handle"]["runner"]["pgid"].as_i64().unwrap() as i32;
    server.crash();
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(runner).unwrap(),
        rustix::process::Signal::KILL,
    );
    wait_until("the runner is gone", || !alive(runner));
    assert!(processor.none_gone(), "the test needs survivors");

    fs::write(&gate, "").unwrap();
    let server = lab.binary(&["--shutdown-grace", "1"]);
    wait_gone("the leftover processor is killed", &processor.0);
    let log = server.log();
    let said = format!("experiment {id}: killed ");
    assert!(
        log.contains(&said) && log.contains("process(es) of the warm processor that ran it"),
        "{log}"
    );
    let record = wait_for_state(server.addr, &id, "COMPLETE");
    assert_eq!(record["attempts"], 2);
}

#[test]
fn an_idle_processor_that_outlives_its_server_and_runner_is_killed_at_the_next_start() {
    let lab = lab_with_processor();
    // It ignores SIGTERM, and the end of its input (it never reads it).
    lab.config(&format!(
        "{}preload = true\n",
        warm(", IGNORE_TERM = \"1\", NEVER_READY = \"1\"")
    ));
    let mut server = lab.binary(&["--shutdown-grace", "10"]);
    wait_until("the processor is preloaded", || processors(&lab).len() == 1);
    let pid = processors(&lab)[0];
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let runner: i32 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    server.crash();
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(runner).unwrap(),
        rustix::process::Signal::KILL,
    );
    wait_until("the runner is gone", || !alive(runner));
    assert!(alive(pid), "the test needs a survivor");

    let server = lab.binary(&["--shutdown-grace", "1"]);
    wait_until("the leftover processor is killed", || !alive(pid));
    wait_until("a new processor is preloaded", || {
        processors(&lab).len() == 2
    });
    assert!(
        server
            .log()
            .contains("of warm processors an earlier server left running"),
        "{}",
        server.log()
    );
}

#[test]
fn the_runner_keeps_a_processor_and_passes_its_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut child = seqspool()
        .arg("__runner")
        .env("SEQSPOOL_PARENT", std::process::id().to_string())
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut channel = ours;
    let mut lines = BufReader::new(channel.try_clone().unwrap()).lines();
    let mut ask = |request: Value| {
        channel
            .write_all(format!("{request}\n").as_bytes())
            .unwrap();
    };
    let mut hear = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    // It answers on descriptor 3, echoing each request back, with what it printed meanwhile.
    let log = tmp.path().join("processor.log");
    ask(json!({
        "op": "start", "dir": tmp.path(), "env": [],
        "command": "echo loading; echo \"fd=$SEQSPOOL_ANSWER_FD\"; echo ready >&3; \
                    while read -r line; do echo \"working on $line\" >&2; echo \"$line\" >&3; done",
        "log": log, "max_log": 100000, "grace_ms": 1000, "mark": "test/warm/1"
    }));
    let started = hear();
    assert_eq!(started["event"], "started", "{started}");
    assert_eq!(hear(), json!({"event": "answer", "line": "ready"}));
    let experiment = tmp.path().join("000001");
    fs::create_dir(&experiment).unwrap();
    ask(json!({"op": "send", "line": "one", "dir": experiment, "max_output": 1000}));
    assert_eq!(hear(), json!({"event": "answer", "line": "one"}));
    assert_eq!(
        fs::read_to_string(experiment.join("stderr.txt")).unwrap(),
        "working on one\n"
    );
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("loading\nfd=3\n") && text.contains("working on one\n"),
        "{text}"
    );
    // A stop ends it; the runner says so.
    ask(json!({"op": "stop"}));
    let ended = hear();
    assert_eq!(ended["event"], "ended", "{ended}");
    let pid = started["pid"].as_i64().unwrap() as i32;
    assert!(!alive(pid));
    drop(lines);
    channel.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
#[cfg_attr(not(seqspool_test_python3), ignore = "needs python3")]
fn the_warm_example_answers_from_its_index() {
    python3();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/warm/warm.toml");
    let text = fs::read_to_string(&path).unwrap();
    // Without the seconds that stand in for loading a model, warm and cold.
    let load = "MODEL_LOAD_SECONDS = \"2\"";
    assert_eq!(text.matches(load).count(), 2, "update this test");
    let text = text.replace(load, "MODEL_LOAD_SECONDS = \"0\"");
    let server = Server::start(|config| config.apply_file(&text, &path, None).unwrap());
    // Bases 701 to 760 of ref04, cut from the reference the processor
    // indexes, and their reverse complement.
    let reference = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/reference.fasta"),
    )
    .unwrap();
    let ref04: String = reference
        .split('>')
        .find(|record| record.starts_with("ref04 "))
        .expect("ref04 in the example reference")
        .lines()
        .skip(1)
        .collect();
    let read = &ref04[700..760];
    let reverse: String = read
        .chars()
        .rev()
        .map(|c| match c {
            'A' => 'T',
            'C' => 'G',
            'G' => 'C',
            _ => 'A',
        })
        .collect();
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": "fwd", "query_sequence": read, "pipeline": "kmer-index"}),
    );
    let forward = answer.json()["id"].as_str().unwrap().to_owned();
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": "rev", "query_sequence": reverse, "pipeline": "kmer-index"}),
    );
    let backward = answer.json()["id"].as_str().unwrap().to_owned();
    let answer = server.post_json(
        "/experiments",
        &json!({"query_name": "tiny", "query_sequence": "ACGTAC", "pipeline": "kmer-index"}),
    );
    let tiny = answer.json()["id"].as_str().unwrap().to_owned();
    for (id, strand) in [(&forward, "+"), (&backward, "-")] {
        server.wait_for_state(id, "COMPLETE");
        let table = server
            .get(&format!("/experiments/{id}/files/matches.tsv"))
            .text();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "reference\tstrand\tshared_kmers\tquery_kmers\tfraction\tstart",
                &format!("ref04\t{strand}\t49\t49\t1.000\t701"),
            ],
            "{table}"
        );
    }
    let record = server.wait_for_state(&tiny, "EXECUTOR_ERROR");
    assert_eq!(
        record["error"],
        "the processor said: the query has 6 residues, fewer than k = 12"
    );
    let log = fs::read_to_string(server.dir.join(".warm/kmer-index.log")).unwrap();
    assert_eq!(log.matches("indexed 8 sequences").count(), 1, "{log}");

    // The same processor as a local command, loading for each experiment,
    // answers the same; a query it cannot take fails with its words.
    let cold = |name: &str, sequence: &str| {
        let answer = server.post_json(
            "/experiments",
            &json!({"query_name": name, "query_sequence": sequence, "pipeline": "kmer-index-cold"}),
        );
        assert_eq!(answer.status, 202, "{}", answer.text());
        answer.json()["id"].as_str().unwrap().to_owned()
    };
    let again = cold("fwd", read);
    let tiny = cold("tiny", "ACGTAC");
    server.wait_for_state(&again, "COMPLETE");
    assert_eq!(
        server
            .get(&format!("/experiments/{again}/files/matches.tsv"))
            .text(),
        server
            .get(&format!("/experiments/{forward}/files/matches.tsv"))
            .text()
    );
    let stdout = server
        .get(&format!("/experiments/{again}/files/stdout.txt"))
        .text();
    assert!(stdout.starts_with("indexed 8 sequences"), "{stdout}");
    server.wait_for_state(&tiny, "EXECUTOR_ERROR");
    let stderr = server
        .get(&format!("/experiments/{tiny}/files/stderr.txt"))
        .text();
    assert_eq!(
        stderr,
        "kmer_processor: the query has 6 residues, fewer than k = 12\n"
    );
}
