//! The one OS thread that processes experiments, strictly one at a time, in order.
//!
//! It takes the oldest waiting experiment from the queue, hands it to its
//! executor, waits for the end, and only then takes the next; when none is
//! waiting, or the queue is paused, it sleeps until woken (by the intake, or
//! by a resume). One at a time by construction: no other thread starts
//! anything. It also settles, at start, the experiments a crash or a shutdown
//! interrupted, through the executor that ran them.
//!
//! A fault of the workstation (the disk is full, a program is missing) is
//! never the experiment's: it goes back to the head of the queue, and the
//! queue pauses with the reason until an operator resumes it.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;

use crate::config::{Config, OnInterrupt};
use crate::exec::{Control, Executors, Outcome, Recovered, Run};
use crate::model::{Pause, PausedBy, Record, State};
use crate::pipeline::Catalog;
use crate::queue::Queue;
use crate::store::{Scan, Store};
use crate::time::Timestamp;

/// The first wait before an experiment whose start failed for a passing
/// reason (out of descriptors or processes) is tried again; it doubles at
/// each failure in a row, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two tries: a minute keeps the log quiet and the
/// queue moving soon after the machine recovers.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the end of an experiment that could not be recorded is written
/// again, while the queue waits for the disk.
const RECORD_RETRY: Duration = Duration::from_secs(5);

/// What the worker needs to run experiments.
pub struct Worker {
    pub queue: Arc<Queue>,
    pub store: Arc<Store>,
    pub executors: Arc<Executors>,
    /// The pipelines offered, whose checks run before anything starts.
    pub catalog: Arc<Catalog>,
    /// Bytes the experiments' disk must keep free for a run to start.
    pub min_free: u64,
}

/// What the worker does after a step.
enum Next {
    /// Takes the next experiment at once.
    Run,
    /// Sleeps until woken: nothing waits, or the queue is paused.
    Sleep,
    /// Tries the same experiment again after a while.
    Retry,
}

impl Worker {
    /// Starts the thread. It runs whatever is waiting, oldest first, and then
    /// sleeps until `wake` says more has come; it ends when the queue closes
    /// or every sender of `wake` is gone.
    pub fn spawn(self, mut wake: Receiver<()>) -> JoinHandle<()> {
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                let mut backoff = FIRST_BACKOFF;
                loop {
                    match self.step() {
                        Next::Run => backoff = FIRST_BACKOFF,
                        Next::Retry => {
                            self.sleep(backoff);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                        Next::Sleep => {
                            if self.queue.is_closing() || wake.blocking_recv().is_none() {
                                break;
                            }
                        }
                    }
                    if self.queue.is_closing() {
                        break;
                    }
                }
            })
            .expect("spawning the worker thread")
    }

    /// Sleeps for `duration`, unless the server starts closing meanwhile.
    fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until && !self.queue.is_closing() {
            thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }

    /// Runs the next waiting experiment to its end, if the queue lets it.
    fn step(&self) -> Next {
        if self.queue.paused().is_some() {
            return Next::Sleep;
        }
        if self.catalog.take_checks_due() {
            if let Err(reason) = self.check_pipelines() {
                self.pause(reason);
                return Next::Sleep;
            }
        }
        // Room on the disk first: a command that cannot write fails for the
        // disk's sake, not its own.
        if let Err(reason) = self.room() {
            self.pause(reason);
            return Next::Sleep;
        }
        let control = Control::new();
        // Which executor runs it is the head's to say: the queue hands the
        // head over with the stopper of the executor its definition names.
        let Some(mut record) = self.queue.next(|record| {
            let executor = self.executors.for_definition(&record.definition());
            executor.stoppable().then(|| control.sender.clone())
        }) else {
            return Next::Sleep;
        };
        let id = record.id;
        let definition = record.definition();
        let executor = self.executors.for_definition(&definition);
        log::info!(
            "experiment {id} started (attempt {}, pipeline {}): {}",
            record.attempts,
            record.pipeline,
            record.command
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
            // runs; if it cannot be, nothing runs.
            &mut |handle| {
                record.handle = handle;
                self.store.write_record(&record)?;
                self.queue.update_running(record.clone());
                Ok(())
            },
        );
        let took = started.elapsed();
        record.handle = None;
        let outcome = match outcome {
            // A failure while the disk is full is the disk's.
            Outcome::Failed { error, .. } if self.room().is_err() => Outcome::Retry {
                error: format!("{error}, while {}", self.room().unwrap_err()),
                ran: true,
                lasting: true,
            },
            outcome => outcome,
        };
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
                return Next::Sleep;
            }
            Outcome::Retry {
                error,
                ran,
                lasting,
            } => return self.requeue(record, error, ran, lasting),
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
        if !self.record_end(&record) {
            return Next::Sleep; // closing: the disk still says RUNNING, so it runs again
        }
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
        Next::Run
    }

    /// Puts an experiment the workstation failed back at the head of the
    /// queue; a lasting fault pauses the queue.
    fn requeue(&self, mut record: Record, error: String, ran: bool, lasting: bool) -> Next {
        let id = record.id;
        record.state = State::Queued;
        record.started_at = None;
        if !ran {
            record.attempts = record.attempts.saturating_sub(1);
        }
        record.error = Some(format!("waiting again: {error}"));
        self.persist(&record);
        self.queue.finish(record);
        if lasting {
            self.pause(format!("experiment {id}: {error}"));
            Next::Sleep
        } else {
            log::warn!("experiment {id}: {error}; it is tried again shortly");
            Next::Retry
        }
    }

    /// Writes an experiment's final record, and while the disk refuses it,
    /// pauses the queue and tries again: memory never shows an end the disk
    /// does not have. False if the server closed before it was written.
    fn record_end(&self, record: &Record) -> bool {
        let mut paused = false;
        loop {
            match self.store.write_record(record) {
                Ok(()) => return true,
                // Its directory was replaced or removed (by its own command,
                // most likely): nothing can be recorded there, and that is
                // no reason to hold the queue.
                Err(err) if err.is_experiment_fault() => {
                    log::error!(
                        "experiment {}: its end ({}) cannot be recorded: {err}",
                        record.id,
                        record.state.as_str()
                    );
                    return true;
                }
                Err(err) => {
                    if !paused {
                        paused = true;
                        self.pause(format!(
                            "could not record the end of experiment {} ({}): {err}",
                            record.id,
                            record.state.as_str()
                        ));
                        let mut waiting = self
                            .queue
                            .get(record.id)
                            .map(|view| view.record)
                            .unwrap_or_else(|| record.clone());
                        waiting.error = Some(format!(
                            "it ended {}, which could not be recorded yet: {err}",
                            record.state.as_str()
                        ));
                        self.queue.update_running(waiting);
                    }
                    self.sleep(RECORD_RETRY);
                    if self.queue.is_closing() {
                        return false;
                    }
                }
            }
        }
    }

    /// Runs every pipeline's start-up check; the first that fails says why.
    fn check_pipelines(&self) -> Result<(), String> {
        let mut failed = None;
        for pipeline in &self.catalog.pipelines {
            let Some(line) = &pipeline.check else {
                continue;
            };
            let check = crate::exec::check(pipeline, line, self.store.root());
            if check.passed {
                log::info!("pipeline {}: its check passed", pipeline.name);
            } else {
                log::error!(
                    "pipeline {}: its check failed: {}",
                    pipeline.name,
                    check.detail
                );
                failed.get_or_insert_with(|| {
                    format!(
                        "pipeline {} is not ready: its check failed: {}",
                        pipeline.name, check.detail
                    )
                });
            }
            self.catalog.record_check(&pipeline.name, check);
        }
        failed.map_or(Ok(()), Err)
    }

    /// Whether the experiments' disk has room for a run; why not, in words.
    fn room(&self) -> Result<(), String> {
        match self.store.free_space() {
            Ok(free) if free < self.min_free => Err(format!(
                "the disk holding the experiments has {} free, less than the {} it must keep free (--min-free)",
                crate::store::bytes(free),
                crate::store::bytes(self.min_free)
            )),
            _ => Ok(()),
        }
    }

    /// Pauses the queue because of the workstation, and says so.
    fn pause(&self, reason: String) {
        pause(&self.queue, &self.store, reason);
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

/// Pauses the queue because the workstation is at fault, records the pause
/// and logs it; an existing pause stays.
pub fn pause(queue: &Queue, store: &Store, reason: String) {
    let pause = Pause {
        reason,
        since: Timestamp::now(),
        by: PausedBy::Workstation,
    };
    if !queue.pause(pause.clone()) {
        log::warn!("{} (the queue is paused already)", pause.reason);
        return;
    }
    log::error!(
        "the queue is paused: {}; nothing starts until an operator fixes it and resumes the queue (POST /queue/resume)",
        pause.reason
    );
    if let Err(err) = store.write_pause(Some(&pause)) {
        log::error!("could not record the pause: {err}");
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
/// they are requeued (to run first: their ids are the oldest waiting; only
/// experiments an operator moved to the front meanwhile come before them) or
/// failed, as `--on-interrupt` says.
pub fn recover(store: &Store, scan: &mut Scan, config: &Config, executors: &Executors) -> Recovery {
    let mut recovery = Recovery::default();
    for record in &mut scan.records {
        match record.state {
            State::Queued => recovery.queued += 1,
            State::Running => {
                match executors
                    .for_definition(&record.definition())
                    .recover(record)
                {
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
