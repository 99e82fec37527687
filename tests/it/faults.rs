//! Write faults: a full disk, a failing one, a removed directory. A submission
//! that cannot be written answers 507 or 500 with what failed where, leaves
//! nothing visible, and the server serves reads meanwhile and accepts again
//! once the fault is gone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use seqspool::fault::Faults;

/// "No space left on device".
const ENOSPC: i32 = rustix::io::Errno::NOSPC.raw_os_error();

const SEQUENCE: &str = "ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG";

fn submit_answer(server: &Server) -> Response {
    server.post_form(
        "/experiments",
        &[("query_name", "q"), ("query_sequence", SEQUENCE)],
    )
}

#[test]
fn an_injected_full_disk_answers_507_and_leaves_nothing() {
    let faults = Faults::default();
    let server = Server::start(|config| config.faults = faults.clone());
    let first = server.submit("before", SEQUENCE);
    server.wait_for_state(&first, "COMPLETE");
    let before = snapshot(&server.dir);

    faults.fail_writes(ENOSPC);
    let refused = submit_answer(&server);
    assert_eq!(refused.status, 507, "{}", refused.text());
    let error = refused.json();
    assert_eq!(error["status_code"], 507);
    let msg = error["msg"].as_str().unwrap();
    assert!(
        msg.contains("writing") && msg.contains("query.fasta") && msg.contains("No space left"),
        "{msg}"
    );
    let legacy = server.post_form("/", &[("query_name", "q"), ("query_sequence", SEQUENCE)]);
    assert_eq!(legacy.status, 507, "{}", legacy.text());
    assert_eq!(
        snapshot(&server.dir),
        before,
        "a refused submission left something behind"
    );

    // Reads go on meanwhile.
    assert_eq!(server.get("/backlog").status, 200);
    assert_eq!(
        server.get(&format!("/experiments/{first}")).json()["state"],
        "COMPLETE"
    );
    assert_eq!(
        server
            .get(&format!("/experiments/{first}/files/analysis.json"))
            .status,
        200
    );

    faults.clear();
    let id = server.submit("after", SEQUENCE);
    server.wait_for_state(&id, "COMPLETE");
}

#[test]
fn any_other_write_failure_answers_500_with_the_reason() {
    let faults = Faults::default();
    let server = Server::start(|config| config.faults = faults.clone());
    faults.fail_writes(rustix::io::Errno::IO.raw_os_error());
    let refused = submit_answer(&server);
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert!(refused.json()["msg"]
        .as_str()
        .unwrap()
        .contains("Input/output error"));
    assert!(server.experiment_dirs().is_empty());
}

#[test]
fn a_removed_incoming_directory_is_made_again() {
    let server = Server::start(|_| {});
    fs::remove_dir_all(server.dir.join(".incoming")).unwrap();
    let id = server.submit("q", SEQUENCE);
    server.wait_for_state(&id, "COMPLETE");
}

/// A command that blocks until `gate` exists, and logs `start ID` and `end ID`
/// to `log`, so a test sees exactly which experiments ran and when.
fn gated_command(gate: &Path, log: &Path) -> String {
    format!(
        "echo \"start $EXPERIMENT_ID\" >> '{log}'; while [ ! -e '{gate}' ]; do sleep 0.02; done; \
         echo \"end $EXPERIMENT_ID\" >> '{log}'",
        gate = gate.display(),
        log = log.display()
    )
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn queue(server: &Server) -> serde_json::Value {
    server.get("/queue").json()
}

#[test]
fn an_end_that_cannot_be_recorded_pauses_the_queue_and_is_never_shown_before_it_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (gate, log) = (tmp.path().join("gate"), tmp.path().join("run.log"));
    let faults = Faults::default();
    let server = Server::start(|config| {
        config.faults = faults.clone();
        config.command = Some(gated_command(&gate, &log));
    });
    let first = server.submit("first", SEQUENCE);
    server.wait_for_state(&first, "RUNNING");
    let second = server.submit("second", SEQUENCE);

    faults.fail_writes(ENOSPC);
    fs::write(&gate, "").unwrap();
    wait_until("the queue pauses", || queue(&server)["paused"] == true);
    let paused = queue(&server);
    let reason = paused["pause"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("could not record the end of experiment {first}"))
            && reason.contains("No space left on device"),
        "{paused:#}"
    );
    assert_eq!(paused["pause"]["by"], "workstation");
    // Memory shows what the disk has: still RUNNING, with why.
    let record = server.get(&format!("/experiments/{first}")).json();
    assert_eq!(record["state"], "RUNNING", "{record:#}");
    assert!(record["error"]
        .as_str()
        .unwrap()
        .contains("could not be recorded yet"));
    let waiting = server.get(&format!("/experiments/{second}")).json();
    assert_eq!(
        (waiting["state"].as_str(), waiting["position"].as_u64()),
        (Some("QUEUED"), Some(1))
    );

    // Once the disk takes writes again the end is recorded; the queue holds
    // until an operator resumes it.
    faults.clear();
    server.wait_for_state(&first, "COMPLETE");
    assert_eq!(queue(&server)["paused"], true);
    assert_eq!(
        lines(&log),
        [format!("start {first}"), format!("end {first}")]
    );
    let resumed = server.post_form("/queue/resume", &[]);
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    assert_eq!(resumed.json()["paused"], false);
    server.wait_for_state(&second, "COMPLETE");
    assert_eq!(
        lines(&log),
        [
            format!("start {first}"),
            format!("end {first}"),
            format!("start {second}"),
            format!("end {second}")
        ]
    );
}

#[test]
fn a_start_that_cannot_be_recorded_runs_nothing_waits_at_the_head_and_pauses_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let (gate, log) = (tmp.path().join("gate"), tmp.path().join("run.log"));
    let faults = Faults::default();
    let server = Server::start(|config| {
        config.faults = faults.clone();
        config.command = Some(gated_command(&gate, &log));
    });
    let first = server.submit("first", SEQUENCE);
    server.wait_for_state(&first, "RUNNING");
    let second = server.submit("second", SEQUENCE);
    let third = server.submit("third", SEQUENCE);
    let paused = server.post_form("/queue/pause", &[]);
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert_eq!(paused.json()["pause"]["by"], "operator");
    fs::write(&gate, "").unwrap();
    server.wait_for_state(&first, "COMPLETE");

    // Records cannot be written from here; the queue's own state can.
    faults.fail_writes_to("experiment.json", ENOSPC);
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    wait_until("the queue pauses again", || {
        queue(&server)["paused"] == true
    });
    let reason = queue(&server)["pause"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains(&format!("experiment {second}"))
            && reason.contains("could not be recorded"),
        "{reason}"
    );
    let waiting = server.get(&format!("/experiments/{second}")).json();
    assert_eq!(
        (
            waiting["state"].as_str(),
            waiting["position"].as_u64(),
            waiting["attempts"].as_u64()
        ),
        (Some("QUEUED"), Some(1), Some(0)),
        "{waiting:#}"
    );
    assert_eq!(
        server.get(&format!("/experiments/{third}")).json()["state"],
        "QUEUED"
    );
    assert_eq!(
        lines(&log).len(),
        2,
        "a command ran without being recorded: {:?}",
        lines(&log)
    );

    faults.clear();
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    for id in [&second, &third] {
        assert_eq!(server.wait_for_state(id, "COMPLETE")["attempts"], 1);
    }
    assert_eq!(lines(&log).len(), 6, "{:?}", lines(&log));
}

#[test]
fn a_pause_outlasts_a_restart_and_a_resume_lifts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let id;
    {
        let server = Server::start_in(&dir, |config| config.command = Some("true".into()));
        let paused = server.post_form("/queue/pause", &[]);
        assert_eq!(paused.status, 200);
        id = server.submit("waits", SEQUENCE);
        assert_eq!(
            server.get(&format!("/experiments/{id}")).json()["state"],
            "QUEUED"
        );
    }
    let server = Server::start_in(&dir, |config| config.command = Some("true".into()));
    let info = server.get("/service-info").json();
    assert_eq!(info["queue"]["paused"], true, "{info:#}");
    assert_eq!(info["queue"]["pause"]["reason"], "paused by an operator");
    assert_eq!(
        server.get(&format!("/experiments/{id}")).json()["state"],
        "QUEUED"
    );
    assert_eq!(server.post_form("/queue/resume", &[]).status, 200);
    server.wait_for_state(&id, "COMPLETE");
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one of `size` at `at`, for a test marked `seqspool_test_tmpfs`;
    /// fails the test (see [`missing`]) when it cannot.
    fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status();
        if !mounted.as_ref().is_ok_and(|status| status.success()) {
            missing(
                "tmpfs",
                &format!("mounting a tmpfs failed ({mounted:?}): it needs root"),
            );
        }
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[cfg_attr(
    not(seqspool_test_tmpfs),
    ignore = "needs root, to mount a small tmpfs"
)]
fn a_really_full_disk_answers_507_and_accepts_again_once_there_is_room() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpfs = Tmpfs::mount(&tmp.path().join("disk"), "512k");
    let dir = tmpfs.0.join("experiments");
    // The disk is tiny: let runs start with little room.
    let server = Server::start_in(&dir, |config| config.min_free = 0);
    let first = server.submit("fits", SEQUENCE);
    server.wait_for_state(&first, "COMPLETE");

    // Fill the disk to the last block.
    let filler = tmpfs.0.join("filler");
    let mut file = fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while file.write_all(&block).is_ok() {}
    let _ = file.write_all(&[0]);
    drop(file);

    let before = snapshot(&dir);
    let refused = submit_answer(&server);
    assert_eq!(refused.status, 507, "{}", refused.text());
    assert!(refused.json()["msg"]
        .as_str()
        .unwrap()
        .contains("No space left on device"));
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused submission left something behind"
    );
    assert_eq!(server.get("/backlog").status, 200);

    fs::remove_file(&filler).unwrap();
    let id = server.submit("after", SEQUENCE);
    server.wait_for_state(&id, "COMPLETE");
    drop(server);
}

#[test]
fn a_cancel_that_cannot_be_recorded_is_refused_and_changes_nothing() {
    let faults = Faults::default();
    let server = Server::start(|config| {
        config.faults = faults.clone();
        config.command = Some("sleep 30".into());
    });
    let running = server.submit("running", SEQUENCE);
    server.wait_for_state(&running, "RUNNING");
    let waiting = server.submit("waiting", SEQUENCE);

    faults.fail_writes(ENOSPC);
    let refused = server.delete(&format!("/experiments/{waiting}"));
    assert_eq!(refused.status, 507, "{}", refused.text());
    // Not on disk, so not canceled: it still waits, in its place.
    let record = server.get(&format!("/experiments/{waiting}")).json();
    assert_eq!(
        (record["state"].as_str(), record["position"].as_u64()),
        (Some("QUEUED"), Some(1))
    );
    assert_eq!(
        server.get("/backlog").json()[0],
        "Currently 2 jobs in the backlog."
    );

    faults.clear();
    let canceled = server.delete(&format!("/experiments/{waiting}"));
    assert_eq!(canceled.status, 200, "{}", canceled.text());
    assert_eq!(canceled.json()["state"], "CANCELED");
}

#[test]
#[cfg_attr(
    not(seqspool_test_tmpfs),
    ignore = "needs root, to mount a small tmpfs"
)]
fn a_disk_filled_during_a_run_pauses_the_queue_and_after_a_kill_9_nothing_runs_twice_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpfs = Tmpfs::mount(&tmp.path().join("disk"), "4m");
    let dir = tmpfs.0.join("experiments");
    let (gate, log) = (tmp.path().join("gate"), tmp.path().join("run.log"));
    // The first run fills the disk once all are submitted, then waits; every
    // run logs outside the disk.
    let fill = tmp.path().join("fill-now");
    let command = format!(
        "echo \"start $EXPERIMENT_ID\" >> '{log}'; \
         if [ ! -e '{filled}' ]; then : > '{filled}'; while [ ! -e '{fill}' ]; do sleep 0.02; done; \
         head -c 64M /dev/zero > fill 2>/dev/null; : > filled-up; \
         while [ ! -e '{gate}' ]; do sleep 0.02; done; fi; echo \"end $EXPERIMENT_ID\" >> '{log}'",
        log = log.display(),
        gate = gate.display(),
        fill = fill.display(),
        filled = tmp.path().join("filled").display(),
    );
    let args = ["--command", command.as_str(), "--min-free", "262144"];
    let mut server = Binary::start(&dir, &args);
    let ids: Vec<String> = (0..4)
        .map(|n| submit(server.addr, &format!("q{n}"), SEQUENCE))
        .collect();
    fs::write(&fill, "").unwrap();
    wait_until("the first run has filled the disk", || {
        dir.join(&ids[0]).join("filled-up").exists()
    });
    fs::write(&gate, "").unwrap();
    let paused = || request(server.addr, "GET", "/queue", &[], b"").json();
    wait_until("the queue pauses", || paused()["paused"] == true);
    let state = paused();
    assert_eq!(state["pause"]["by"], "workstation", "{state:#}");
    // Nothing behind the first ran, and nothing of them is final.
    for id in &ids[1..] {
        let record = request(server.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
        assert_eq!(record["state"], "QUEUED", "{record:#}");
    }
    let ran: Vec<String> = lines(&log);
    assert_eq!(
        ran.iter().filter(|line| line.starts_with("start")).count(),
        1,
        "{ran:?}"
    );

    server.crash();
    fs::remove_file(dir.join(&ids[0]).join("fill")).unwrap();
    // With room again the start-up checks pass: a pause that reached the
    // disk is lifted (one that did not, for want of room, is not there).
    let server = Binary::start(&dir, &args);
    assert_eq!(
        request(server.addr, "GET", "/queue", &[], b"").json()["paused"],
        false,
        "{}",
        server.log()
    );
    for id in &ids {
        wait_for_state(server.addr, id, "COMPLETE");
    }
    // One start per experiment (two for the first, if its end was not recorded
    // before the kill), and every run ended before the next began.
    let ran = lines(&log);
    let mut open: Option<String> = None;
    let mut starts = Vec::new();
    for line in &ran {
        let (what, id) = line.split_once(' ').unwrap();
        match what {
            "start" => {
                assert!(
                    open.is_none() || starts.len() == 1,
                    "two runs at once: {ran:?}"
                );
                open = Some(id.to_owned());
                starts.push(id.to_owned());
            }
            _ => {
                assert_eq!(open.take().as_deref(), Some(id), "{ran:?}");
            }
        }
    }
    for id in &ids[1..] {
        assert_eq!(starts.iter().filter(|s| *s == id).count(), 1, "{ran:?}");
    }
    drop(server);
    drop(tmpfs);
}
