//! The one OS thread that processes experiments, strictly one at a time, in order.
//!
//! It takes the oldest waiting experiment from the queue, hands it to its
//! executor, waits for the end, and only then takes the next; when none is
//! waiting it sleeps until the intake wakes it. One at a time by construction:
//! no other thread starts anything. It also settles, at start, the experiments
//! a crash or a shutdown interrupted, through the executor that ran them.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use tokio::sync::mpsc::Receiver;

use crate::config::{Config, OnInterrupt};
use crate::exec::{Control, Executors, Outcome, Recovered, Run};
use crate::model::{Record, State};
use crate::queue::Queue;
use crate::store::{Scan, Store};
use crate::time::Timestamp;

/// What the worker needs to run experiments.
pub struct Worker {
    pub queue: Arc<Queue>,
    pub store: Arc<Store>,
    pub executors: Arc<Executors>,
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
        let control = Control::new();
        let executor = self.executors.for_command(&self.command);
        let stopper = executor.stoppable().then(|| control.sender.clone());
        let Some(mut record) = self.queue.next(self.command.clone(), stopper) else {
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
        let running = record.clone();
        let outcome = executor.run(
            &Run {
                record: &running,
                dir: &dir,
            },
            control,
            // RUNNING is written with the executor's handle before anything
            // runs, so a crash before it leaves an experiment QUEUED on disk
            // and nothing running.
            &mut |handle| {
                record.handle = handle;
                self.persist(&record);
                self.queue.update_running(record.clone());
                Ok(())
            },
        );
        let took = started.elapsed();
        record.handle = None;
        let (state, exit_code, signal, error) = match outcome {
            Outcome::Interrupted => {
                // Still RUNNING on disk, with nothing of it left: recovery requeues it at the head.
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
                return true;
            }
            Outcome::Complete { exit_code } => (State::Complete, exit_code, None, None),
            Outcome::Failed {
                exit_code,
                signal,
                error,
            } => (State::ExecutorError, exit_code, signal, Some(error)),
            Outcome::SystemError { exit_code, error } => {
                (State::SystemError, exit_code, None, Some(error))
            }
            Outcome::Canceled => (
                State::Canceled,
                None,
                None,
                Some("canceled by a client while it ran".to_owned()),
            ),
        };
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

/// What recovery did, for the start-up log line.
#[derive(Debug, Default)]
pub struct Recovery {
    pub queued: usize,
    pub requeued: usize,
    pub failed: usize,
    pub finished: usize,
}

/// Settles what the scan found before anything runs: experiments found RUNNING
/// were interrupted; their executor deals with what is left of the run, and
/// they are requeued (to run first: their ids are the oldest waiting) or
/// failed, as `--on-interrupt` says.
pub fn recover(store: &Store, scan: &mut Scan, config: &Config, executors: &Executors) -> Recovery {
    let mut recovery = Recovery::default();
    for record in &mut scan.records {
        match record.state {
            State::Queued => recovery.queued += 1,
            State::Running => {
                match executors.for_command(&record.command).recover(record) {
                    Recovered::Requeue => {}
                }
                record.handle = None;
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
