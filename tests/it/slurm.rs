//! The Slurm executor against a real Slurm cluster on this machine (see
//! `common::slurm`): experiments become batch jobs, submitted in
//! acceptance order, one at a time or as many as a pipeline allows; cancel and
//! timeout use scancel; a refused sbatch pauses the queue; and neither a
//! `kill -9` of seqspool nor a stopped controller loses a job or runs one twice.
//!
//! Every server here is the real binary, with `SLURM_CONF` naming the test
//! cluster. The jobs write `start ID` and `end ID` lines to a log in the
//! test's directory (the "shared file system" is this machine's disk), which
//! is how the tests see what ran, when, and how often.

use crate::common::slurm::{cluster, Cluster};
use crate::common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Longer than [`PATIENCE`]: jobs wait behind one another, Slurm schedules
/// them and seqspool polls, and a stopped controller takes its time.
const SLURM_PATIENCE: Duration = Duration::from_secs(180);

const DNA: &str = "ACGTACGTTGCAACGT";

/// A lab on the test cluster: every job still working under it is
/// cancelled when it is dropped. It is a [`Lab`] (its directory, run log and
/// experiments) with the cluster's ways of configuring and starting a server.
struct SlurmLab {
    lab: Lab,
    cluster: &'static Cluster,
}

impl SlurmLab {
    fn new(cluster: &'static Cluster) -> SlurmLab {
        SlurmLab {
            lab: Lab::new(),
            cluster,
        }
    }

    /// Writes `lab.toml` as [`Lab::config`] does, after a quick poll of Slurm.
    fn config(&self, text: &str) -> PathBuf {
        self.lab.config(&format!("slurm_poll = 0.3\n{text}"))
    }

    /// The real binary with `lab.toml`, talking to the test cluster.
    fn start(&self) -> Binary {
        let mut command = self.lab.command(&[]);
        command.env("SLURM_CONF", &self.cluster.conf);
        Binary::spawn(command)
    }

    /// The lines of the run log that begin with `prefix`.
    fn logged(&self, prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|line| line.starts_with(prefix))
            .count()
    }
}

impl std::ops::Deref for SlurmLab {
    type Target = Lab;

    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl Drop for SlurmLab {
    fn drop(&mut self) {
        self.cluster.cancel_jobs_under(self.lab.dir());
    }
}

/// Submits a query to `pipeline`, expecting 202; returns its id.
fn submit_to(server: &Binary, pipeline: &str, params: Value) -> String {
    let answer = request(
        server.addr,
        "POST",
        "/experiments",
        &[("Content-Type", "application/json")],
        json!({"query_name": "q", "query_sequence": DNA, "pipeline": pipeline, "params": params})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    answer.json()["id"].as_str().unwrap().to_owned()
}

fn record(server: &Binary, id: &str) -> Value {
    request(server.addr, "GET", &format!("/experiments/{id}"), &[], b"").json()
}

/// Cancels experiment `id` (`DELETE`); returns the answer's status.
fn cancel(server: &Binary, id: &str) -> u16 {
    request(
        server.addr,
        "DELETE",
        &format!("/experiments/{id}"),
        &[],
        b"",
    )
    .status
}

fn queue(server: &Binary) -> Value {
    request(server.addr, "GET", "/queue", &[], b"").json()
}

/// Waits (long) until `condition` holds; on failure, shows the server's log.
fn wait_long(server: &Binary, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + SLURM_PATIENCE;
    while !condition() {
        if Instant::now() > deadline {
            panic!(
                "timed out waiting until {what}; the server's log:\n{}",
                server.log()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until experiment `id` is in `state`; returns its record.
fn wait_for(server: &Binary, id: &str, state: &str) -> Value {
    let mut last = Value::Null;
    wait_long(server, &format!("experiment {id} is {state}"), || {
        last = record(server, id);
        last["state"] == state
    });
    last
}

/// Waits until experiment `id` is RUNNING with a Slurm job Slurm calls `slurm_state`; returns the job's id.
fn wait_for_job(server: &Binary, id: &str, slurm_state: &str) -> u64 {
    let mut job = 0;
    wait_long(
        server,
        &format!("experiment {id}'s Slurm job is {slurm_state}"),
        || {
            let record = record(server, id);
            let slurm = &record["handle"]["slurm"];
            job = slurm["job_id"].as_u64().unwrap_or(0);
            record["state"] == "RUNNING" && slurm["state"] == slurm_state
        },
    );
    job
}

/// Stops the server as an operator would (SIGTERM), and waits for it to exit.
fn stop(mut server: Binary) {
    server.signal(rustix::process::Signal::TERM);
    server.wait();
}

/// A pipeline whose jobs log their start (with the Slurm job's id) and end.
const LOGGING: &str = r#"
[[pipeline]]
name = "logged"
executor = "slurm"
command = 'echo "start $EXPERIMENT_ID $SLURM_JOB_ID" >> @LOG@; sleep SECS; echo "end $EXPERIMENT_ID" >> @LOG@'
"#;

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn ten_experiments_run_as_slurm_jobs_one_at_a_time_in_acceptance_order() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(&LOGGING.replace("SECS", "0.3"));
    let server = lab.start();
    let ids: Vec<String> = (0..10)
        .map(|_| submit_to(&server, "logged", json!({})))
        .collect();
    for id in &ids {
        let record = wait_for(&server, id, "COMPLETE");
        assert_eq!(record["exit_code"], 0, "{record}");
        assert_eq!(record["attempts"], 1, "{record}");
        assert!(record.get("handle").is_none(), "{record}");
    }
    // Each job ended before the next began, in acceptance order, and each
    // was submitted after the one before it (Slurm's ids grow).
    let log = lab.log();
    assert_eq!(log.len(), 20, "{log:#?}");
    let mut last_job = 0;
    for (n, id) in ids.iter().enumerate() {
        let start: Vec<&str> = log[2 * n].split(' ').collect();
        assert_eq!(&start[..2], ["start", id.as_str()], "{log:#?}");
        let job: u64 = start[2].parse().unwrap();
        assert!(job > last_job, "{log:#?}");
        last_job = job;
        assert_eq!(log[2 * n + 1], format!("end {id}"), "{log:#?}");
    }
    // The job worked in the experiment's directory and wrote its logs there.
    let dir = lab.experiments().join(&ids[0]);
    assert!(dir.join("stdout.txt").is_file());
    assert!(dir.join("stderr.txt").is_file());
    assert_eq!(fs::read_to_string(dir.join(".exit-code")).unwrap(), "0\n");
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_pipeline_allowing_two_runs_two_at_once_and_everything_still_starts_in_order() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "pair"
executor = "slurm"
max_running = 2
command = 'echo "start $EXPERIMENT_ID $SLURM_JOB_ID" >> @LOG@; sleep 2; echo "end $EXPERIMENT_ID" >> @LOG@'

[[pipeline]]
name = "here"
command = 'echo "start $EXPERIMENT_ID local" >> @LOG@; sleep 0.5; echo "end $EXPERIMENT_ID" >> @LOG@'
"#,
    );
    let server = lab.start();
    // Hold the queue while submitting, so every start is the worker's choice.
    assert_eq!(
        request(server.addr, "POST", "/queue/pause", &[], b"").status,
        200
    );
    let plan = [
        "pair", "pair", "pair", "here", "pair", "pair", "pair", "pair",
    ];
    let ids: Vec<String> = plan
        .iter()
        .map(|pipeline| submit_to(&server, pipeline, json!({})))
        .collect();
    assert_eq!(
        request(server.addr, "POST", "/queue/resume", &[], b"").status,
        200
    );
    for id in &ids {
        wait_for(&server, id, "COMPLETE");
    }
    let log = lab.log();
    let at = |word: &str, id: &str| {
        log.iter()
            .position(|line| line.split(' ').take(2).eq([word, id]))
            .unwrap_or_else(|| panic!("no {word} of {id}: {log:#?}"))
    };
    // Never more than two at once, and two at once did happen.
    let mut running = 0;
    let mut most = 0;
    for line in &log {
        running += if line.starts_with("start ") { 1 } else { -1 };
        most = most.max(running);
        assert!(running <= 2, "{log:#?}");
    }
    assert_eq!(most, 2, "{log:#?}");
    for (k, id) in ids.iter().enumerate() {
        // When one starts, at most one experiment ahead of it is still in flight.
        let unfinished = ids[..k]
            .iter()
            .filter(|ahead| at("end", ahead) > at("start", id))
            .count();
        assert!(unfinished <= 1, "{id}: {log:#?}");
        // The local one waits for everything in flight, and runs alone.
        if plan[k] == "here" {
            for (j, other) in ids.iter().enumerate() {
                if j < k {
                    assert!(at("end", other) < at("start", id), "{log:#?}");
                } else if j > k {
                    assert!(at("end", id) < at("start", other), "{log:#?}");
                }
            }
        }
    }
    // seqspool started them in acceptance order ...
    let said = server.log();
    let started: Vec<usize> = ids
        .iter()
        .map(|id| {
            said.find(&format!("experiment {id} started"))
                .unwrap_or_else(|| panic!("{id} never started: {said}"))
        })
        .collect();
    assert!(started.windows(2).all(|pair| pair[0] < pair[1]), "{said}");
    // ... and submitted them so: Slurm's job ids grow with the experiments'.
    let jobs: Vec<u64> = ids
        .iter()
        .zip(plan)
        .filter(|(_, pipeline)| *pipeline == "pair")
        .map(|(id, _)| {
            log[at("start", id)]
                .split(' ')
                .nth(2)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(jobs.windows(2).all(|pair| pair[0] < pair[1]), "{jobs:?}");
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_kill_9_while_a_job_runs_reattaches_to_it_and_runs_nothing_twice() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(&LOGGING.replace("SECS", "4"));
    let mut server = lab.start();
    let first = submit_to(&server, "logged", json!({}));
    let second = submit_to(&server, "logged", json!({}));
    wait_for_job(&server, &first, "RUNNING");
    wait_long(&server, "the first job has started", || {
        lab.logged("start") == 1
    });
    server.crash();
    // The job runs on without seqspool.
    assert_eq!(
        record_on_disk(&lab.experiments(), &first)["state"],
        "RUNNING"
    );

    let server = lab.start();
    assert!(
        server
            .log()
            .contains(&format!("experiment {first}: re-attaching to Slurm job")),
        "{}",
        server.log()
    );
    let done = wait_for(&server, &first, "COMPLETE");
    assert_eq!(done["attempts"], 1, "{done}");
    wait_for(&server, &second, "COMPLETE");
    assert_eq!(
        lab.log()
            .iter()
            .map(|line| line.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        [
            format!("start {first}"),
            format!("end {first}"),
            format!("start {second}"),
            format!("end {second}"),
        ],
        "each ran once, in order"
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_job_that_ended_while_seqspool_was_down_is_settled_at_the_restart() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "ends"
executor = "slurm"
command = 'echo "start $EXPERIMENT_ID" >> @LOG@; sleep 1; echo "end $EXPERIMENT_ID" >> @LOG@; exit "$PARAM_CODE"'

[[pipeline.param]]
name = "code"
type = "integer"
"#,
    );
    for code in [0, 4] {
        let mut server = lab.start();
        let id = submit_to(&server, "ends", json!({"code": code}));
        wait_for_job(&server, &id, "RUNNING");
        server.crash();
        wait_long(&server, "the job ended", || {
            lab.logged(&format!("end {id}")) == 1
        });
        let mut ended = false;
        // Slurm has seen the end too (the node tells the controller).
        wait_long(&server, "Slurm says the job ended", || {
            ended = record_on_disk(&lab.experiments(), &id)["handle"]["slurm"]["job_id"]
                .as_u64()
                .and_then(|job| cluster.job(job))
                .is_some_and(|(state, _)| state == "COMPLETED" || state == "FAILED");
            ended
        });
        let server = lab.start();
        let record = if code == 0 {
            wait_for(&server, &id, "COMPLETE")
        } else {
            wait_for(&server, &id, "EXECUTOR_ERROR")
        };
        assert_eq!(record["exit_code"], code, "{record}");
        assert_eq!(record["attempts"], 1, "{record}");
        assert_eq!(lab.logged(&format!("start {id}")), 1);
        stop(server);
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_pending_and_a_running_job_are_cancelled_with_scancel() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "later"
executor = "slurm"
command = 'echo "start $EXPERIMENT_ID" >> @LOG@'
[pipeline.slurm]
options = ["--begin=now+3600"]

[[pipeline]]
name = "long"
executor = "slurm"
command = 'echo "start $EXPERIMENT_ID" >> @LOG@; sleep 60; echo "end $EXPERIMENT_ID" >> @LOG@'
"#,
    );
    let server = lab.start();
    let pending = submit_to(&server, "later", json!({}));
    let running = submit_to(&server, "long", json!({}));

    // Submitted and pending: RUNNING in the record, not yet in Slurm's sense.
    let job = wait_for_job(&server, &pending, "PENDING");
    assert_eq!(record(&server, &pending)["handle"]["executor"], "slurm");
    // The page says it waits on the cluster, not that it runs.
    let page = request(
        server.addr,
        "GET",
        &format!("/experiments/{pending}"),
        &[("Accept", "text/html")],
        b"",
    )
    .text();
    assert!(
        page.contains(&format!(
            "Submitted to the cluster as Slurm job {job}: waiting for Slurm to start it"
        )),
        "{page}"
    );
    assert_eq!(cancel(&server, &pending), 202);
    let record_of = wait_for(&server, &pending, "CANCELED");
    assert!(
        record_of["error"].as_str().unwrap().contains("canceled"),
        "{record_of}"
    );
    assert_eq!(cluster.job(job).unwrap().0, "CANCELLED");

    let job = wait_for_job(&server, &running, "RUNNING");
    wait_long(&server, "the long job has started", || {
        lab.logged(&format!("start {running}")) == 1
    });
    assert_eq!(cancel(&server, &running), 202);
    wait_for(&server, &running, "CANCELED");
    assert_eq!(cluster.job(job).unwrap().0, "CANCELLED");
    assert_eq!(
        lab.logged(&format!("start {pending}")),
        0,
        "the pending job never ran"
    );
    assert_eq!(lab.logged("end"), 0, "the running job was stopped");
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_timeout_cancels_the_job_and_becomes_its_time_limit() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "slow"
executor = "slurm"
timeout = 2
command = 'echo "start $EXPERIMENT_ID" >> @LOG@; sleep 60; echo "end $EXPERIMENT_ID" >> @LOG@'
"#,
    );
    let server = lab.start();
    let id = submit_to(&server, "slow", json!({}));
    let job = wait_for_job(&server, &id, "RUNNING");
    let shown = cluster
        .client("scontrol", &["show", "job", "--oneliner", &job.to_string()])
        .unwrap();
    assert!(shown.contains("TimeLimit=00:01:00"), "{shown}");
    let record = wait_for(&server, &id, "EXECUTOR_ERROR");
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("timed out after 2.0 s"), "{record}");
    assert_eq!(cluster.job(job).unwrap().0, "CANCELLED");
    assert_eq!(lab.logged("end"), 0);
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_failing_command_is_an_executor_error_and_parameters_arrive_only_in_its_environment() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "fails"
executor = "slurm"
env = { LAB_DB = "/data/db" }
command = 'env | grep -E "^(PARAM_|PIPELINE=|LAB_DB=|QUERY_NAME=|EXPERIMENT_ID=)" | LC_ALL=C sort > env.txt; echo "no hits" >&2; exit 3'

[[pipeline.param]]
name = "note"
type = "text"
"#,
    );
    let server = lab.start();
    let note = "a;b $(touch pwned) `touch pwned2` 'q\" \\";
    let id = submit_to(&server, "fails", json!({"note": note}));
    let record = wait_for(&server, &id, "EXECUTOR_ERROR");
    assert_eq!(record["exit_code"], 3, "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("exited with code 3") && error.contains("FAILED"),
        "{record}"
    );
    let dir = lab.experiments().join(&id);
    assert_eq!(
        fs::read_to_string(dir.join("stderr.txt")).unwrap(),
        "no hits\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("env.txt")).unwrap(),
        format!("EXPERIMENT_ID={id}\nLAB_DB=/data/db\nPARAM_NOTE={note}\nPIPELINE=fails\nQUERY_NAME=q\n")
    );
    assert!(!dir.join("pwned").exists() && !dir.join("pwned2").exists());
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn an_sbatch_refused_for_a_bad_partition_pauses_the_queue_and_loses_nothing() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(
        r#"
[[pipeline]]
name = "nowhere"
executor = "slurm"
command = 'echo "start $EXPERIMENT_ID" >> @LOG@'
[pipeline.slurm]
partition = "nosuch"

[[pipeline]]
name = "here"
command = 'echo "start $EXPERIMENT_ID" >> @LOG@'
"#,
    );
    let server = lab.start();
    let refused = submit_to(&server, "nowhere", json!({}));
    let behind = submit_to(&server, "here", json!({}));
    wait_long(&server, "the queue pauses", || {
        queue(&server)["paused"] == true
    });
    let state = queue(&server);
    let reason = state["pause"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("experiment {refused}")) && reason.contains("sbatch"),
        "{state}"
    );
    let first = record(&server, &refused);
    assert_eq!(first["state"], "QUEUED", "{first}");
    assert_eq!(first["position"], 1, "{first}");
    assert_eq!(first["attempts"], 0, "{first}");
    assert!(
        first["error"].as_str().unwrap().contains("partition"),
        "{first}"
    );
    assert_eq!(record(&server, &behind)["state"], "QUEUED");
    assert!(lab.log().is_empty());
    // After a restart it is still there, first, and the queue still paused.
    stop(server);
    // (A restart lifts a pause the workstation caused; the worker meets the refusal again.)
    let server = lab.start();
    wait_long(&server, "the queue pauses again", || {
        queue(&server)["paused"] == true
    });
    let again = record(&server, &refused);
    assert_eq!(
        (again["position"].clone(), again["attempts"].clone()),
        (json!(1), json!(0)),
        "{again}"
    );
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn recovery_cancels_a_job_never_released_and_requeues_one_slurm_forgot() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(&LOGGING.replace("SECS", "0.2"));
    let server = lab.start();
    assert_eq!(
        request(server.addr, "POST", "/queue/pause", &[], b"").status,
        200
    );
    let held = submit_to(&server, "logged", json!({}));
    let forgotten = submit_to(&server, "logged", json!({}));
    stop(server);

    // As seqspool would have left them had it died between recording a held
    // job and releasing it, and with a job the controller no longer knows.
    let dir = lab.experiments().join(&held);
    let job: u64 = cluster
        .client(
            "sbatch",
            &[
                "--parsable",
                "--hold",
                &format!("--job-name={held}"),
                &format!("--chdir={}", dir.display()),
                "--wrap",
                &format!("echo never >> {}", lab.path("run.log").display()),
            ],
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for (id, job_id) in [(&held, job), (&forgotten, 3_000_000)] {
        let mut record = record_on_disk(&lab.experiments(), id);
        record["state"] = json!("RUNNING");
        record["attempts"] = json!(1);
        record["started_at"] = record["submitted_at"].clone();
        record["handle"] =
            json!({"executor": "slurm", "slurm": {"job_id": job_id, "state": "HELD"}});
        write_record(&lab.experiments(), id, &record);
    }

    let server = lab.start();
    assert_eq!(cluster.job(job).unwrap().0, "CANCELLED");
    let record_of = |id: &str| record(&server, id);
    assert_eq!(record_of(&held)["state"], "QUEUED");
    assert_eq!(record_of(&forgotten)["state"], "QUEUED");
    assert_eq!(
        request(server.addr, "POST", "/queue/resume", &[], b"").status,
        200
    );
    let ran = wait_for(&server, &held, "COMPLETE");
    assert_eq!(ran["attempts"], 1, "the held job never ran: {ran}");
    let again = wait_for(&server, &forgotten, "COMPLETE");
    assert_eq!(again["attempts"], 2, "the forgotten one ran again: {again}");
    assert_eq!(lab.logged("never"), 0);
    assert_eq!(lab.logged(&format!("start {held}")), 1);
    assert_eq!(lab.logged(&format!("start {forgotten}")), 1);
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_controller_stopped_mid_run_or_at_start_fails_nothing() {
    let cluster = cluster();
    let _turn = cluster.exclusive();
    let lab = SlurmLab::new(cluster);
    lab.config(&LOGGING.replace("SECS", "3"));
    let mut server = lab.start();

    // Mid-run: the job finishes while the controller is away; nothing fails,
    // and what waits behind it is submitted once the controller is back.
    let first = submit_to(&server, "logged", json!({}));
    wait_for_job(&server, &first, "RUNNING");
    cluster.stop_controller();
    let second = submit_to(&server, "logged", json!({}));
    wait_long(&server, "the first job ended", || {
        lab.logged(&format!("end {first}")) == 1
    });
    thread::sleep(Duration::from_secs(1));
    assert_eq!(record(&server, &first)["state"], "RUNNING");
    assert_eq!(record(&server, &second)["state"], "QUEUED");
    cluster.start_controller().unwrap();
    assert_eq!(wait_for(&server, &first, "COMPLETE")["attempts"], 1);
    assert_eq!(wait_for(&server, &second, "COMPLETE")["attempts"], 1);
    assert_eq!(queue(&server)["paused"], false);

    // At start: seqspool cannot tell what became of its job, so the queue
    // pauses; the job is followed all the same, and settled once the
    // controller answers.
    let third = submit_to(&server, "logged", json!({}));
    wait_for_job(&server, &third, "RUNNING");
    server.crash();
    cluster.stop_controller();
    let server = lab.start();
    let state = queue(&server);
    assert_eq!(state["paused"], true, "{state}");
    assert!(
        state["pause"]["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{state}"
    );
    assert_eq!(record(&server, &third)["state"], "RUNNING");
    cluster.start_controller().unwrap();
    let done = wait_for(&server, &third, "COMPLETE");
    assert_eq!(done["attempts"], 1, "{done}");
    for id in [&first, &second, &third] {
        assert_eq!(lab.logged(&format!("start {id}")), 1, "{id} ran once");
    }
}

#[test]
fn a_slurm_pipeline_is_refused_when_its_table_is_wrong() {
    // No cluster needed: the configuration is checked before anything runs.
    let lab = Lab::new();
    for (table, says) in [
        (
            "executor = \"slurm\"\ncommand = \"true\"\n[pipeline.slurm]\noptions = [\"--export=NONE\"]",
            "seqspool sets itself",
        ),
        (
            "command = \"true\"\n[pipeline.slurm]\npartition = \"gpu\"",
            "needs `executor",
        ),
        ("command = \"true\"\nmax_running = 2", "only a Slurm pipeline"),
    ] {
        lab.config(&format!("[[pipeline]]\nname = \"p\"\n{table}\n"));
        let output = output_within(&mut lab.command(&[]));
        assert!(!output.status.success());
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(says), "{table}: {said}");
    }
}

/// The example configuration the README shows is one seqspool reads.
#[test]
fn the_example_slurm_configuration_reads() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/slurm.toml");
    let mut config = seqspool::Config::new("unused");
    config
        .apply_file(&fs::read_to_string(&example).unwrap(), &example, None)
        .unwrap();
    assert!(config
        .pipelines
        .iter()
        .any(|p| p.definition.slurm.is_some()));
}

#[test]
#[cfg_attr(
    not(seqspool_test_slurm),
    ignore = "needs a private Slurm cluster: munge, slurmctld, slurmd, slurm-client, and root"
)]
fn a_group_is_one_slurm_job_and_a_kill_9_re_attaches_to_it() {
    let cluster = cluster();
    let _turn = cluster.shared();
    let lab = SlurmLab::new(cluster);
    lab.config(&format!(
        r#"
[[pipeline]]
name = "letters"
executor = "slurm"
group = 3
command = 'echo "job $EXPERIMENT_ID $SLURM_JOB_ID ${{SEQSPOOL_GROUP:+grouped}}" >> @LOG@; [ -z "${{SEQSPOOL_GROUP:-}}" ] || while [ ! -e @LAB@/gate ]; do sleep 0.1; done; sh {}/examples/group_letters.sh'
"#,
        env!("CARGO_MANIFEST_DIR")
    ));
    let mut server = lab.start();
    let paused = request(server.addr, "POST", "/queue/pause?reason=loading", &[], b"");
    assert_eq!(paused.status, 200, "{}", paused.text());
    let ids: Vec<String> = (0..4)
        .map(|_| submit_to(&server, "letters", json!({})))
        .collect();
    assert_eq!(
        request(server.addr, "POST", "/queue/resume", &[], b"").status,
        200
    );
    // Every member is RUNNING with the one job of its group.
    let job = wait_for_job(&server, &ids[0], "RUNNING");
    for id in &ids[1..3] {
        let record = record(&server, id);
        assert_eq!(record["handle"]["slurm"]["job_id"], job, "{record:#}");
        assert_eq!(
            record["group"],
            json!({"id": ids[0], "size": 3}),
            "{record:#}"
        );
    }
    // The server dies while the job runs; the next start follows the job.
    server.crash();
    fs::write(lab.path("gate"), "").unwrap();
    let server = lab.start();
    for id in &ids {
        let record = wait_for(&server, id, "COMPLETE");
        assert_eq!(record["attempts"], 1, "{record:#}");
        let letters = fs::read_to_string(lab.experiments().join(id).join("letters.tsv")).unwrap();
        assert!(letters.starts_with("letter\tcount\n"), "{letters}");
    }
    let log = lab.log();
    assert_eq!(
        log.len(),
        2,
        "one job for the group, one for the fourth alone: {log:?}"
    );
    assert_eq!(log[0], format!("job {} {job} grouped", ids[0]));
    assert!(
        log[1].starts_with(&format!("job {} ", ids[3])) && log[1].ends_with(' '),
        "{log:?}"
    );
    assert!(
        fs::read_dir(lab.experiments().join(".groups")).map_or(true, |mut d| d.next().is_none())
    );
}
