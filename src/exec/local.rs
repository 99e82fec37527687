//! The local executor: one processing command, as a process tree on this machine.
//!
//! Each run is watched by a supervisor (`exec::supervisor`), a process of
//! seqspool's own binary that leads a session of its own, keeps every process
//! the command starts in its tree, copies the output into the logs, and kills
//! the tree when told to stop or when seqspool dies. This side starts it,
//! holds it at its gate until the run is recorded, tells it to stop on a
//! cancel, a timeout or a shutdown, and reads how the command ended.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal as Sig};

use super::supervisor::{self, COMMAND_VAR, GRACE_VAR, MAX_OUTPUT_VAR, PARENT_VAR, RUN_VAR};
use super::{Control, Executor, Outcome, Recovered, Run, Signal, Started};
use crate::error::Error;
use crate::model::{ProcessIdentity, Record, RunHandle};
use crate::store::QUERY_FILE;

/// POSIX shells exit with 126 when a command cannot be executed and 127 when it
/// is not found: the workstation's set-up is at fault, not the query.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

/// How long past its own grace a supervisor told to stop may take before it
/// is killed outright: it only has to signal a tree and reap it.
const SUPERVISOR_MARGIN: Duration = Duration::from_secs(5);

/// Runs each experiment's processing command under a supervisor of its own.
pub struct Local {
    /// seqspool's own binary, which supervises each run (`seqspool __supervise`).
    pub supervisor: PathBuf,
    /// How long a command may run before it is stopped.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Most bytes kept of each of stdout and stderr.
    pub max_output: u64,
}

impl Executor for Local {
    fn stoppable(&self) -> bool {
        true
    }

    fn run(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let env = environment(run.record, run.dir);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let job = Job {
            supervisor: &self.supervisor,
            command: &run.record.command,
            dir: run.dir,
            env: &env,
            mark: &run_mark(run.record),
            timeout: self.timeout,
            grace: self.grace,
            max_output: self.max_output,
        };
        settle(
            run_command(&job, control, |process| {
                started(Some(RunHandle::Local(process)))
            }),
            self.timeout,
        )
    }

    fn recover(&self, record: &Record) -> Recovered {
        if let Some(RunHandle::Local(process)) = &record.handle {
            let marked = process
                .mark
                .as_deref()
                .filter(|_| process.boot_id == boot_id())
                .map_or(0, |mark| kill_marked(mark, self.grace));
            let killed = kill_leftover(process, self.grace) + marked;
            if killed > 0 {
                log::warn!(
                    "experiment {}: killed {killed} process(es) of its interrupted command (group {})",
                    record.id,
                    process.pgid
                );
            }
        }
        Recovered::Requeue
    }
}

/// The mark every process of a run carries in its environment: this server
/// (its pid and start time, which no other process on this boot shares), the
/// experiment and the attempt, so no other run, now or later, has the same.
fn run_mark(record: &Record) -> String {
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let pid = std::process::id() as i32;
        format!("{pid}.{}", start_ticks(pid).unwrap_or(0))
    });
    format!("{server}/{}/{}", record.id, record.attempts)
}

/// The variables a processing command finds in its environment.
fn environment(record: &Record, dir: &Path) -> [(&'static str, String); 4] {
    [
        ("EXPERIMENT_ID", record.id.to_string()),
        ("EXPERIMENT_DIR", dir.display().to_string()),
        ("QUERY_NAME", record.query_name.clone()),
        ("QUERY_FASTA", dir.join(QUERY_FILE).display().to_string()),
    ]
}

/// Maps how a command ended to the experiment's outcome.
fn settle(exit: Exit, timeout: Option<Duration>) -> Outcome {
    match exit {
        Exit::Finished(status) if status.success() => Outcome::Complete { exit_code: Some(0) },
        Exit::Finished(status) => match status.code() {
            Some(code) if SHELL_CANNOT_RUN.contains(&code) => Outcome::SystemError {
                exit_code: Some(code),
                error: format!(
                    "the command {} (the shell could not find or execute it); see stderr.txt",
                    describe(status)
                ),
            },
            exit_code => Outcome::Failed {
                exit_code,
                signal: status.signal(),
                error: format!("the command {}", describe(status)),
            },
        },
        Exit::TimedOut(status) => Outcome::Failed {
            exit_code: status.code(),
            signal: status.signal(),
            error: format!(
                "timed out after {} s and was stopped ({})",
                timeout.map_or(0.0, |t| t.as_secs_f64()),
                describe(status)
            ),
        },
        Exit::Canceled => Outcome::Canceled,
        Exit::Interrupted => Outcome::Interrupted,
        Exit::NotStarted(err) => super::not_begun(
            format!("could not start the command: {err}"),
            crate::error::passes(&err),
        ),
        Exit::Unrecorded(err) => super::unrecorded(&err),
        Exit::Vanished => Outcome::SystemError {
            exit_code: None,
            error: "its directory is gone or is no longer a directory; nothing was run".into(),
        },
    }
}

/// How a command ended.
#[derive(Debug)]
enum Exit {
    /// It exited by itself, or was killed by a signal nobody here sent.
    Finished(ExitStatus),
    /// It ran past the timeout and was stopped.
    TimedOut(ExitStatus),
    Canceled,
    /// The server shut down while it ran.
    Interrupted,
    /// It could not be started at all.
    NotStarted(io::Error),
    /// Its run could not be recorded, so its gate was never opened: nothing ran.
    Unrecorded(Error),
    /// Its directory is gone (removed, or replaced by something else): the
    /// experiment's own trouble, not the workstation's.
    Vanished,
}

/// Everything needed to run one command.
struct Job<'a> {
    supervisor: &'a Path,
    command: &'a str,
    dir: &'a Path,
    env: &'a [(&'a str, &'a str)],
    /// The mark of the run's processes ([`RUN_VAR`]).
    mark: &'a str,
    timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Most bytes kept of each of stdout and stderr.
    max_output: u64,
}

/// What the supervisor said at the end of its run.
#[derive(Debug)]
enum Report {
    Status(ExitStatus),
    Error(io::Error),
}

/// Runs `job` to its end. `started` is called once the supervisor exists,
/// with what identifies its group, before anything of the command runs; if it
/// fails, the gate stays closed. `control` delivers cancel and shutdown.
fn run_command(
    job: &Job,
    control: Control,
    started: impl FnOnce(ProcessIdentity) -> Result<(), Error>,
) -> Exit {
    let Control { sender, receiver } = control;
    if !fs::symlink_metadata(job.dir).is_ok_and(|meta| meta.is_dir()) {
        return Exit::Vanished;
    }
    let (stdout, stderr) = match (
        File::create(job.dir.join("stdout.txt")),
        File::create(job.dir.join("stderr.txt")),
    ) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(e), _) | (_, Err(e)) => return Exit::NotStarted(e),
    };
    // The supervisor waits at the gate (its stdin, a socket) until its run is
    // recorded; if seqspool dies before that, the gate closes unopened and the
    // command never runs, so no unrecorded command can outlive a crash.
    let (mut gate, theirs) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(err) => return Exit::NotStarted(err),
    };
    let spawned = Command::new(job.supervisor)
        .arg(supervisor::SUBCOMMAND)
        .current_dir(job.dir)
        .envs(job.env.iter().copied())
        .env(COMMAND_VAR, job.command)
        .env(PARENT_VAR, std::process::id().to_string())
        .env(MAX_OUTPUT_VAR, job.max_output.to_string())
        .env(GRACE_VAR, job.grace.as_millis().to_string())
        .env(RUN_VAR, job.mark)
        .stdin(std::os::fd::OwnedFd::from(theirs))
        .stdout(stdout)
        .stderr(stderr)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return Exit::NotStarted(err),
    };
    let pid = child.id() as i32;
    // The thread that reads the supervisor's report is started while the
    // command still waits at its gate: if it cannot be (the process is at
    // its thread limit), the gate closes unopened and the command never runs.
    let report = Arc::new(Mutex::new(None));
    let listened = gate
        .try_clone()
        .and_then(|reader| listen(reader, report.clone(), sender));
    if let Err(err) = listened {
        drop(gate);
        finish(&mut child);
        return Exit::NotStarted(err);
    }
    let mut identity = identify(pid);
    identity.mark = Some(job.mark.to_owned());
    if let Err(err) = started(identity) {
        drop(gate);
        finish(&mut child);
        return Exit::Unrecorded(err);
    }
    // Open the gate. If the supervisor is gone already, its report says why.
    let _ = gate.write_all(b"go\n");

    let deadline = job.timeout.map(|timeout| Instant::now() + timeout);
    let signal = match deadline {
        Some(deadline) => receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())),
        None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
    };
    let stop_reason = match signal {
        Ok(Signal::Changed) => None,
        Ok(Signal::Cancel) => Some(Stop::Cancel),
        Ok(Signal::Shutdown) => Some(Stop::Shutdown),
        Err(RecvTimeoutError::Timeout) => Some(Stop::Timeout),
        // The listener holds a sender until the supervisor is done, so this cannot happen.
        Err(RecvTimeoutError::Disconnected) => None,
    };
    if stop_reason.is_some() {
        // The supervisor stops the whole tree: SIGTERM, then SIGKILL after the grace.
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, Sig::TERM);
        }
        let patience = job.grace + SUPERVISOR_MARGIN;
        let stopped = Instant::now() + patience;
        loop {
            match receiver.recv_timeout(stopped.saturating_duration_since(Instant::now())) {
                Ok(Signal::Changed) => break,
                Ok(_) => continue, // already stopping
                Err(_) => {
                    log::warn!(
                        "{}: the supervisor did not stop within {patience:?}; killing its group",
                        job.dir.display()
                    );
                    kill_group(pid, Sig::KILL);
                    break;
                }
            }
        }
    }
    let supervised = finish(&mut child);
    let report = report.lock().unwrap_or_else(|p| p.into_inner()).take();
    let status = match report {
        Some(Report::Status(status)) => status,
        Some(Report::Error(err)) => return Exit::NotStarted(err),
        // Killed before it could say: its own end is the run's.
        None => supervised,
    };
    match stop_reason {
        None => Exit::Finished(status),
        Some(Stop::Timeout) => Exit::TimedOut(status),
        Some(Stop::Cancel) => Exit::Canceled,
        Some(Stop::Shutdown) => Exit::Interrupted,
    }
}

enum Stop {
    Timeout,
    Cancel,
    Shutdown,
}

/// A thread that reads the supervisor's report and says when it has ended.
fn listen(
    channel: UnixStream,
    report: Arc<Mutex<Option<Report>>>,
    sender: Sender<Signal>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("supervised".into())
        .spawn(move || {
            let mut said = None;
            for line in BufReader::new(channel).lines() {
                let Ok(line) = line else { break };
                said = parse_report(&line).or(said);
            }
            *report.lock().unwrap_or_else(|p| p.into_inner()) = said;
            let _ = sender.send(Signal::Changed);
        })
        .map(drop)
}

/// Reads one line of the supervisor's report.
fn parse_report(line: &str) -> Option<Report> {
    let (word, rest) = line.split_once(' ')?;
    match word {
        "status" => Some(Report::Status(ExitStatus::from_raw(rest.parse().ok()?))),
        "error" => {
            let (errno, text) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Report::Error(match errno.parse() {
                Ok(errno) if errno != 0 => io::Error::from_raw_os_error(errno),
                _ => io::Error::other(text.to_owned()),
            }))
        }
        _ => None,
    }
}

/// Waits for the supervisor to exit and reaps it; a supervisor that does not
/// exit once its gate is closed or its run is over is killed.
fn finish(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + SUPERVISOR_MARGIN;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                kill_group(child.id() as i32, Sig::KILL);
                return child
                    .wait()
                    .unwrap_or(ExitStatus::from_raw(Sig::KILL.as_raw()));
            }
            // Only ECHILD is possible, and only if someone else reaped it.
            Err(_) => return ExitStatus::from_raw(0xff00),
        }
    }
}

/// Signals a whole group; ESRCH (nobody left) is fine.
fn kill_group(pgid: i32, signal: Sig) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Kills, after a server crash, any process still marked as belonging to the
/// run `mark` (whose supervisor was killed before it could clean up);
/// returns how many there were.
fn kill_marked(mark: &str, grace: Duration) -> usize {
    let mark = format!("{RUN_VAR}={mark}");
    let marked = || -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    environ.split(|&b| b == 0).any(|var| var == mark.as_bytes())
                })
            })
            .filter(|&pid| start_ticks(pid).is_some())
            .collect()
    };
    let found: HashSet<i32> = marked().into_iter().collect();
    if found.is_empty() {
        return 0;
    }
    let signal_all = |signal: Sig| {
        for pid in marked() {
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    };
    signal_all(Sig::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !marked().is_empty() {
        thread::sleep(Duration::from_millis(20));
    }
    signal_all(Sig::KILL);
    found.len()
}

/// Every live process and its parent, from `/proc`.
pub(super) fn process_parents() -> Vec<(i32, i32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = proc_stat(pid)?;
            (stat.state != 'Z').then_some((pid, stat.ppid))
        })
        .collect()
}

/// What identifies the group whose leader is `pid`, for recovery after a crash.
pub fn identify(pid: i32) -> ProcessIdentity {
    ProcessIdentity {
        pgid: pid,
        start_ticks: start_ticks(pid).unwrap_or(0),
        boot_id: boot_id(),
        mark: None,
    }
}

/// Kills what is left of a command's group after a server crash, if it is still
/// alive and still the same group; returns how many processes were signalled.
///
/// A group whose leader is alive is ours only if the leader's start time
/// matches. A group whose leader is gone is recognised by members started no
/// earlier than the leader was: the group id cannot have been given again while
/// they lived.
pub fn kill_leftover(process: &ProcessIdentity, grace: Duration) -> usize {
    if process.boot_id != boot_id() {
        return 0; // the machine rebooted since: nothing of it can be left
    }
    let members = |process: &ProcessIdentity| -> Vec<i32> {
        if let Some(ticks) = start_ticks(process.pgid) {
            if ticks != process.start_ticks {
                return Vec::new(); // the leader's pid now belongs to someone else
            }
        }
        group_members(process.pgid)
            .into_iter()
            .filter(|&(_, ticks)| ticks >= process.start_ticks)
            .map(|(pid, _)| pid)
            .collect()
    };
    let found = members(process);
    if found.is_empty() {
        return 0;
    }
    // The group is ours: signal all of it at once, so that a child forked
    // after the scan above is not missed.
    kill_group(process.pgid, Sig::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !members(process).is_empty() {
        thread::sleep(Duration::from_millis(20));
    }
    if !members(process).is_empty() {
        kill_group(process.pgid, Sig::KILL);
    }
    found.len()
}

/// Every live process in group `pgid`, with its start time.
fn group_members(pgid: i32) -> Vec<(i32, u64)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = proc_stat(pid)?;
            (stat.pgrp == pgid && stat.state != 'Z').then_some((pid, stat.start_ticks))
        })
        .collect()
}

struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
    start_ticks: u64,
}

/// The fields we need of `/proc/PID/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn proc_stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field N is fields[N - 3].
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

fn start_ticks(pid: i32) -> Option<u64> {
    proc_stat(pid)
        .filter(|stat| stat.state != 'Z')
        .map(|stat| stat.start_ticks)
}

/// This boot's id; it cannot change while the process lives, so it is read once.
fn boot_id() -> String {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|id| id.trim().to_owned())
                .unwrap_or_default()
        })
        .clone()
}

/// Describes how a process ended, in words for `error`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => "ended in an unknown way".into(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    const NAMES: [(Sig, &str); 13] = [
        (Sig::HUP, "SIGHUP"),
        (Sig::INT, "SIGINT"),
        (Sig::QUIT, "SIGQUIT"),
        (Sig::ILL, "SIGILL"),
        (Sig::ABORT, "SIGABRT"),
        (Sig::BUS, "SIGBUS"),
        (Sig::FPE, "SIGFPE"),
        (Sig::KILL, "SIGKILL"),
        (Sig::SEGV, "SIGSEGV"),
        (Sig::PIPE, "SIGPIPE"),
        (Sig::TERM, "SIGTERM"),
        (Sig::XCPU, "SIGXCPU"),
        (Sig::XFSZ, "SIGXFSZ"),
    ];
    NAMES
        .iter()
        .find(|(sig, _)| sig.as_raw() == signal)
        .map_or("unnamed", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_described_in_words() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(Sig::KILL.as_raw())),
            "killed by signal 9 (SIGKILL)"
        );
    }

    #[test]
    fn a_shell_that_cannot_run_the_command_is_the_workstations_fault() {
        let outcome = settle(Exit::Finished(ExitStatus::from_raw(127 << 8)), None);
        assert!(
            matches!(
                outcome,
                Outcome::SystemError {
                    exit_code: Some(127),
                    ..
                }
            ),
            "{outcome:?}"
        );
        let outcome = settle(Exit::Finished(ExitStatus::from_raw(3 << 8)), None);
        assert!(
            matches!(
                outcome,
                Outcome::Failed {
                    exit_code: Some(3),
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[test]
    fn the_supervisors_report_is_read() {
        assert!(matches!(
            parse_report("status 768"),
            Some(Report::Status(status)) if status.code() == Some(3)
        ));
        assert!(matches!(
            parse_report("error 24 Too many open files"),
            Some(Report::Error(err)) if err.raw_os_error() == Some(24)
        ));
        assert!(parse_report("hello").is_none());
    }
}
