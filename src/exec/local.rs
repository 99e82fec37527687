//! The local executor: one processing command, as a process tree on this machine.
//!
//! Commands are started by the runner (`exec::runner`), a process of
//! seqspool's own binary started once, that leads a session of its own,
//! keeps every process a command starts in its tree, copies the output into
//! the logs, and kills the tree when told to stop or when seqspool dies. This
//! side records each run before asking for it, tells the runner to stop it on
//! a cancel, a timeout or a shutdown, and reads how the command ended. A
//! command outside the queue (the lab's `on_finish`) runs the same way,
//! [`once`], through a runner of its own.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::process::{self, kill_marked, server_mark};
use super::runner::client::{Runner, RUNNER_MARGIN};
use super::runner::{Event, Request, RunRequest};
use super::{Control, Executor, Outcome, Recovered, Run, Signal, Started};
use crate::error::Error;
use crate::model::{ProcessIdentity, Record, RunHandle};
use crate::pipeline;

/// POSIX shells exit with 126 when a command cannot be executed and 127 when it
/// is not found: the workstation's set-up is at fault, not the query.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

/// Runs each experiment's processing command through the runner.
pub struct Local {
    /// seqspool's own binary, which runs as the runner (`seqspool __runner`).
    pub runner_binary: PathBuf,
    /// How long a command may run before it is stopped.
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Most bytes kept of each of stdout and stderr.
    pub max_output: u64,
    /// The runner, once started; started again if it died.
    runner: Mutex<Option<Runner>>,
}

impl Local {
    pub fn new(
        runner_binary: PathBuf,
        timeout: Option<Duration>,
        grace: Duration,
        max_output: u64,
    ) -> Local {
        Local {
            runner_binary,
            timeout,
            grace,
            max_output,
            runner: Mutex::new(None),
        }
    }
}

impl Executor for Local {
    fn stoppable(&self) -> bool {
        true
    }

    fn run(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let definition = run.record.definition();
        let command = match super::command_of(&definition) {
            Ok(command) => command,
            Err(outcome) => return outcome,
        };
        let env = run.environment();
        // Records from before pipelines keep no timeout: the server's holds.
        let timeout = run.timeout(self.timeout);
        let job = Job {
            command,
            dir: run.dir,
            env,
            mark: run_mark(run),
            timeout,
            grace: self.grace,
            max_output: self.max_output,
            input: None,
            logs: [run.dir.join("stdout.txt"), run.dir.join("stderr.txt")],
        };
        let mut runner = self.runner.lock().unwrap_or_else(|p| p.into_inner());
        let exit = run_command(&self.runner_binary, &mut runner, &job, control, |process| {
            started(Some(RunHandle::Local(process)))
        });
        settle(exit, timeout)
    }

    fn recover(&self, record: &Record, _dir: &Path) -> Recovered {
        if let Some(RunHandle::Local(process)) = record.handle.as_deref() {
            let killed = process::kill_run(process, self.grace);
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

/// A command run once, outside the queue (the lab's `on_finish`): started
/// by a runner of its own, so that it is supervised as the experiments'
/// commands are (a process group of its own, killed with everything it
/// started when its time is up or the server stops or dies).
pub struct Once<'a> {
    pub command: &'a pipeline::Command,
    /// Its working directory.
    pub dir: &'a Path,
    pub env: Vec<(String, String)>,
    /// What it reads on its standard input.
    pub input: String,
    /// Where its standard output and error go.
    pub logs: [PathBuf; 2],
    /// Most bytes kept of each.
    pub max_output: u64,
    /// The mark of its processes ([`process::RUN_VAR`]), which [`process::kill_run`] finds
    /// after a crash; [`once_mark`] makes one.
    pub mark: String,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// How a command run [`once`] ended.
#[derive(Debug)]
pub enum Ended {
    /// It exited by itself, or was killed by a signal nobody here sent.
    Exited(ExitStatus),
    /// It ran past its time and was stopped with all it started.
    TimedOut,
    /// The server stopped meanwhile: it was stopped with all it started.
    Interrupted,
    /// It did not run, or its end was lost: why, in words.
    Failed(String),
}

/// Runs `once` to its end through a runner of its own (`what` names it in
/// the log). `started` is called with what identifies the run before it is
/// asked for; if it fails, nothing runs. `control` delivers a shutdown.
pub fn once(
    binary: &Path,
    what: &str,
    once: Once,
    control: Control,
    started: impl FnOnce(ProcessIdentity) -> Result<(), Error>,
) -> Ended {
    let job = Job {
        command: once.command,
        dir: once.dir,
        env: once.env,
        mark: once.mark,
        timeout: Some(once.timeout),
        grace: once.grace,
        max_output: once.max_output,
        input: Some(once.input),
        logs: once.logs,
    };
    let mut runner = match Runner::start(binary, what) {
        Ok(runner) => Some(runner),
        Err(err) => return Ended::Failed(format!("could not start its runner: {err}")),
    };
    match run_command(binary, &mut runner, &job, control, started) {
        Exit::Finished(status) => Ended::Exited(status),
        Exit::TimedOut(_) => Ended::TimedOut,
        Exit::Interrupted | Exit::Canceled => Ended::Interrupted,
        Exit::NotStarted(err) => Ended::Failed(format!("could not start it: {err}")),
        Exit::Unrecorded(err) => Ended::Failed(format!("its start could not be recorded: {err}")),
        Exit::Vanished => Ended::Failed(
            "its directory, or that of its logs, is gone or is no longer a directory".into(),
        ),
        Exit::RunnerLost => Ended::Failed("its runner ended while it ran".into()),
    }
}

/// The mark of a command run [`once`] for `what` (`000042/on_finish`): this
/// server's, so that no other server's run, now or later, has the same.
pub fn once_mark(what: &str) -> String {
    format!("{}/{what}", server_mark())
}

/// The mark every process of a run carries in its environment: this server
/// (its pid and start time, which no other process on this boot shares), the
/// experiment (or the group, whose first member may later run alone) and the
/// attempt, so no other run, now or later, has the same.
fn run_mark(run: &Run) -> String {
    let group = if run.size > 1 { "/group" } else { "" };
    format!(
        "{}/{}/{}{group}",
        server_mark(),
        run.record.id,
        run.record.attempts
    )
}

/// Maps how a command ended to the experiment's outcome.
fn settle(exit: Exit, timeout: Option<Duration>) -> Outcome {
    match exit {
        Exit::Finished(status) if status.success() => Outcome::Complete { exit_code: Some(0) },
        Exit::Finished(status) => match status.code() {
            // The workstation's set-up, not the query: it waits at the head
            // and the queue pauses until someone installs what is missing.
            Some(code) if SHELL_CANNOT_RUN.contains(&code) => Outcome::Retry {
                error: format!(
                    "the command {} (the shell could not find or execute it; see its stderr.txt)",
                    process::describe(status)
                ),
                ran: true,
                lasting: true,
            },
            exit_code => Outcome::Failed {
                exit_code,
                signal: status.signal(),
                error: format!("the command {}", process::describe(status)),
            },
        },
        Exit::TimedOut(status) => Outcome::Failed {
            exit_code: status.code(),
            signal: status.signal(),
            error: format!(
                "timed out after {} s and was stopped ({})",
                timeout.map_or(0.0, |t| t.as_secs_f64()),
                process::describe(status)
            ),
        },
        Exit::Canceled => Outcome::Canceled,
        Exit::Interrupted => Outcome::Interrupted,
        Exit::NotStarted(err) => super::not_begun(
            format!("could not start the command: {err}"),
            crate::error::passes(&err),
        ),
        Exit::Unrecorded(err) => super::unrecorded(&err),
        Exit::Vanished => super::vanished("nothing was run"),
        Exit::RunnerLost => super::not_begun(
            "seqspool's runner ended while the command ran; see the server's log".into(),
            false,
        ),
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
    /// Its run could not be recorded, so it was never asked for: nothing ran.
    Unrecorded(Error),
    /// Its directory is gone (removed, or replaced by something else): the
    /// experiment's own trouble, not the workstation's.
    Vanished,
    /// The runner died (killed, crashed) while the command ran.
    RunnerLost,
}

/// Everything needed to run one command.
struct Job<'a> {
    command: &'a pipeline::Command,
    dir: &'a Path,
    env: Vec<(String, String)>,
    /// The mark of the run's processes ([`process::RUN_VAR`]).
    mark: String,
    timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Most bytes kept of each of stdout and stderr.
    max_output: u64,
    /// What it reads on its standard input (none: nothing).
    input: Option<String>,
    /// Its standard output and error.
    logs: [PathBuf; 2],
}

/// Runs `job` to its end through the runner (started here if it is not
/// running). `started` is called with what identifies the run before the
/// runner is asked for anything; if it fails, nothing runs. `control`
/// delivers cancel and shutdown.
fn run_command(
    binary: &Path,
    runner: &mut Option<Runner>,
    job: &Job,
    control: Control,
    started: impl FnOnce(ProcessIdentity) -> Result<(), Error>,
) -> Exit {
    let Control { sender, receiver } = control;
    let is_dir = |dir: &Path| fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir());
    if !is_dir(job.dir) || !job.logs.iter().all(|log| log.parent().is_some_and(is_dir)) {
        return Exit::Vanished;
    }
    // The logs exist from the start of the run, empty until the command
    // writes; a link in a log's place (which a command may leave) is never followed.
    for log in &job.logs {
        let created = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(log);
        if let Err(err) = created {
            return Exit::NotStarted(err);
        }
    }
    if !runner.as_mut().is_some_and(Runner::is_alive) {
        if let Some(mut dead) = runner.take() {
            log::warn!("the runner of local commands has ended; starting a new one");
            dead.kill();
        }
        match Runner::start(binary, "local commands") {
            Ok(started) => *runner = Some(started),
            Err(err) => return Exit::NotStarted(err),
        }
    }
    let this = runner.as_mut().expect("the runner runs");
    let mut identity = this.identity.clone();
    identity.mark = Some(job.mark.clone());
    // Recorded first: a run the server dies before recording was never asked for.
    if let Err(err) = started(identity) {
        return Exit::Unrecorded(err);
    }
    {
        let mut heard = this.heard.lock();
        heard.events.clear();
        heard.listener = Some(sender);
    }
    let exit = follow(this, job, &receiver);
    this.heard.lock().listener = None;
    if matches!(exit, Exit::RunnerLost) {
        if let Some(mut lost) = runner.take() {
            lost.kill();
        }
        // Whatever of the command outlived its runner carries the run's mark.
        kill_marked(&job.mark, job.grace);
    }
    exit
}

/// Asks the runner for `job` and follows it to its end.
fn follow(runner: &mut Runner, job: &Job, receiver: &std::sync::mpsc::Receiver<Signal>) -> Exit {
    let request = Request::Run(RunRequest {
        dir: job.dir.to_owned(),
        command: job.command.clone(),
        env: job.env.clone(),
        max_output: job.max_output,
        grace_ms: job.grace.as_millis() as u64,
        mark: job.mark.clone(),
        input: job.input.clone(),
        logs: Some(job.logs.clone()),
    });
    if let Err(err) = runner.ask(&request) {
        log::warn!("asking the runner for a command: {err}");
        return Exit::RunnerLost;
    }
    let deadline = job.timeout.map(|timeout| Instant::now() + timeout);
    let mut stop_reason = None;
    let mut stopped_by: Option<Instant> = None;
    loop {
        match next_event(runner) {
            Some(Event::Ended { status, .. }) => {
                let status = ExitStatus::from_raw(status);
                return match stop_reason {
                    None => Exit::Finished(status),
                    Some(Stop::Timeout) => Exit::TimedOut(status),
                    Some(Stop::Cancel) => Exit::Canceled,
                    Some(Stop::Shutdown) => Exit::Interrupted,
                };
            }
            Some(Event::Refused { errno, message }) => {
                return Exit::NotStarted(match errno {
                    0 => io::Error::other(message),
                    errno => io::Error::from_raw_os_error(errno),
                })
            }
            // Only a warm processor's runner says these.
            Some(Event::Started { .. } | Event::Answer { .. }) => {}
            None if runner.heard.lock().gone => return Exit::RunnerLost,
            None => {}
        }
        let wait_until = match (stopped_by, deadline) {
            (Some(by), _) => Some(by),
            (None, Some(deadline)) => Some(deadline),
            (None, None) => None,
        };
        let signal = match wait_until {
            Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let stop = match signal {
            Ok(Signal::Changed) => continue,
            Ok(Signal::Cancel) => Stop::Cancel,
            Ok(Signal::Shutdown) => Stop::Shutdown,
            Err(RecvTimeoutError::Timeout) if stopped_by.is_some() => {
                log::warn!(
                    "{}: the runner did not stop the command within {:?}; killing the runner",
                    job.dir.display(),
                    job.grace + RUNNER_MARGIN
                );
                return Exit::RunnerLost;
            }
            Err(RecvTimeoutError::Timeout) => Stop::Timeout,
            Err(RecvTimeoutError::Disconnected) => continue,
        };
        if stop_reason.is_none() {
            stop_reason = Some(stop);
            stopped_by = Some(Instant::now() + job.grace + RUNNER_MARGIN);
            if runner.ask(&Request::Stop).is_err() {
                return Exit::RunnerLost;
            }
        }
    }
}

fn next_event(runner: &Runner) -> Option<Event> {
    runner.heard.lock().events.pop_front()
}

enum Stop {
    Timeout,
    Cancel,
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_that_cannot_run_the_command_is_the_workstations_fault() {
        let outcome = settle(Exit::Finished(ExitStatus::from_raw(127 << 8)), None);
        assert!(
            matches!(
                outcome,
                Outcome::Retry {
                    lasting: true,
                    ran: true,
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
}
