//! Nothing a command starts outlives its experiment: not a child in the
//! background, not one that leaves its process group with `setsid`, not a
//! double-forked daemon, whether the run ends by itself, by a cancel, a
//! timeout, a shutdown or the death of the server. And the command runs as
//! `sh -c` would run it, in a session of its own, at the lowest priority.

use crate::common::*;

use std::fs;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;

/// A command that starts an escapee (in a session of its own) and a
/// double-forked daemon (orphaned at once), writes their pids, and then runs
/// `rest`.
fn escaping(rest: &str) -> String {
    format!(
        "setsid sh -c 'echo $$ > escapee.pid; exec sleep 300' > /dev/null 2>&1 & \
         (setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' > /dev/null 2>&1 &) ; \
         while [ ! -s escapee.pid ] || [ ! -s daemon.pid ]; do sleep 0.01; done; {rest}"
    )
}

/// The escapee and the daemon of experiment `id`, once both exist.
fn escapees(dir: &Path, id: &str) -> [Process; 2] {
    [
        Process::from_pid_file(&dir.join(id).join("escapee.pid")),
        Process::from_pid_file(&dir.join(id).join("daemon.pid")),
    ]
}

/// Whether the escapee whose pid a command wrote into `file` still runs (a
/// `sleep 300`, so that a pid given again to a stranger does not count).
fn still_sleeping(file: &Path) -> bool {
    let pid = read_pid(file);
    alive(pid)
        && fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| cmdline == b"sleep\x00300\x00")
}

/// The session id (field 6 of `/proc/PID/stat`) of a process.
fn session(pid: i32) -> i32 {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = text[text.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[3].parse().unwrap()
}

#[test]
fn escapees_are_gone_when_the_command_exits_by_itself() {
    let server = Server::start(|config| config.command = Some(escaping("exit 0")));
    let id = server.submit("escaping", "ACGT");
    let record = server.wait_for_state(&id, "COMPLETE");
    for name in ["escapee.pid", "daemon.pid"] {
        assert!(
            !still_sleeping(&server.dir.join(&id).join(name)),
            "a process that left its group survived: {record:#}"
        );
    }
    let stderr = fs::read_to_string(server.dir.join(&id).join("stderr.txt")).unwrap();
    assert!(
        stderr.contains("killed 2 process(es) the command left running"),
        "{stderr}"
    );
}

#[test]
fn escapees_are_gone_after_a_cancel() {
    let server = Server::start(|config| config.command = Some(escaping("sleep 300")));
    let id = server.submit("escaping", "ACGT");
    server.wait_for_state(&id, "RUNNING");
    let escaped = Leftovers(escapees(&server.dir, &id).to_vec());
    assert_eq!(server.delete(&format!("/experiments/{id}")).status, 202);
    server.wait_for_state(&id, "CANCELED");
    assert!(escaped.all_gone());
}

#[test]
fn escapees_are_gone_after_a_timeout() {
    let server = Server::start(|config| {
        config.command = Some(escaping("sleep 300"));
        config.timeout = Some(std::time::Duration::from_millis(500));
    });
    let first = server.submit("escaping", "ACGT");
    let record = server.wait_for_state(&first, "EXECUTOR_ERROR");
    assert!(
        record["error"].as_str().unwrap().contains("timed out"),
        "{record:#}"
    );
    for name in ["escapee.pid", "daemon.pid"] {
        assert!(!still_sleeping(&server.dir.join(&first).join(name)));
    }
}

#[test]
fn escapees_are_gone_after_a_graceful_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let server = Server::start_in(&dir, |config| config.command = Some(escaping("sleep 300")));
    let id = server.submit("escaping", "ACGT");
    server.wait_for_state(&id, "RUNNING");
    let escaped = Leftovers(escapees(&dir, &id).to_vec());
    server.stop().unwrap();
    assert!(escaped.all_gone());
}

#[test]
fn escapees_die_with_a_killed_server_before_any_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiments");
    let command = escaping("sleep 300");
    let mut server = Binary::start(&dir, &["--command", &command, "--shutdown-grace", "2"]);
    let id = submit(server.addr, "escaping", "ACGT");
    wait_for_state(server.addr, &id, "RUNNING");
    let escaped = Leftovers(escapees(&dir, &id).to_vec());
    server.crash();
    wait_until("the escapees of the killed server are gone", || {
        escaped.all_gone()
    });
}

#[test]
fn a_command_runs_as_sh_c_would_run_it_in_a_session_of_its_own_at_the_lowest_priority() {
    let server = Server::start(|config| {
        config.command = Some(
            "read line || echo stdin-is-empty; echo \"$0\" > zero; f() { echo \"$#\"; }; f a b; \
             cut -d' ' -f6,19 /proc/self/stat > placement; exit 4"
                .into(),
        )
    });
    let id = server.submit("shell", "ACGT");
    let record = server.wait_for_state(&id, "EXECUTOR_ERROR");
    assert_eq!(record["exit_code"], 4);
    let dir = server.dir.join(&id);
    assert_eq!(
        fs::read_to_string(dir.join("stdout.txt")).unwrap(),
        "stdin-is-empty\n2\n"
    );
    assert_eq!(fs::read_to_string(dir.join("zero")).unwrap(), "/bin/sh\n");
    let placement = fs::read_to_string(dir.join("placement")).unwrap();
    let (sid, nice) = placement.trim().split_once(' ').unwrap();
    assert_ne!(
        sid.parse::<i32>().unwrap(),
        session(std::process::id() as i32),
        "the command shares the server's session"
    );
    assert_eq!(nice, "19");
}

/// Starts the runner by hand, as the server does, and returns its end of the channel.
fn runner(dir: &Path) -> (std::process::Child, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = seqspool()
        .arg("__runner")
        .current_dir(dir)
        .env("SEQSPOOL_PARENT", std::process::id().to_string())
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, ours)
}

fn ask(channel: &mut UnixStream, request: serde_json::Value) {
    channel
        .write_all(format!("{request}\n").as_bytes())
        .unwrap();
}

fn hear(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> serde_json::Value {
    serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap()
}

fn run_request(dir: &Path, command: &str) -> serde_json::Value {
    serde_json::json!({
        "op": "run", "dir": dir, "command": command, "env": [["GREETING", "hi"]],
        "max_output": 1000, "grace_ms": 1000, "mark": "test/1/1"
    })
}

#[test]
fn the_runner_runs_one_command_after_another_and_says_how_each_ended() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, mut channel) = runner(tmp.path());
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(channel.try_clone().unwrap()));
    ask(
        &mut channel,
        run_request(tmp.path(), "echo $GREETING; exit 3"),
    );
    let ended = hear(&mut lines);
    assert_eq!(
        (ended["event"].as_str(), ended["status"].as_i64()),
        (Some("ended"), Some(3 << 8))
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("stdout.txt")).unwrap(),
        "hi\n"
    );

    // A stop ends a command that would run for minutes.
    // (a plain program, started without the shell in between)
    ask(&mut channel, run_request(tmp.path(), "sleep 300"));
    ask(&mut channel, serde_json::json!({"op": "stop"}));
    let ended = hear(&mut lines);
    assert_eq!(
        ended["status"].as_i64(),
        Some(i64::from(rustix::process::Signal::TERM.as_raw()))
    );

    // A program that is not there is reported as the shell reports it.
    ask(
        &mut channel,
        run_request(tmp.path(), "no-such-program-here"),
    );
    assert_eq!(hear(&mut lines)["status"].as_i64(), Some(127 << 8));
    assert!(fs::read_to_string(tmp.path().join("stderr.txt"))
        .unwrap()
        .contains("not found"));

    // A command that cannot start (its directory is gone) is refused; nothing runs.
    ask(
        &mut channel,
        run_request(&tmp.path().join("gone"), "touch ran"),
    );
    assert_eq!(hear(&mut lines)["event"], "refused");

    // The end of its input ends the runner.
    drop(lines);
    channel.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(child.wait().unwrap().success());
}
