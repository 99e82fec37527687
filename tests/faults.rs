//! Write faults: a full disk, a failing one, a removed directory. A submission
//! that cannot be written answers 507 or 500 with what failed where, leaves
//! nothing visible, and the server serves reads meanwhile and accepts again
//! once the fault is gone.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
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

#[test]
fn a_state_change_that_cannot_be_recorded_is_logged_and_the_disk_wins_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let faults = Faults::default();
    let record_on_disk = |id: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(dir.join(id).join("experiment.json")).unwrap()).unwrap()
    };
    let waiting;
    {
        let server = Server::start_in(&dir, |config| {
            config.faults = faults.clone();
            config.command = Some("sleep 0.5".into());
        });
        let running = server.submit("first", SEQUENCE);
        server.wait_for_state(&running, "RUNNING");
        waiting = server.submit("second", SEQUENCE);
        // From here no state change can be written: memory runs ahead of the disk.
        faults.fail_writes(ENOSPC);
        server.wait_for_state(&waiting, "COMPLETE");
        assert_eq!(record_on_disk(&waiting)["state"], "QUEUED");
    }
    // After a restart memory is the disk again: the experiment runs again, and is recorded.
    let server = Server::start_in(&dir, |config| config.command = Some("sleep 0.1".into()));
    let record = server.wait_for_state(&waiting, "COMPLETE");
    assert_eq!(record["attempts"], 1);
    wait_until("the second run is recorded", || {
        record_on_disk(&waiting)["state"] == "COMPLETE"
    });
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_really_full_disk_answers_507_and_accepts_again_once_there_is_room() {
    let tmp = tempfile::tempdir().unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = rustix::process::geteuid().is_root();
    let Some(tmpfs) = root
        .then(|| Tmpfs::mount(&tmp.path().join("disk"), "512k"))
        .flatten()
    else {
        assert!(
            !required("tmpfs"),
            "mounting a tmpfs is required here (SEQSPOOL_TEST_REQUIRE) but failed"
        );
        eprintln!("SKIPPED a_really_full_disk_answers_507...: mounting a tmpfs needs root; the injected-fault tests cover the same path");
        return;
    };
    let dir = tmpfs.0.join("experiments");
    let server = Server::start_in(&dir, |_| {});
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
