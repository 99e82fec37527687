//! The one OS thread that processes experiments, strictly one at a time, in order.
//!
//! It takes the oldest waiting experiment from the queue, runs it to its end,
//! and only then takes the next; when none is waiting it sleeps until the
//! intake wakes it. One at a time by construction: no other thread runs
//! anything. It also settles, at start, the experiments a crash or a shutdown
//! interrupted.

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
use crate::store::{Record, Scan, State, Store, QUERY_FILE};
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
    /// Starts the thread. It runs whatever is waiting, oldest first, and then
    /// sleeps until `wake` says more has come; it ends when the queue closes
    /// or every sender of `wake` is gone.
    pub fn spawn(self, mut wake: Receiver<()>) -> JoinHandle<()> {
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || loop {
                while self.run_next() {}
                if self.queue.is_closing() || wake.blocking_recv().is_none() {
                    break;
                }
            })
            .expect("spawning the worker thread")
    }

    /// Runs the next waiting experiment to its end; false if none was waiting.
    fn run_next(&self) -> bool {
        let (signals, receiver) = mpsc::channel();
        let uses_command = self.config.command.is_some();
        let Some(mut record) = self
            .queue
            .next(self.command.clone(), uses_command.then(|| signals.clone()))
        else {
            return false;
        };
        let id = record.id;
        log::info!(
            "experiment {id} started (attempt {}): {}",
            record.attempts,
            self.command
        );
        let started = Instant::now();
        let dir = self.store.dir(id);
        let ended = match &self.config.command {
            None => {
                // RUNNING is on disk before the analysis runs: a crash during it
                // is seen at the restart as an interruption.
                self.persist(&record);
                match analysis::run(&dir, record.alphabet) {
                    Ok(()) => ended(State::Complete, None),
                    Err(err) => ended(
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
                // RUNNING is first written with the process group: the command
                // waits at its gate until then, so a crash before it leaves a
                // command that never ran and an experiment still QUEUED on disk.
                let outcome = runner::run(&job, (signals, receiver), |process| {
                    record.process = Some(process);
                    self.persist(&record);
                    self.queue.update_running(record.clone());
                });
                settle(outcome, self.config.timeout)
            }
        };
        let took = started.elapsed();
        record.process = None;
        match ended {
            Ended::Interrupted => {
                // Still RUNNING on disk, with its group gone: recovery requeues it at the head.
                record.error = Some(
                    "interrupted by a server shutdown; it runs again first at the next start"
                        .into(),
                );
                self.persist(&record);
                self.queue.finish(record);
                log::info!(
                    "experiment {id} interrupted by the shutdown after {:.1} s",
                    took.as_secs_f64()
                );
            }
            Ended::Status {
                state,
                exit_code,
                signal,
                error,
            } => {
                record.state = state;
                record.finished_at = Some(Timestamp::now());
                record.exit_code = exit_code;
                record.signal = signal;
                record.error = error;
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
                self.queue.finish(record);
            }
        }
        true
    }

    /// Writes a record. A failure is logged; memory then runs ahead of the
    /// disk until the experiment's next write, and after a restart the disk's
    /// older state makes it run again: never lost, at worst run twice.
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
    Status {
        state: State,
        exit_code: Option<i32>,
        signal: Option<i32>,
        error: Option<String>,
    },
    Interrupted,
}

/// An end without an exit status (the built-in analysis, a cancel, a command that never started).
fn ended(state: State, error: Option<String>) -> Ended {
    Ended::Status {
        state,
        exit_code: None,
        signal: None,
        error,
    }
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
        Outcome::Canceled => ended(
            State::Canceled,
            Some("canceled by a client while it ran".into()),
        ),
        Outcome::Interrupted => Ended::Interrupted,
        Outcome::NotStarted(err) => ended(
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
