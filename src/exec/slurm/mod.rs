//! The Slurm executor: each experiment is one batch job on the lab's cluster.
//!
//! seqspool stays the front door and the durable record; Slurm runs the
//! command, through its own client commands (`sbatch`, `squeue`, `scontrol`,
//! `scancel`). A job is submitted held, its id recorded with the experiment
//! (RUNNING, through `started`), and only then released, so a crash at any
//! moment leaves either a recorded job or one that never ran. The job runs a
//! small script seqspool writes to sbatch's input: the pipeline's command in
//! the experiment's directory, its exit code kept in `.exit-code` there,
//! because a controller without accounting forgets a finished job after its
//! MinJobAge. Nothing a client sent is in the script or on a command line:
//! the query's name and the parameters reach the job as environment
//! variables, set in sbatch's own environment and exported (`--export=ALL`).
//!
//! States are polled in one `squeue` call for all the jobs in flight
//! ([`poll`]); a shutdown leaves the jobs running, and the next start
//! re-attaches to them ([`Slurm::recover`], [`Slurm::follow`]).

pub mod cli;
pub mod poll;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use self::cli::JobStatus;
use self::poll::{Poller, Seen};
use super::{Control, Executor, Outcome, Recovered, Run, Signal, Started};
use crate::model::{Id, Record, RunHandle, SlurmJob};
use crate::pipeline::Command;
use crate::time::Timestamp;

/// Where the job's script records the command's exit code, in the
/// experiment's directory (hidden: not one of its files for clients).
pub const EXIT_CODE_FILE: &str = ".exit-code";

/// The handle's state from the job's submission (held) until seqspool released it.
pub const HELD: &str = "HELD";

/// The reason Slurm gives a job submitted with `--hold`.
const HELD_REASON: &str = "JobHeldUser";

/// Slurm's states a job never leaves.
const FINAL_STATES: [&str; 11] = [
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
    "REVOKED",
    "SPECIAL_EXIT",
];

/// Exit codes with which a shell says it could not find (127) or execute
/// (126) the command, and with which the job's script says the node cannot
/// reach the experiment's directory (126): the cluster's set-up, not the query.
const CANNOT_RUN: [i32; 2] = [126, 127];

/// Runs experiments as Slurm batch jobs.
pub struct Slurm {
    poller: Arc<Poller>,
    /// Between two polls.
    interval: Duration,
    /// Held from a job's submission until its release: the worker hands
    /// the next run over once this one is recorded, and its job is released
    /// before the next is submitted, so jobs become eligible in acceptance order.
    submitting: Mutex<()>,
}

impl Slurm {
    /// `interval` is the time between two polls of the jobs in flight.
    pub fn new(interval: Duration) -> Slurm {
        Slurm {
            poller: Poller::new(interval),
            interval,
            submitting: Mutex::new(()),
        }
    }
}

/// What seqspool asked of a job it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Cancel,
    Timeout,
}

impl Executor for Slurm {
    fn stoppable(&self) -> bool {
        true
    }

    fn run(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let id = run.record.id;
        let definition = run.record.definition();
        let command = match super::command_of(&definition) {
            Ok(command) => command,
            Err(outcome) => return outcome,
        };
        if !fs::symlink_metadata(run.dir).is_ok_and(|meta| meta.is_dir()) {
            return super::vanished("nothing was submitted");
        }
        if let Err(err) = cancel_unrecorded(id, run.dir) {
            return Outcome::Retry {
                error: format!("squeue failed before its submission: {err}"),
                ran: false,
                lasting: true,
            };
        }
        // An earlier attempt's code must not settle this one; the logs exist
        // from the start, empty until the job writes.
        match fs::remove_file(run.dir.join(EXIT_CODE_FILE)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return not_prepared(err, "removing the exit code of an earlier attempt")
            }
            _ => {}
        }
        for log in ["stdout.txt", "stderr.txt"] {
            if let Err(err) = fs::File::create(run.dir.join(log)) {
                return not_prepared(err, "creating its logs");
            }
        }
        let env = run.environment();
        let mut args: Vec<OsString> = [
            "--parsable",
            "--hold",
            // Slurm would run it again after a node failure: seqspool runs nothing twice.
            "--no-requeue",
            "--export=ALL",
            // Relative to its directory: a path could hold sbatch's % patterns.
            "--output=stdout.txt",
            "--error=stderr.txt",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.push(format!("--job-name={id}").into());
        let mut chdir = OsString::from("--chdir=");
        chdir.push(run.dir.as_os_str());
        args.push(chdir);
        let options = definition.slurm.clone().unwrap_or_default();
        args.extend(
            options
                .arguments(run.timeout(None))
                .into_iter()
                .map(OsString::from),
        );
        let submitting = self.submitting.lock().unwrap_or_else(|p| p.into_inner());
        let job_id = match cli::sbatch(&args, &env, &script(command)) {
            Ok(job_id) => job_id,
            Err(err) => {
                return Outcome::Retry {
                    error: format!("sbatch refused its job: {err}"),
                    ran: false,
                    lasting: true,
                }
            }
        };
        log::info!("experiment {id}: submitted as Slurm job {job_id}, held until recorded");
        let mut job = SlurmJob {
            job_id,
            state: HELD.into(),
            reason: None,
            running_since: None,
        };
        // Recorded before it may run: a crash from here on leaves its id on disk.
        if let Err(err) = started(Some(handle(&job))) {
            if let Err(why) = cli::scancel(job_id) {
                log::error!(
                    "experiment {id}: could not cancel its unrecorded Slurm job {job_id}: {why}"
                );
            }
            return super::unrecorded(&err);
        }
        if let Err(err) = cli::release(job_id) {
            // It never ran. A held job left behind is cancelled when the
            // experiment is submitted again, or at the next start.
            if let Err(why) = cli::scancel(job_id) {
                log::warn!("experiment {id}: could not cancel Slurm job {job_id}, which it never released: {why}");
            }
            return Outcome::Retry {
                error: format!("scontrol could not release its Slurm job {job_id}: {err}"),
                ran: false,
                lasting: true,
            };
        }
        drop(submitting);
        job.state = "PENDING".into();
        if let Err(err) = started(Some(handle(&job))) {
            log::warn!(
                "experiment {id}: could not record that Slurm job {job_id} was released: {err}"
            );
        }
        self.follow_job(run, job, control, started)
    }

    fn recover(&self, record: &Record, dir: &Path) -> Recovered {
        let id = record.id;
        let Some(RunHandle::Slurm { slurm: job }) = record.handle.as_deref() else {
            return Recovered::Requeue;
        };
        let job_id = job.job_id;
        match cli::squeue(&[job_id]) {
            Err(err) => Recovered::Reattach {
                pause: Some(format!(
                    "the Slurm controller did not answer at start ({err}); experiment {id} \
                     (Slurm job {job_id}) is followed, and settled once it answers"
                )),
            },
            Ok(found) => match found.get(&job_id) {
                Some(status) if is_held_by_seqspool(status) => {
                    match cli::scancel(job_id) {
                        Ok(()) => log::warn!(
                            "experiment {id}: Slurm job {job_id} was submitted but never released \
                             (the server stopped in between); it is cancelled, and the experiment waits again"
                        ),
                        Err(err) => log::error!(
                            "experiment {id}: could not cancel Slurm job {job_id}, which was never released: {err}"
                        ),
                    }
                    Recovered::NeverRan
                }
                Some(status) => {
                    log::info!(
                        "experiment {id}: re-attaching to Slurm job {job_id} ({})",
                        status.state
                    );
                    Recovered::Reattach { pause: None }
                }
                None if read_exit_code(dir).is_some() => {
                    log::info!(
                        "experiment {id}: Slurm no longer knows job {job_id}, which left its exit code; \
                         it is settled from it"
                    );
                    Recovered::Reattach { pause: None }
                }
                None => {
                    log::warn!(
                        "experiment {id}: Slurm no longer knows job {job_id}, and it left no exit code; \
                         the experiment runs again"
                    );
                    Recovered::Requeue
                }
            },
        }
    }

    fn follow(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let Some(RunHandle::Slurm { slurm: job }) = run.record.handle.as_deref() else {
            return Outcome::SystemError {
                exit_code: None,
                error: "it was re-attached without a Slurm job".into(),
            };
        };
        log::info!(
            "experiment {}: following Slurm job {} ({})",
            run.record.id,
            job.job_id,
            job.state
        );
        self.follow_job(run, job.clone(), control, started)
    }
}

impl Slurm {
    /// Follows `job` to its end: records its state as Slurm changes it,
    /// cancels it on a client's cancel or at the pipeline's timeout, and
    /// leaves it running at a shutdown.
    fn follow_job(
        &self,
        run: &Run,
        mut job: SlurmJob,
        control: Control,
        started: &mut Started,
    ) -> Outcome {
        let id = run.record.id;
        let job_id = job.job_id;
        let timeout = run.timeout(None);
        let Control { sender, receiver } = control;
        let watch = self.poller.watch(job_id, sender);
        let mut stop: Option<Stop> = None;
        let mut cancelled = false;
        loop {
            match watch.seen() {
                Some(Seen::Known(status)) if FINAL_STATES.contains(&status.state.as_str()) => {
                    let ended = || exit_status(job_id, run.dir);
                    return settle(id, &job, &status, stop, timeout, ended);
                }
                Some(Seen::Known(status))
                    if status.state != job.state || status.reason != job.reason =>
                {
                    if status.state == "RUNNING" && job.running_since.is_none() {
                        job.running_since = Some(Timestamp::now());
                        log::info!("experiment {id}: Slurm job {job_id} is running");
                    }
                    job.state = status.state;
                    job.reason = status.reason;
                    if let Err(err) = started(Some(handle(&job))) {
                        log::warn!(
                            "experiment {id}: could not record that Slurm job {job_id} is {}: {err}",
                            job.state
                        );
                    }
                }
                Some(Seen::Known(_)) => {}
                Some(Seen::Gone) => return settle_forgotten(id, &job, stop, timeout, run.dir),
                None => {}
            }
            // A cancel the controller did not take is asked again at each poll.
            if stop.is_some() && !cancelled {
                match cli::scancel(job_id) {
                    Ok(()) => {
                        cancelled = true;
                        watch.poll_soon();
                    }
                    Err(err) => log::warn!(
                        "experiment {id}: scancel of Slurm job {job_id} failed ({err}); asking again at the next poll"
                    ),
                }
            }
            let deadline = match (stop, timeout, job.running_since) {
                (None, Some(timeout), Some(since)) => {
                    Some(Instant::now() + timeout.saturating_sub(Timestamp::now().since(since)))
                }
                _ => None,
            };
            let signal = match deadline {
                Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match signal {
                Ok(Signal::Changed) => {}
                Ok(Signal::Cancel) => {
                    if stop.is_none() {
                        log::info!("experiment {id}: cancelling Slurm job {job_id}");
                        stop = Some(Stop::Cancel);
                    }
                }
                Ok(Signal::Shutdown) => {
                    log::info!(
                        "experiment {id}: Slurm job {job_id} runs on without the server; the next start re-attaches to it"
                    );
                    return Outcome::Detached;
                }
                Err(RecvTimeoutError::Timeout) => {
                    log::info!(
                        "experiment {id}: Slurm job {job_id} ran past its timeout of {:.1} s; cancelling it",
                        timeout.unwrap_or_default().as_secs_f64()
                    );
                    stop = Some(Stop::Timeout);
                }
                // Cannot happen while the watch holds a sender; never spin if it does.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(self.interval),
            }
        }
    }
}

/// The handle the record keeps for `job`.
fn handle(job: &SlurmJob) -> RunHandle {
    RunHandle::Slurm { slurm: job.clone() }
}

/// Whether Slurm says the job waits on the hold seqspool submitted it with.
fn is_held_by_seqspool(status: &JobStatus) -> bool {
    status.state == "PENDING" && status.reason.as_deref() == Some(HELD_REASON)
}

/// Cancels the held jobs of an earlier attempt of experiment `id` that the
/// server submitted but died before recording: pending, held, named after
/// it, and working in its directory (they would never run, only clutter the
/// cluster's queue). An error means the controller could not be asked,
/// which sbatch would meet as well.
fn cancel_unrecorded(id: Id, dir: &Path) -> Result<(), String> {
    let name = id.to_string();
    let pending = cli::pending_named(&name)?;
    for (job_id, status) in pending {
        if is_held_by_seqspool(&status) && status.name == name && Path::new(&status.workdir) == dir
        {
            match cli::scancel(job_id) {
                Ok(()) => log::warn!(
                    "experiment {id}: cancelled Slurm job {job_id}, submitted held by an earlier \
                     attempt that the server did not live to record"
                ),
                Err(err) => log::warn!(
                    "experiment {id}: could not cancel unrecorded Slurm job {job_id}: {err}"
                ),
            }
        }
    }
    Ok(())
}

/// The outcome of a job that could not be prepared for `what`.
fn not_prepared(err: io::Error, what: &str) -> Outcome {
    super::not_begun(format!("{what}: {err}"), crate::error::passes(&err))
}

/// The script the job runs: nothing in it comes from a client. The command
/// is the lab's (its pipeline's, as recorded at acceptance), each word
/// quoted for the shell.
fn script(command: &Command) -> String {
    let line = match command {
        Command::Shell(line) => format!("/bin/sh -c {}", quote(line)),
        Command::Program(words) => words
            .iter()
            .map(|word| quote(word))
            .collect::<Vec<_>>()
            .join(" "),
    };
    format!(
        r#"#!/bin/sh
# seqspool: one experiment's batch job. It runs the pipeline's command in the
# experiment's directory and keeps the command's exit code in {EXIT_CODE_FILE},
# which outlives the controller's memory of the job.
cd "$EXPERIMENT_DIR" || {{
    echo "seqspool: this node cannot reach $EXPERIMENT_DIR: the nodes need the file system holding the experiments, at the same path" >&2
    exit 126
}}
# A stop (scancel, the time limit) reaches the command; this shell waits for
# it to end and records how it did.
trap 'seqspool_stopped=1' HUP INT TERM
{line} </dev/null
seqspool_code=$?
printf '%s\n' "$seqspool_code" >{EXIT_CODE_FILE}.tmp && mv -f {EXIT_CODE_FILE}.tmp {EXIT_CODE_FILE}
exit "$seqspool_code"
"#
    )
}

/// `word` in single quotes, for the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The exit code the job's script recorded, if it did.
fn read_exit_code(dir: &Path) -> Option<i32> {
    fs::read_to_string(dir.join(EXIT_CODE_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How a job that ended ended: its code and signal as Slurm recorded them,
/// else as its script did.
fn exit_status(job_id: u64, dir: &Path) -> (Option<i32>, Option<i32>) {
    match cli::exit_code(job_id) {
        Ok(Some((_, signal))) if signal > 0 => (None, Some(signal)),
        Ok(Some((code, _))) => (Some(code), None),
        _ => (read_exit_code(dir), None),
    }
}

/// Says how a command ended, in words.
fn describe(exit_code: Option<i32>, signal: Option<i32>) -> String {
    match (exit_code, signal) {
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        (Some(code), None) => format!("exited with code {code}"),
        (None, None) => "ended in a way Slurm did not record".into(),
    }
}

fn timed_out(timeout: Option<Duration>, job_id: u64) -> String {
    format!(
        "timed out after {:.1} s; seqspool cancelled Slurm job {job_id}",
        timeout.unwrap_or_default().as_secs_f64()
    )
}

/// Maps the final state Slurm gives a job to the experiment's outcome;
/// `ended` says how its command ended, when that matters.
fn settle(
    id: Id,
    job: &SlurmJob,
    status: &JobStatus,
    stop: Option<Stop>,
    timeout: Option<Duration>,
    ended: impl FnOnce() -> (Option<i32>, Option<i32>),
) -> Outcome {
    let job_id = job.job_id;
    let reason = status
        .reason
        .as_deref()
        .map_or(String::new(), |reason| format!(": {reason}"));
    log::info!(
        "experiment {id}: Slurm job {job_id} ended {}{reason}",
        status.state
    );
    match status.state.as_str() {
        "COMPLETED" => Outcome::Complete { exit_code: Some(0) },
        "CANCELLED" => match stop {
            Some(Stop::Cancel) => Outcome::Canceled,
            Some(Stop::Timeout) => Outcome::Failed {
                exit_code: None,
                signal: None,
                error: timed_out(timeout, job_id),
            },
            None => Outcome::Failed {
                exit_code: None,
                signal: None,
                error: format!(
                    "Slurm job {job_id} was cancelled outside seqspool (by an administrator, or by Slurm){reason}"
                ),
            },
        },
        "TIMEOUT" => Outcome::Failed {
            exit_code: None,
            signal: None,
            error: format!("Slurm stopped job {job_id} at its time limit (TIMEOUT{reason})"),
        },
        state => {
            let (exit_code, signal) = ended();
            match exit_code {
                Some(code) if state == "FAILED" && CANNOT_RUN.contains(&code) => Outcome::Retry {
                    error: format!(
                        "Slurm job {job_id} could not run the command (exit code {code}): a node cannot find \
                         or execute it, or cannot reach the experiment's directory; see its stderr.txt"
                    ),
                    ran: true,
                    lasting: true,
                },
                _ => Outcome::Failed {
                    exit_code,
                    signal,
                    error: format!(
                        "the command {} (Slurm job {job_id} ended {state}{reason})",
                        describe(exit_code, signal)
                    ),
                },
            }
        }
    }
}

/// Settles a job Slurm no longer knows, from the exit code its script left;
/// without one, nothing says it finished, and it runs again.
fn settle_forgotten(
    id: Id,
    job: &SlurmJob,
    stop: Option<Stop>,
    timeout: Option<Duration>,
    dir: &Path,
) -> Outcome {
    let job_id = job.job_id;
    match (read_exit_code(dir), stop) {
        (Some(0), _) => Outcome::Complete { exit_code: Some(0) },
        (_, Some(Stop::Cancel)) => Outcome::Canceled,
        (_, Some(Stop::Timeout)) => Outcome::Failed {
            exit_code: None,
            signal: None,
            error: timed_out(timeout, job_id),
        },
        (Some(code), None) => Outcome::Failed {
            exit_code: Some(code),
            signal: None,
            error: format!(
                "the command exited with code {code} (Slurm job {job_id}, which Slurm no longer knows; \
                 its script recorded the code)"
            ),
        },
        (None, None) => {
            log::warn!("experiment {id}: Slurm no longer knows job {job_id}, and it left no exit code");
            Outcome::Retry {
                error: format!(
                    "Slurm no longer knows job {job_id}, and it left no exit code; it runs again"
                ),
                ran: true,
                lasting: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, reason: Option<&str>) -> JobStatus {
        JobStatus {
            state: state.into(),
            reason: reason.map(str::to_owned),
            name: "000001".into(),
            workdir: "/x".into(),
        }
    }

    fn job() -> SlurmJob {
        SlurmJob {
            job_id: 7,
            state: "RUNNING".into(),
            reason: None,
            running_since: None,
        }
    }

    #[test]
    fn the_script_quotes_the_command_and_keeps_its_exit_code() {
        let shell = script(&Command::Shell(
            "blastn -query \"$QUERY_FASTA\" > it's.tsv".into(),
        ));
        assert!(
            shell.contains(r#"/bin/sh -c 'blastn -query "$QUERY_FASTA" > it'\''s.tsv' </dev/null"#),
            "{shell}"
        );
        assert!(shell.contains("mv -f .exit-code.tmp .exit-code"));
        let program = script(&Command::Program(vec![
            "/opt/run".into(),
            "a b".into(),
            "X=1".into(),
        ]));
        assert!(
            program.contains("'/opt/run' 'a b' 'X=1' </dev/null"),
            "{program}"
        );
    }

    #[test]
    fn the_script_runs_a_command_that_exits_and_records_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let script = script(&Command::Shell("echo out; exit 3".into()));
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .env("EXPERIMENT_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(read_exit_code(dir.path()), Some(3));
    }

    #[test]
    fn slurms_final_states_map_to_the_experiments() {
        let settle = |state: &str, stop| {
            settle(Id(1), &job(), &status(state, None), stop, None, || {
                (Some(1), None)
            })
        };
        assert_eq!(
            settle("COMPLETED", None),
            Outcome::Complete { exit_code: Some(0) }
        );
        assert_eq!(settle("CANCELLED", Some(Stop::Cancel)), Outcome::Canceled);
        let missing = super::settle(Id(1), &job(), &status("FAILED", None), None, None, || {
            (Some(127), None)
        });
        assert!(
            matches!(missing, Outcome::Retry { lasting: true, .. }),
            "{missing:?}"
        );
        for (state, stop, says) in [
            ("CANCELLED", Some(Stop::Timeout), "timed out"),
            ("CANCELLED", None, "outside seqspool"),
            ("TIMEOUT", None, "time limit"),
            ("OUT_OF_MEMORY", None, "OUT_OF_MEMORY"),
            ("NODE_FAIL", None, "NODE_FAIL"),
            ("FAILED", None, "exited with code 1"),
        ] {
            match settle(state, stop) {
                Outcome::Failed { error, .. } => assert!(error.contains(says), "{state}: {error}"),
                other => panic!("{state}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_forgotten_job_is_settled_by_its_exit_code_or_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let forgotten = |stop| settle_forgotten(Id(1), &job(), stop, None, dir.path());
        assert!(matches!(
            forgotten(None),
            Outcome::Retry {
                ran: true,
                lasting: false,
                ..
            }
        ));
        assert_eq!(forgotten(Some(Stop::Cancel)), Outcome::Canceled);
        fs::write(dir.path().join(EXIT_CODE_FILE), "4\n").unwrap();
        assert!(matches!(
            forgotten(None),
            Outcome::Failed {
                exit_code: Some(4),
                ..
            }
        ));
        fs::write(dir.path().join(EXIT_CODE_FILE), "0\n").unwrap();
        assert_eq!(forgotten(None), Outcome::Complete { exit_code: Some(0) });
    }

    #[test]
    fn only_seqspools_own_hold_marks_a_job_never_released() {
        assert!(is_held_by_seqspool(&status("PENDING", Some("JobHeldUser"))));
        assert!(!is_held_by_seqspool(&status(
            "PENDING",
            Some("JobHeldAdmin")
        )));
        assert!(!is_held_by_seqspool(&status("PENDING", Some("Priority"))));
        assert!(!is_held_by_seqspool(&status("RUNNING", None)));
    }
}
