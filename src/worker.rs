//! The one OS thread that processes experiments, strictly one at a time, in order.
//!
//! It takes ids from the bounded channel (after those recovered at start) and
//! runs each to its end before receiving the next: one at a time by
//! construction, since there is no other thread that runs anything. It also
//! settles, at start, the experiments a crash or a shutdown interrupted.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;

use crate::analysis;
use crate::config::{Config, OnInterrupt};
use crate::queue::Queue;
use crate::runner::{self, Job, Outcome};
use crate::store::{Id, Record, Scan, State, Store, QUERY_FILE};
use crate::time::Timestamp;

/// POSIX shells exit with 126 when a command cannot be executed and 127 when it
/// is not found: the workstation's set-up is at fault, not the query.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

/// What the worker needs to run experiments.
pub struct Worker {
    pub queue: Arc<Queue>,
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    /// The processing command, shared by every record that runs it.
    pub command: Arc<str>,
}

impl Worker {
    /// Starts the thread: first the experiments `recovered` at start, then whatever arrives on `jobs`.
    pub fn spawn(self, recovered: Vec<Id>, mut jobs: Receiver<Id>) -> JoinHandle<()> {
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                let next = recovered
                    .into_iter()
                    .chain(std::iter::from_fn(move || jobs.blocking_recv()));
                for id in next {
                    if self.queue.is_closing() {
                        break;
                    }
                    self.run_one(id);
                }
            })
            .expect("spawning the worker thread")
    }

    /// Runs one experiment to its end, unless it was cancelled while it waited.
    fn run_one(&self, id: Id) {
        let (signals, receiver) = mpsc::channel();
        let uses_command = self.config.command.is_some();
        let Some(record) = self.queue.begin(
            id,
            self.command.clone(),
            uses_command.then(|| signals.clone()),
        ) else {
            return; // cancelled while waiting, or the server is closing
        };
        log::info!(
            "experiment {id} started (attempt {}): {}",
            record.attempts,
            self.command
        );
        let started = Instant::now();
        let dir = self.store.dir(id);
        let ended = match &self.config.command {
            None => {
                self.persist(&record);
                match analysis::run(&dir, record.alphabet) {
                    Ok(()) => Ended::State(State::Complete, None),
                    Err(err) => Ended::State(
                        State::SystemError,
                        Some(format!("the built-in analysis failed: {err}")),
                    ),
                }
            }
            Some(command) => {
                let env = environment(&record, &dir);
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let job = Job {
                    command,
                    dir: &dir,
                    env: &env,
                    timeout: self.config.timeout,
                    grace: self.config.shutdown_grace,
                    max_output: self.config.max_output,
                };
                let outcome = runner::run(&job, (signals, receiver), |process| {
                    if let Some(record) = self.queue.set_process(id, process) {
                        self.persist(&record);
                    }
                });
                settle(outcome, self.config.timeout)
            }
        };
        let elapsed = started.elapsed();
        match ended {
            Ended::Interrupted => {
                let record = self.queue.finish(id, |record| {
                    record.error = Some(
                        "interrupted by a server shutdown; it runs again first at the next start"
                            .into(),
                    )
                });
                if let Some(record) = record {
                    self.persist(&record); // still RUNNING on disk: recovery requeues it at the head
                }
                log::info!(
                    "experiment {id} interrupted by the shutdown after {:.1} s",
                    elapsed.as_secs_f64()
                );
            }
            Ended::Status {
                state,
                exit_code,
                signal,
                error,
            } => self.end(id, state, exit_code, signal, error, elapsed),
            Ended::State(state, error) => self.end(id, state, None, None, error, elapsed),
        }
    }

    fn end(
        &self,
        id: Id,
        state: State,
        exit_code: Option<i32>,
        signal: Option<i32>,
        error: Option<String>,
        took: Duration,
    ) {
        let Some(record) = self.queue.finish(id, |record| {
            record.state = state;
            record.finished_at = Some(Timestamp::now());
            record.exit_code = exit_code;
            record.signal = signal;
            record.error = error;
        }) else {
            return;
        };
        self.persist(&record);
        let code = exit_code.map_or(String::new(), |code| format!(" with code {code}"));
        let why = record
            .error
            .as_deref()
            .map_or(String::new(), |error| format!(": {error}"));
        log::info!(
            "experiment {id} finished {}{code} in {:.1} s{why}",
            state.as_str(),
            took.as_secs_f64()
        );
    }

    /// Writes a record; a failure is logged, and memory stays ahead of the disk
    /// until the next write of that experiment (or, after a restart, the disk's
    /// older state makes it run again).
    fn persist(&self, record: &Record) {
        if let Err(err) = self.store.write_record(record) {
            log::error!(
                "experiment {}: could not record {}: {err}",
                record.id,
                record.state.as_str()
            );
        }
    }
}

/// How a run ended, before it is applied to the record.
enum Ended {
    State(State, Option<String>),
    Status {
        state: State,
        exit_code: Option<i32>,
        signal: Option<i32>,
        error: Option<String>,
    },
    Interrupted,
}

/// Maps a command's outcome to the experiment's final state.
fn settle(outcome: Outcome, timeout: Option<Duration>) -> Ended {
    use std::os::unix::process::ExitStatusExt;
    match outcome {
        Outcome::Finished(status) if status.success() => Ended::Status {
            state: State::Complete,
            exit_code: Some(0),
            signal: None,
            error: None,
        },
        Outcome::Finished(status) => {
            let (exit_code, signal) = (status.code(), status.signal());
            let state = match exit_code {
                Some(code) if SHELL_CANNOT_RUN.contains(&code) => State::SystemError,
                _ => State::ExecutorError,
            };
            let mut error = format!("the command {}", runner::describe(status));
            if state == State::SystemError {
                error.push_str(" (the shell could not find or execute it); see stderr.txt");
            }
            Ended::Status {
                state,
                exit_code,
                signal,
                error: Some(error),
            }
        }
        Outcome::TimedOut(status) => Ended::Status {
            state: State::ExecutorError,
            exit_code: status.code(),
            signal: status.signal(),
            error: Some(format!(
                "timed out after {} s and was stopped ({})",
                timeout.map_or(0.0, |t| t.as_secs_f64()),
                runner::describe(status)
            )),
        },
        Outcome::Canceled => Ended::State(
            State::Canceled,
            Some("canceled by a client while it ran".into()),
        ),
        Outcome::Interrupted => Ended::Interrupted,
        Outcome::NotStarted(err) => Ended::State(
            State::SystemError,
            Some(format!("could not start the command: {err}")),
        ),
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

/// What recovery did, for the start-up log line.
#[derive(Debug, Default)]
pub struct Recovery {
    pub queued: usize,
    pub requeued: usize,
    pub failed: usize,
    pub finished: usize,
}

/// Settles what the scan found before anything runs: experiments found RUNNING
/// were interrupted; their command's group is killed if it outlived the server,
/// and they are requeued (to run first: their ids are the oldest waiting) or
/// failed, as `--on-interrupt` says.
pub fn recover(store: &Store, scan: &mut Scan, config: &Config) -> Recovery {
    let mut recovery = Recovery::default();
    for record in &mut scan.records {
        match record.state {
            State::Queued => recovery.queued += 1,
            State::Running => {
                if let Some(process) = &record.process {
                    let killed = runner::kill_leftover(process, config.shutdown_grace);
                    if killed > 0 {
                        log::warn!(
                            "experiment {}: killed {killed} process(es) of its interrupted command (group {})",
                            record.id,
                            process.pgid
                        );
                    }
                }
                record.process = None;
                match config.on_interrupt {
                    OnInterrupt::Requeue => {
                        record.state = State::Queued;
                        record.error = None;
                        recovery.requeued += 1;
                        log::info!(
                            "experiment {} was interrupted (attempt {}); it runs again first",
                            record.id,
                            record.attempts
                        );
                    }
                    OnInterrupt::Fail => {
                        record.state = State::SystemError;
                        record.finished_at = Some(Timestamp::now());
                        record.error = Some(format!(
                            "interrupted by a server stop while running (attempt {}); not run again (--on-interrupt fail)",
                            record.attempts
                        ));
                        recovery.failed += 1;
                        log::warn!("experiment {} was interrupted; marked SYSTEM_ERROR (--on-interrupt fail)", record.id);
                    }
                }
                if let Err(err) = store.write_record(record) {
                    log::error!(
                        "experiment {}: could not record its recovery: {err}",
                        record.id
                    );
                }
            }
            _ => recovery.finished += 1,
        }
    }
    recovery
}
