//! What survives a crash or a stop of the real binary: acknowledged experiments
//! survive `kill -9` and run in acceptance order after the restart, an
//! interrupted command dies with the server (or at the restart, when its
//! supervisor died too) and never runs beside its rerun, SIGTERM
//! stops cleanly, and the start-up scan leaves what it does not understand
//! alone. These start `seqspool` itself, because only a real process can be
//! killed with SIGKILL.

use crate::common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use rustix::process::Signal;

const SEQUENCE: &str = "ACGTACGTTGCA";

/// A processing command whose first run ever blocks, in the background child
/// it waits for, until it is killed; every later run ends at once. Each run
/// appends `start ID NANOS` and `end ID NANOS` to the lab's run log, and
/// `alive ID PID` if a process of the blocking run was still alive when it
/// started. The blocking run writes its pids to `leader.pid` and `child.pid`.
fn blocking_once_command(lab: &Lab) -> String {
    let script = lab.path("command.sh");
    let text = r#"t='DIR'
echo "start $EXPERIMENT_ID $(date +%s%N)" >> "$t/run.log"
ticks() { set -- $(cat "/proc/$1/stat"); echo "${22}"; }
if [ -e "$t/old.pids" ]; then
  while read -r pid started; do
    if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
      set -- $stat
      if [ "$3" != Z ] && [ "${22}" = "$started" ]; then
        echo "alive $EXPERIMENT_ID $pid" >> "$t/run.log"
      fi
    fi
  done < "$t/old.pids"
fi
if [ ! -e "$t/blocked" ]; then
  : > "$t/blocked"
  sleep 300 &
  child=$!
  echo "$$ $(ticks $$)" > "$t/old.pids.tmp"
  echo "$child $(ticks $child)" >> "$t/old.pids.tmp"
  mv "$t/old.pids.tmp" "$t/old.pids"
  echo $$ > "$t/leader.pid"
  echo $child > "$t/child.pid"
  wait
fi
echo "end $EXPERIMENT_ID $(date +%s%N)" >> "$t/run.log"
"#
    .replace("DIR", &lab.dir().display().to_string());
    fs::write(&script, text).unwrap();
    // Sourced, so that `$$` is the group leader the server started.
    format!(". '{}'", script.display())
}

/// The blocking run's shell and its background child, once both exist;
/// killed on drop if a failed test left them behind.
fn blocking_processes(lab: &Lab) -> Leftovers {
    let child = Process::from_pid_file(&lab.path("child.pid"));
    let leader = Process::from_pid_file(&lab.path("leader.pid"));
    Leftovers(vec![leader, child])
}

/// The run log, as (what, id, nanoseconds or pid) triples.
fn run_log(lab: &Lab) -> Vec<(String, String, u128)> {
    lab.log()
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "a malformed run.log line: {line}");
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Starts the binary on the lab, submits three experiments and
/// waits until the first runs (its command blocks): the start of every test of
/// an interrupted run. Returns the server, the ids and the command's processes.
fn start_three_with_the_first_running(
    lab: &Lab,
    args: &[&str],
) -> (Binary, Vec<String>, Leftovers) {
    let server = lab.binary(args);
    let ids: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|name| submit(server.addr, name, SEQUENCE))
        .collect();
    wait_for_state(server.addr, &ids[0], "RUNNING");
    let old = blocking_processes(lab);
    (server, ids, old)
}

/// Waits until the worker has recorded the running command's process group on
/// disk: from then on a crash leaves something recovery can find.
fn wait_for_recorded_process(dir: &Path, id: &str) {
    wait_until(
        &format!("{id}/experiment.json records its process group"),
        || {
            let record = record_on_disk(dir, id);
            record["state"] == "RUNNING" && record["handle"]["pgid"].is_i64()
        },
    );
}

fn backlog(addr: std::net::SocketAddr) -> String {
    request(addr, "GET", "/backlog", &[], b"").json()[0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts that the runs in `log` never overlapped: each start comes after the
/// previous run's end (a run killed with the server has no end), and no run
/// started while a process of the killed run was alive. Returns the ids in the
/// order their runs started.
fn assert_one_at_a_time(log: &[(String, String, u128)]) -> Vec<String> {
    let alive: Vec<_> = log.iter().filter(|(what, ..)| what == "alive").collect();
    assert!(
        alive.is_empty(),
        "a run started while the interrupted one's processes lived: {alive:?}"
    );
    let mut started = Vec::new();
    let mut open: Option<(&str, u128)> = None;
    let mut last_end = 0;
    for (what, id, at) in log {
        match what.as_str() {
            "start" => {
                assert!(
                    *at >= last_end,
                    "{id} started before the previous run ended: {log:?}"
                );
                // Only the first run (the one killed) may lack its end.
                if let Some((previous, _)) = open {
                    assert!(
                        started.len() == 1,
                        "the run of {previous} has no end but was not the killed one: {log:?}"
                    );
                }
                open = Some((id, *at));
                started.push(id.clone());
            }
            "end" => {
                let (running, since) = open
                    .take()
                    .unwrap_or_else(|| panic!("an end without a start: {log:?}"));
                assert_eq!(running, id, "{log:?}");
                assert!(*at >= since, "{log:?}");
                last_end = *at;
            }
            other => panic!("unexpected run.log line {other}"),
        }
    }
    started
}

/// What became of one submission made under load.
#[derive(Debug)]
enum Fate {
    Accepted(String),
    Refused(u16),
    Unanswered,
}

#[test]
fn every_experiment_acknowledged_before_a_kill_9_under_load_survives_and_runs_in_acceptance_order()
{
    const CLIENTS: usize = 10;
    const PER_CLIENT: usize = 30;
    const KILL_AT: usize = 100;
    let lab = Lab::new();
    let dir = lab.experiments();
    // Experiments run what they were accepted with, also after the restart:
    // one command, which holds each run until the gate opens.
    let (order, gate) = (lab.path("order.log"), lab.path("gate"));
    let command = format!(
        "echo $EXPERIMENT_ID >> '{}'; while [ ! -e '{}' ]; do sleep 0.02; done",
        order.display(),
        gate.display()
    );
    let mut server = Binary::start(&dir, &["--command", &command, "--capacity", "1000"]);
    let (addr, pid) = (server.addr, server.child.id() as i32);

    // The client that receives the 100th answer kills the server at once,
    // while the others still have submissions in flight.
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let answered = answered.clone();
            thread::spawn(move || {
                let mut fates = Vec::new();
                for n in 0..PER_CLIENT {
                    let name = format!("load-{client:02}-{n:02}");
                    let body = serde_urlencoded::to_string([
                        ("query_name", &*name),
                        ("query_sequence", SEQUENCE),
                    ])
                    .unwrap();
                    let answer = try_request(
                        addr,
                        "POST",
                        "/experiments",
                        &[("Content-Type", "application/x-www-form-urlencoded")],
                        body.as_bytes(),
                    );
                    let Ok(answer) = answer else {
                        fates.push((name, Fate::Unanswered));
                        break; // the server is gone
                    };
                    if answered.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AT {
                        // The server is our child, not reaped before the clients end.
                        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                            let _ = rustix::process::kill_process(pid, Signal::KILL);
                        }
                    }
                    let fate = match answer.status {
                        202 => Fate::Accepted(answer.json()["id"].as_str().unwrap().to_owned()),
                        status => Fate::Refused(status),
                    };
                    fates.push((name, fate));
                }
                fates
            })
        })
        .collect();
    let fates: Vec<(String, Fate)> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    assert_eq!(server.wait().signal(), Some(Signal::KILL.as_raw()));
    let sent = fates.len();
    let accepted: BTreeMap<String, String> = fates
        .iter()
        .filter_map(|(name, fate)| match fate {
            Fate::Accepted(id) => Some((id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    let refused: Vec<(&str, u16)> = fates
        .iter()
        .filter_map(|(name, fate)| match fate {
            Fate::Refused(status) => Some((name.as_str(), *status)),
            _ => None,
        })
        .collect();
    let unanswered = fates
        .iter()
        .filter(|(_, fate)| matches!(fate, Fate::Unanswered))
        .count();
    assert!(
        refused.is_empty(),
        "nothing should be refused below the capacity: {refused:?}"
    );
    assert!(
        accepted.len() >= KILL_AT && accepted.len() < CLIENTS * PER_CLIENT,
        "the kill came in the middle"
    );
    assert!(unanswered > 0, "some submissions were cut off by the kill");
    assert_eq!(accepted.len() + unanswered, sent);

    // On disk, before the restart: each acknowledged experiment is whole and
    // waiting (the first one was running); anything else there is whole too,
    // a submission whose answer the kill cut off.
    let names_sent: BTreeSet<&str> = fates.iter().map(|(name, _)| name.as_str()).collect();
    let mut names_on_disk = BTreeMap::new();
    let mut attempts_before = BTreeMap::new();
    for id in experiment_dirs(&dir) {
        let record = record_on_disk(&dir, &id);
        assert_eq!(record["id"], *id, "{record:#}");
        assert!(
            dir.join(&id).join("query.fasta").is_file(),
            "{id} has no query.fasta"
        );
        let name = record["query_name"].as_str().unwrap().to_owned();
        assert!(
            names_sent.contains(name.as_str()),
            "{id} holds a query nobody sent: {name}"
        );
        // The first one was running, unless the kill came before the worker recorded that.
        let running = record["state"] == "RUNNING";
        assert!(
            record["state"] == "QUEUED" || (running && id == "000001"),
            "{record:#}"
        );
        assert_eq!(record["attempts"], u32::from(running), "{record:#}");
        attempts_before.insert(id.clone(), record["attempts"].as_u64().unwrap());
        if let Some(twin) = names_on_disk.insert(name.clone(), id.clone()) {
            panic!("{name} was written twice, as {twin} and {id}");
        }
    }
    for (id, name) in &accepted {
        assert_eq!(
            names_on_disk.get(name),
            Some(id),
            "the acknowledged {id} ({name}) is missing on disk"
        );
    }

    // The killed server's first run logged itself; from here runs go through.
    let _ = fs::remove_file(&order);
    fs::write(&gate, "").unwrap();
    let server = Binary::start(&dir, &["--command", &command, "--capacity", "1000"]);
    assert_eq!(
        fs::read_dir(dir.join(".incoming")).unwrap().count(),
        0,
        "unacknowledged leftovers remain in .incoming/"
    );
    let on_disk: Vec<String> = experiment_dirs(&dir);
    assert_eq!(
        on_disk,
        names_on_disk
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );

    wait_until("the recovered backlog has run", || {
        backlog(server.addr) == "Currently 0 jobs in the backlog."
    });
    let listed = request(server.addr, "GET", "/experiments?limit=1000", &[], b"").json();
    let mut listed: Vec<String> = listed["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    listed.reverse(); // newest first
    assert_eq!(
        listed, on_disk,
        "every experiment on disk is listed exactly once"
    );
    for (id, name) in &accepted {
        let record = request(server.addr, "GET", &format!("/experiments/{id}"), &[], b"").json();
        assert_eq!(record["state"], "COMPLETE", "{record:#}");
        assert_eq!(record["query_name"], *name.as_str());
        assert_eq!(record["attempts"], attempts_before[id] + 1, "{record:#}");
        // The worker updates memory first, then the disk.
        wait_until(&format!("{id} is COMPLETE on disk"), || {
            record_on_disk(&dir, id)["state"] == "COMPLETE"
        });
    }
    let ran: Vec<String> = fs::read_to_string(&order)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        ran, on_disk,
        "the recovered experiments ran once each, in acceptance order"
    );

    let newcomer = submit(server.addr, "after-the-crash", SEQUENCE);
    assert!(
        newcomer > *on_disk.last().unwrap(),
        "ids continue after the highest on disk: {newcomer}"
    );
    wait_for_state(server.addr, &newcomer, "COMPLETE");
    let ran = fs::read_to_string(&order).unwrap();
    assert_eq!(ran.lines().last(), Some(newcomer.as_str()));
}

#[test]
fn after_a_kill_9_the_death_of_the_server_ends_its_command_at_once_and_it_runs_again_first() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let command = blocking_once_command(&lab);
    let (mut server, ids, old) = start_three_with_the_first_running(&lab, &["--command", &command]);
    wait_for_recorded_process(&dir, &ids[0]);
    server.crash();
    // No restart needed: the run's supervisor learns of the death and stops it.
    wait_until("the killed server's command is gone", || old.all_gone());

    let server = Binary::start(&dir, &["--command", &command]);
    let first = wait_for_state(server.addr, &ids[0], "COMPLETE");
    assert_eq!(first["attempts"], 2, "{first:#}");
    for id in &ids[1..] {
        assert_eq!(wait_for_state(server.addr, id, "COMPLETE")["attempts"], 1);
    }
    let started = assert_one_at_a_time(&run_log(&lab));
    assert_eq!(
        started,
        [&*ids[0], &ids[0], &ids[1], &ids[2]],
        "the interrupted experiment runs again first"
    );
}

#[test]
fn when_the_supervisor_dies_with_the_server_the_restart_kills_what_is_left_before_anything_runs() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let command = blocking_once_command(&lab);
    let (mut server, ids, old) = start_three_with_the_first_running(&lab, &["--command", &command]);
    wait_for_recorded_process(&dir, &ids[0]);
    // The whole of seqspool dies at once (the OOM killer, a kill of its
    // service): nobody is left to stop the command.
    // Frozen first, so it can neither react to the death nor report its own.
    let supervisor = record_on_disk(&dir, &ids[0])["handle"]["pgid"]
        .as_i64()
        .unwrap() as i32;
    signal_now(supervisor, Signal::STOP);
    server.crash();
    signal_now(supervisor, Signal::KILL);
    assert!(
        old.none_gone(),
        "the command outlives a killed server and supervisor (what recovery is for)"
    );

    let server = Binary::start(&dir, &["--command", &command]);
    // Recovery runs before the server listens, and start() returned once it listened.
    assert!(
        old.all_gone(),
        "the interrupted command's processes were still alive after the restart"
    );
    assert!(
        server.log().contains("of its interrupted command"),
        "{}",
        server.log()
    );
    let first = wait_for_state(server.addr, &ids[0], "COMPLETE");
    assert_eq!(first["attempts"], 2, "{first:#}");
    for id in &ids[1..] {
        assert_eq!(wait_for_state(server.addr, id, "COMPLETE")["attempts"], 1);
    }
    let started = assert_one_at_a_time(&run_log(&lab));
    assert_eq!(started, [&*ids[0], &ids[0], &ids[1], &ids[2]]);
}

/// Sends a signal to one process.
fn signal_now(pid: i32, signal: Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

#[test]
fn sigterm_stops_the_command_and_its_children_exits_0_and_the_experiment_runs_first_at_the_next_start(
) {
    let lab = Lab::new();
    let dir = lab.experiments();
    let command = blocking_once_command(&lab);
    let args = ["--command", &command, "--shutdown-grace", "3"];
    let (mut server, ids, old) = start_three_with_the_first_running(&lab, &args);

    server.signal(Signal::TERM);
    let status = server.wait();
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; its log:\n{}",
        server.log()
    );
    wait_until("the command and its child are gone", || old.all_gone());
    wait_until("the log says what waits", || {
        server.log().contains("stopped; 3 experiment(s) waiting")
    });
    let interrupted = record_on_disk(&dir, &ids[0]);
    assert_eq!(
        interrupted["state"], "RUNNING",
        "recorded as interrupted, to run again: {interrupted:#}"
    );
    assert_eq!(interrupted["attempts"], 1, "{interrupted:#}");

    let server = Binary::start(&dir, &args);
    let first = wait_for_state(server.addr, &ids[0], "COMPLETE");
    assert_eq!(first["attempts"], 2, "{first:#}");
    for id in &ids[1..] {
        wait_for_state(server.addr, id, "COMPLETE");
    }
    let started = assert_one_at_a_time(&run_log(&lab));
    assert_eq!(
        started,
        [&*ids[0], &ids[0], &ids[1], &ids[2]],
        "the interrupted experiment runs again first"
    );
}

#[test]
fn with_on_interrupt_fail_an_interrupted_experiment_becomes_a_system_error_and_the_queue_goes_on() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let command = blocking_once_command(&lab);
    let (mut server, ids, old) = start_three_with_the_first_running(&lab, &["--command", &command]);
    wait_for_recorded_process(&dir, &ids[0]);
    server.crash();

    let server = Binary::start(&dir, &["--command", &command, "--on-interrupt", "fail"]);
    assert!(
        old.all_gone(),
        "the interrupted command's processes were still alive after the restart"
    );
    let failed = wait_for_state(server.addr, &ids[0], "SYSTEM_ERROR");
    assert!(
        failed["error"].as_str().unwrap().contains("interrupted"),
        "{failed:#}"
    );
    assert_eq!(failed["attempts"], 1, "it did not run again: {failed:#}");
    for id in &ids[1..] {
        wait_for_state(server.addr, id, "COMPLETE");
    }
    assert_eq!(record_on_disk(&dir, &ids[0])["state"], "SYSTEM_ERROR");
    let started = assert_one_at_a_time(&run_log(&lab));
    assert_eq!(started, [&*ids[0], &ids[1], &ids[2]]);
}

#[test]
fn a_second_server_on_the_same_directory_exits_at_once_with_a_clear_message_and_touches_nothing() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let gate = lab.path("gate");
    let command = format!("while [ ! -e '{}' ]; do sleep 0.02; done", gate.display());
    let mut first = Binary::start(&dir, &["--command", &command]);
    let running = submit(first.addr, "running", SEQUENCE);
    let waiting = submit(first.addr, "waiting", SEQUENCE);
    wait_for_state(first.addr, &running, "RUNNING");
    wait_for_recorded_process(&dir, &running);
    let before = snapshot(&dir);

    let second = output_within(&mut Binary::command(&dir, &["--command", &command]));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{message}");
    assert!(
        message.contains("another seqspool is already serving"),
        "{message}"
    );
    // It stopped before recovering anything: the first server's command runs on.
    assert_eq!(snapshot(&dir), before);
    assert_eq!(record_on_disk(&dir, &running)["state"], "RUNNING");
    assert_eq!(
        wait_for_state(first.addr, &running, "RUNNING")["attempts"],
        1
    );
    fs::write(&gate, "").unwrap();
    wait_for_state(first.addr, &waiting, "COMPLETE");

    // The kernel drops the lock with its holder: a crash leaves nothing stale.
    first.crash();
    let restarted = Binary::start(&dir, &[]);
    let id = submit(restarted.addr, "after", SEQUENCE);
    wait_for_state(restarted.addr, &id, "COMPLETE");
}

#[test]
fn a_leftover_child_whose_leader_has_exited_is_still_killed_at_the_restart() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let gate = lab.path("gate");
    // The first run leaves a background child and exits once the gate opens.
    let command = format!(
        "if [ ! -e '{blocked}' ]; then : > '{blocked}'; sleep 300 & echo $! > '{child}'; echo $$ > '{leader}'; \
         while [ ! -e '{gate}' ]; do sleep 0.02; done; fi",
        blocked = lab.path("blocked").display(),
        child = lab.path("child.pid").display(),
        leader = lab.path("leader.pid").display(),
        gate = gate.display(),
    );
    let mut server = Binary::start(&dir, &["--command", &command]);
    let id = submit(server.addr, "orphan", SEQUENCE);
    wait_for_state(server.addr, &id, "RUNNING");
    let old = blocking_processes(&lab);
    wait_for_recorded_process(&dir, &id);
    let supervisor = record_on_disk(&dir, &id)["handle"]["pgid"]
        .as_i64()
        .unwrap() as i32;
    signal_now(supervisor, Signal::STOP);
    server.crash();
    signal_now(supervisor, Signal::KILL);
    fs::write(&gate, "").unwrap();
    wait_until("the old leader exits by itself", || old.0[0].is_gone());
    assert!(
        !old.0[1].is_gone(),
        "its background child lives on in the old group"
    );

    let server = Binary::start(&dir, &["--command", &command]);
    assert!(
        old.all_gone(),
        "the old group's last member survived the restart"
    );
    assert_eq!(wait_for_state(server.addr, &id, "COMPLETE")["attempts"], 2);
}

#[test]
fn a_foreign_directory_and_a_corrupt_record_are_skipped_with_a_warning_and_left_untouched() {
    let lab = Lab::new();
    let dir = lab.experiments();
    fs::create_dir_all(dir.join("notes")).unwrap();
    fs::write(dir.join("notes/plate-7.txt"), "the lab's own notes").unwrap();
    fs::create_dir_all(dir.join("000005")).unwrap();
    fs::write(dir.join("000005/experiment.json"), "{ garbage").unwrap();
    fs::write(dir.join("000005/query.fasta"), ">five\nACGT\n").unwrap();

    let mut server = Binary::start(&dir, &[]);
    let log = server.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("skipping"))
        .collect();
    assert!(warnings.iter().any(|line| line.contains("notes")), "{log}");
    assert!(warnings.iter().any(|line| line.contains("000005")), "{log}");
    let id = submit(server.addr, "next", SEQUENCE);
    assert!(
        id.parse::<u64>().unwrap() >= 6,
        "ids continue after the highest on disk: {id}"
    );
    wait_for_state(server.addr, &id, "COMPLETE");
    assert_eq!(
        request(server.addr, "GET", "/experiments/000005", &[], b"").status,
        404
    );

    server.signal(Signal::TERM);
    assert!(server.wait().success());
    assert_eq!(
        fs::read_to_string(dir.join("notes/plate-7.txt")).unwrap(),
        "the lab's own notes"
    );
    assert_eq!(
        fs::read_to_string(dir.join("000005/experiment.json")).unwrap(),
        "{ garbage"
    );
    assert_eq!(
        fs::read_to_string(dir.join("000005/query.fasta")).unwrap(),
        ">five\nACGT\n"
    );
}

#[test]
fn more_experiments_recovered_than_the_capacity_all_run_and_new_ones_wait_for_room() {
    let lab = Lab::new();
    let dir = lab.experiments();
    let (order, gate) = (lab.path("order.log"), lab.path("gate"));
    // What an experiment runs is what it was accepted with: the same command
    // before and after the restart.
    let command = format!(
        "echo $EXPERIMENT_ID >> '{}'; while [ ! -e '{}' ]; do sleep 0.02; done",
        order.display(),
        gate.display()
    );
    let mut server = Binary::start(&dir, &["--command", &command, "--capacity", "10"]);
    let ids: Vec<String> = (0..6)
        .map(|n| submit(server.addr, &format!("q{n}"), SEQUENCE))
        .collect();
    wait_for_state(server.addr, &ids[0], "RUNNING");
    wait_for_recorded_process(&dir, &ids[0]);
    server.crash();
    let _ = fs::remove_file(&order);

    let server = Binary::start(&dir, &["--command", &command, "--capacity", "2"]);
    assert!(
        server.log().contains("5 queued, 1 requeued"),
        "{}",
        server.log()
    );
    assert_eq!(backlog(server.addr), "Currently 6 jobs in the backlog.");
    // Once the first one's new run is on disk, only a submission could change the directory.
    wait_for_recorded_process(&dir, &ids[0]);
    let before = snapshot(&dir);
    let refused = post_form(
        server.addr,
        "/experiments",
        &[("query_name", "late"), ("query_sequence", SEQUENCE)],
    );
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(refused.header("Retry-After").is_some());
    assert_eq!(
        snapshot(&dir),
        before,
        "a refused submission writes nothing"
    );

    fs::write(&gate, "").unwrap();
    let mut late = None;
    wait_until("a submission is accepted once the backlog shrinks", || {
        let answer = post_form(
            server.addr,
            "/experiments",
            &[("query_name", "late"), ("query_sequence", SEQUENCE)],
        );
        assert!(matches!(answer.status, 202 | 503), "{}", answer.text());
        late = (answer.status == 202).then(|| answer.json()["id"].as_str().unwrap().to_owned());
        late.is_some()
    });
    let late = late.unwrap();
    for id in ids.iter().chain([&late]) {
        wait_for_state(server.addr, id, "COMPLETE");
    }
    let ran: Vec<String> = fs::read_to_string(&order)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: Vec<&String> = ids.iter().chain([&late]).collect();
    assert_eq!(ran.iter().collect::<Vec<_>>(), expected);
}
