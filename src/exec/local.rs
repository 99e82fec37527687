//! The local executor: one processing command, as a process tree on this machine.
//!
//! The command runs with `/bin/sh -c` as the leader of a new process group, so
//! stopping it means signalling the whole group and no grandchild survives. The
//! leader's exit is observed with `waitid(WNOWAIT)`, which leaves it a zombie
//! until the rest of the group has been killed: while the zombie exists its
//! group id cannot be reused, so a group kill never reaches a stranger.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal as Sig};

use super::{Control, Executor, Outcome, Recovered, Run, Signal, Started};
use crate::error::Error;
use crate::model::{ProcessIdentity, Record, RunHandle};
use crate::store::QUERY_FILE;

/// The niceness a command runs at: the lowest priority, as for any batch job.
/// The HTTP side must answer at once however hard the command works: at nice
/// 19 the command yields the CPU whenever the server wants it, and still gets
/// every cycle the server leaves idle, so on a quiet machine it runs no slower.
/// (Measured: a command burning a core at nice 0 made the server's p99 5 times
/// worse; at nice 19 it is unchanged.)
pub const COMMAND_NICENESS: i32 = 19;

/// What `/bin/sh -c` runs: wait at the gate, give the command /dev/null as its
/// stdin, then run it (from the environment, never from a command line built
/// here). A gate closed without a line means seqspool died: exit untouched.
const GATED_SCRIPT: &str =
    "IFS= read -r _ || exit 125; exec </dev/null; eval \"$SEQSPOOL_COMMAND\"";

/// How long output copiers may take to drain once the group is gone. Only a
/// process that left the group (with `setsid`) and kept the pipe open makes
/// them wait longer; the command's outcome does not wait for it.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// POSIX shells exit with 126 when a command cannot be executed and 127 when it
/// is not found: the workstation's set-up is at fault, not the query.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

/// Runs each experiment's processing command as a process group of its own.
pub struct Local {
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
            command: &run.record.command,
            dir: run.dir,
            env: &env,
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
            let killed = kill_leftover(process, self.grace);
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
        Exit::NotStarted(err) => Outcome::SystemError {
            exit_code: None,
            error: format!("could not start the command: {err}"),
        },
        Exit::Unrecorded(err) => Outcome::SystemError {
            exit_code: None,
            error: format!("not started: its start could not be recorded: {err}"),
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
    /// Its group could not be recorded, so its gate was never opened: nothing ran.
    Unrecorded(Error),
}

/// Everything needed to run one command.
struct Job<'a> {
    command: &'a str,
    dir: &'a Path,
    env: &'a [(&'a str, &'a str)],
    timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Most bytes kept of each of stdout and stderr.
    max_output: u64,
}

/// Runs `job` to its end. `started` is called once the group exists, with what
/// identifies it, before anything of the command runs; if it fails, the gate
/// stays closed. `control` delivers cancel and shutdown.
fn run_command(
    job: &Job,
    control: Control,
    started: impl FnOnce(ProcessIdentity) -> Result<(), Error>,
) -> Exit {
    let Control { sender, receiver } = control;
    let (stdout, stderr) = match (
        File::create(job.dir.join("stdout.txt")),
        File::create(job.dir.join("stderr.txt")),
    ) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(e), _) | (_, Err(e)) => return Exit::NotStarted(e),
    };
    // The shell waits at the gate (its stdin) until the group's identity is
    // recorded; if seqspool dies before that, the gate closes unopened and the
    // command never runs, so no unrecorded command can outlive a crash.
    let (gate, mut opener) = match io::pipe() {
        Ok(pipe) => pipe,
        Err(err) => return Exit::NotStarted(err),
    };
    let spawned = Command::new("/bin/sh")
        .args(["-c", GATED_SCRIPT])
        .current_dir(job.dir)
        .envs(job.env.iter().copied())
        .env("SEQSPOOL_COMMAND", job.command)
        .stdin(gate)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return Exit::NotStarted(err),
    };
    let pgid = child.id() as i32;
    // The threads that feed the logs and watch for the exit are started while
    // the command still waits at its gate: if one cannot be (the process is at
    // its thread limit), the gate closes unopened and the command never runs.
    let (done, drained) = mpsc::channel();
    let (out, err) = (
        child.stdout.take().expect("stdout is piped"),
        child.stderr.take().expect("stderr is piped"),
    );
    let watched = copy_capped(out, stdout, job.max_output, done.clone())
        .and_then(|()| copy_capped(err, stderr, job.max_output, done))
        .and_then(|()| spawn_waiter(pgid, sender));
    if let Err(err) = watched {
        drop(opener);
        kill_group(pgid, Sig::KILL);
        reap(&mut child);
        return Exit::NotStarted(err);
    }
    // Still at its gate: the command will run, and start its children, at the lower priority.
    let _ = rustix::process::setpriority_pgrp(Pid::from_raw(pgid), COMMAND_NICENESS);
    if let Err(err) = started(identify(pgid)) {
        drop(opener);
        kill_group(pgid, Sig::KILL);
        reap(&mut child);
        return Exit::Unrecorded(err);
    }
    // Open the gate. If the shell is gone already, its exit says why.
    let _ = opener.write_all(b"go\n");
    drop(opener);

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
        // The waiter holds a sender until the leader exits, so this cannot happen.
        Err(RecvTimeoutError::Disconnected) => None,
    };
    if stop_reason.is_some() {
        stop_group(pgid, job.grace, &receiver);
    }
    // Whatever is left of the group (children the command started in the
    // background, or ones that ignored SIGTERM) goes now, before the leader is
    // reaped and its group id freed.
    kill_group(pgid, Sig::KILL);
    let status = reap(&mut child);
    // SIGKILL is delivered, not yet acted on: wait until the strays are dead,
    // so that the next command never runs beside them.
    wait_until_gone(pgid);
    let deadline = Instant::now() + DRAIN_WAIT;
    for _ in 0..2 {
        if drained
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            log::warn!(
                "{}: a process outside the command's group still holds its output open",
                job.dir.display()
            );
            break;
        }
    }
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

/// SIGTERM to the group, then SIGKILL if the leader has not exited within `grace`.
fn stop_group(pgid: i32, grace: Duration, signals: &Receiver<Signal>) {
    kill_group(pgid, Sig::TERM);
    let deadline = Instant::now() + grace;
    loop {
        match signals.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Signal::Changed) => return,
            Ok(_) => continue, // already stopping
            Err(_) => break,
        }
    }
    kill_group(pgid, Sig::KILL);
    // Wait for the leader's exit so that it is a zombie, not running, when reaped.
    while let Ok(signal) = signals.recv() {
        if matches!(signal, Signal::Changed) {
            return;
        }
    }
}

/// How long to wait for SIGKILLed processes to die; only a process stuck in
/// the kernel (uninterruptible I/O) takes longer, and it runs no code meanwhile.
const DEATH_WAIT: Duration = Duration::from_secs(2);

/// Waits until no live process is left in group `pgid` (the leader is reaped).
fn wait_until_gone(pgid: i32) {
    let deadline = Instant::now() + DEATH_WAIT;
    while Pid::from_raw(pgid)
        .is_some_and(|pgid| rustix::process::test_kill_process_group(pgid).is_ok())
    {
        // Members may be zombies that their new parent has not reaped yet: those are dead.
        if group_members(pgid).is_empty() {
            return;
        }
        if Instant::now() > deadline {
            log::warn!("process group {pgid} still has members {DEATH_WAIT:?} after SIGKILL");
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Signals a whole group. The caller knows the group id is still ours (its
/// leader is not reaped yet); ESRCH (nobody left) is fine.
fn kill_group(pgid: i32, signal: Sig) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

/// Reaps the leader, which has exited (it was observed with WNOWAIT).
fn reap(child: &mut Child) -> ExitStatus {
    loop {
        match child.wait() {
            Ok(status) => return status,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // Only ECHILD is possible, and only if someone else reaped it.
            Err(_) => return ExitStatus::from_raw(0xff00),
        }
    }
}

/// A thread that waits for the leader to exit, without reaping it, and says so.
fn spawn_waiter(pid: i32, sender: Sender<Signal>) -> io::Result<()> {
    thread::Builder::new()
        .name(format!("wait-{pid}"))
        .spawn(move || {
            if let Some(pid) = Pid::from_raw(pid) {
                use rustix::process::{waitid, WaitId, WaitIdOptions};
                let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
                while let Err(rustix::io::Errno::INTR) = waitid(WaitId::Pid(pid), options) {}
            }
            let _ = sender.send(Signal::Changed);
        })
        .map(drop)
}

/// Copies a command's output into its log file, keeping at most `max` bytes;
/// the rest is read and dropped so the command never blocks on a full pipe.
fn copy_capped(
    mut from: impl Read + Send + 'static,
    mut to: File,
    max: u64,
    done: Sender<()>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let (mut kept, mut dropped) = (0u64, 0u64);
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let keep = (max - kept).min(n as u64) as usize;
                if keep > 0 && to.write_all(&buf[..keep]).is_err() {
                    dropped += n as u64; // disk full: keep draining, so the command is not blocked
                    continue;
                }
                kept += keep as u64;
                dropped += (n - keep) as u64;
            }
            if dropped > 0 {
                let _ = write!(to, "\n[seqspool: {dropped} more bytes dropped; the log is capped at {max} bytes]\n");
            }
            let _ = done.send(());
        })
        .map(drop)
}

/// What identifies the group whose leader is `pid`, for recovery after a crash.
pub fn identify(pid: i32) -> ProcessIdentity {
    ProcessIdentity {
        pgid: pid,
        start_ticks: start_ticks(pid).unwrap_or(0),
        boot_id: boot_id(),
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

    fn job<'a>(command: &'a str, dir: &'a Path) -> Job<'a> {
        Job {
            command,
            dir,
            env: &[],
            timeout: None,
            grace: Duration::from_secs(5),
            max_output: 1 << 20,
        }
    }

    fn go(job: &Job) -> Exit {
        run_command(job, Control::new(), |_| Ok(()))
    }

    fn alive(pid: i32) -> bool {
        start_ticks(pid).is_some()
    }

    #[test]
    fn output_lands_in_the_logs_and_the_exit_code_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = go(&Job {
            env: &[("GREETING", "hi")],
            ..job("echo $GREETING; echo oops >&2; exit 3", tmp.path())
        });
        let Exit::Finished(status) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(
            fs::read_to_string(tmp.path().join("stdout.txt")).unwrap(),
            "hi\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.path().join("stderr.txt")).unwrap(),
            "oops\n"
        );
    }

    #[test]
    fn a_flood_of_output_is_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = go(&Job {
            max_output: 1000,
            ..job("head -c 3000000 /dev/zero", tmp.path())
        });
        assert!(
            matches!(outcome, Exit::Finished(status) if status.success()),
            "{outcome:?}"
        );
        let log = fs::read(tmp.path().join("stdout.txt")).unwrap();
        assert!(log.len() < 1200, "{}", log.len());
        assert!(String::from_utf8_lossy(&log).contains("2999000 more bytes dropped"));
    }

    #[test]
    fn a_timeout_stops_the_whole_group() {
        let tmp = tempfile::tempdir().unwrap();
        let mut identity = None;
        let timed = Job {
            timeout: Some(Duration::from_millis(300)),
            ..job("sleep 60 & echo $! > bg; wait", tmp.path())
        };
        let outcome = run_command(&timed, Control::new(), |id| {
            identity = Some(id);
            Ok(())
        });
        let Exit::TimedOut(status) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(status.signal(), Some(Sig::TERM.as_raw()));
        let background: i32 = fs::read_to_string(tmp.path().join("bg"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(background), "the background sleep survived");
        let identity = identity.unwrap();
        assert!(identity.start_ticks > 0 && !identity.boot_id.is_empty());
    }

    #[test]
    fn a_command_that_ignores_sigterm_is_killed_after_the_grace() {
        let tmp = tempfile::tempdir().unwrap();
        let stubborn = Job {
            timeout: Some(Duration::from_millis(200)),
            grace: Duration::from_millis(200),
            ..job("trap '' TERM; sleep 60", tmp.path())
        };
        let outcome = go(&stubborn);
        assert!(
            matches!(outcome, Exit::TimedOut(status) if status.signal() == Some(Sig::KILL.as_raw())),
            "{outcome:?}"
        );
    }

    #[test]
    fn children_left_behind_after_a_normal_exit_are_killed() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = go(&job("sleep 60 > /dev/null 2>&1 & echo $! > bg", tmp.path()));
        assert!(
            matches!(outcome, Exit::Finished(status) if status.success()),
            "{outcome:?}"
        );
        let background: i32 = fs::read_to_string(tmp.path().join("bg"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(background), "the background sleep survived");
    }

    #[test]
    fn a_cancel_stops_the_command() {
        let tmp = tempfile::tempdir().unwrap();
        let control = Control::new();
        let canceller = control.sender.clone();
        let outcome = run_command(&job("sleep 60", tmp.path()), control, move |_| {
            canceller.send(Signal::Cancel).unwrap();
            Ok(())
        });
        assert!(matches!(outcome, Exit::Canceled), "{outcome:?}");
    }

    #[test]
    fn a_missing_directory_means_not_started() {
        let outcome = go(&job("true", Path::new("/nonexistent/seqspool")));
        assert!(matches!(outcome, Exit::NotStarted(_)), "{outcome:?}");
    }

    #[test]
    fn leftovers_of_a_crashed_server_are_found_by_identity() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "sleep 60"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let identity = identify(pid);
        let stranger = ProcessIdentity {
            start_ticks: identity.start_ticks + 1,
            ..identity.clone()
        };
        assert_eq!(kill_leftover(&stranger, Duration::from_secs(1)), 0);
        assert!(alive(pid));
        assert!(kill_leftover(&identity, Duration::from_secs(5)) >= 1);
        assert_eq!(child.wait().unwrap().signal(), Some(Sig::TERM.as_raw()));
    }

    #[test]
    fn a_command_runs_at_a_lower_priority() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = go(&job(
            "sleep 0 & wait; cut -d' ' -f19 /proc/self/stat",
            tmp.path(),
        ));
        assert!(
            matches!(outcome, Exit::Finished(status) if status.success()),
            "{outcome:?}"
        );
        let ours = rustix::process::getpriority_process(None).unwrap();
        let theirs: i32 = fs::read_to_string(tmp.path().join("stdout.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(theirs, (ours + COMMAND_NICENESS).min(19));
    }

    #[test]
    fn a_gate_closed_unopened_runs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (gate, opener) = io::pipe().unwrap();
        drop(opener); // seqspool died before recording the group
        let status = Command::new("/bin/sh")
            .args(["-c", GATED_SCRIPT])
            .current_dir(tmp.path())
            .env("SEQSPOOL_COMMAND", "touch ran")
            .stdin(gate)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(125));
        assert!(!tmp.path().join("ran").exists());
    }

    #[test]
    fn the_command_runs_as_sh_c_would_run_it() {
        let tmp = tempfile::tempdir().unwrap();
        let script = "read line || echo stdin-is-empty; echo \"$0\" > zero; f() { echo \"$#\"; }; f a b; exit 4";
        let outcome = go(&job(script, tmp.path()));
        assert!(
            matches!(outcome, Exit::Finished(status) if status.code() == Some(4)),
            "{outcome:?}"
        );
        assert_eq!(
            fs::read_to_string(tmp.path().join("stdout.txt")).unwrap(),
            "stdin-is-empty\n2\n"
        );
        assert_eq!(
            fs::read_to_string(tmp.path().join("zero")).unwrap(),
            "/bin/sh\n"
        );
    }

    #[test]
    fn statuses_are_described_in_words() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exited with code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(Sig::KILL.as_raw())),
            "killed by signal 9 (SIGKILL)"
        );
    }

    #[test]
    fn a_start_that_cannot_be_recorded_runs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = run_command(&job("touch ran", tmp.path()), Control::new(), |_| {
            Err(Error::Internal("the disk is full".into()))
        });
        assert!(matches!(outcome, Exit::Unrecorded(_)), "{outcome:?}");
        assert!(!tmp.path().join("ran").exists());
    }
}
