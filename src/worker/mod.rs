//! The one OS thread that processes experiments, strictly one run at a time, in order.
//!
//! It takes the oldest waiting experiment from the queue, hands it to its
//! executor, waits for the end, and only then takes the next; a pipeline
//! with `group` lets one run serve the head and the experiments right behind
//! it that want the same search (`group`, the grouped run). When none is
//! waiting, or the queue is paused, it sleeps until woken (by the intake, or
//! by a resume). One at a time by construction: no other thread starts
//! anything. It also settles, at start, the experiments a crash or a shutdown
//! interrupted, through the executor that ran them.
//!
//! A Slurm pipeline may allow several of its jobs in flight at once
//! (`max_running`). The worker still decides every start, in order: the head
//! starts when every run in flight is of its pipeline and there are fewer
//! than its `max_running`; anything else (a local command, the built-in
//! analysis, another pipeline) waits until nothing is in flight. A run that
//! may have company runs on a thread of its own and reports its end; one
//! that may not runs on the worker's thread, as it always did. Runs that
//! recovery re-attached (Slurm jobs that outlived the server) are followed
//! first, each on its own thread, and count as in flight.
//!
//! A fault of the workstation (the disk is full, a program is missing) is
//! never the experiment's: it goes back to the head of the queue, and the
//! queue pauses with the reason until an operator resumes it.

use std::sync::mpsc::{self as channel, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;

use crate::config::{Config, OnInterrupt};
use crate::exec::{Control, Executors, Outcome, Recovered, Run};
use crate::model::{Id, Pause, PausedBy, Record, RunHandle, State};
use crate::pipeline::{Catalog, ExecutorKind};
use crate::queue::Queue;
use crate::store::{Scan, Store};
use crate::time::Timestamp;

mod group;

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
    /// Told of each end once it is recorded.
    pub notifier: Arc<crate::notify::Notifier>,
}

/// What the worker does after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    /// Takes the next experiment at once.
    Run,
    /// Sleeps until woken: nothing waits, or the queue is paused.
    Sleep,
    /// Tries the same experiment again after a while.
    Retry,
}

/// What the worker thread hears while it waits.
enum Event {
    /// The intake or a resume woke it.
    Woken,
    /// Every sender of the wake-up channel is gone.
    Closed,
    /// A run on a thread of its own ended; what the worker does next.
    Ended { id: Id, next: Next },
}

/// A run in flight, as the worker's starts see it.
struct InFlight {
    id: Id,
    pipeline: Arc<str>,
    executor: ExecutorKind,
}

/// Removes the run of `id` that ended: the oldest of that id, should the
/// experiment have gone back to the head and started again before its end
/// was heard.
fn forget(in_flight: &mut Vec<InFlight>, id: Id) {
    if let Some(at) = in_flight.iter().position(|run| run.id == id) {
        in_flight.remove(at);
    }
}

impl Worker {
    /// Starts the thread. It follows the runs recovery re-attached, runs
    /// whatever is waiting, oldest first, and then sleeps until `wake` says
    /// more has come; it ends when the queue closes or every sender of `wake`
    /// is gone, once the runs in flight have ended.
    pub fn spawn(self, mut wake: Receiver<()>) -> JoinHandle<()> {
        let worker = Arc::new(self);
        thread::Builder::new()
            .name("worker".into())
            .spawn(move || {
                // On this thread: a runner started here is told when the
                // thread that started it ends (PR_SET_PDEATHSIG), and this
                // one lasts as long as the server.
                worker.executors.prepare(&worker.catalog);
                let (events, heard) = channel::channel();
                let woken = events.clone();
                // The wake-up channel is tokio's; runs end on a std channel:
                // this thread joins the one to the other.
                let forwarded =
                    thread::Builder::new()
                        .name("worker-wake".into())
                        .spawn(move || {
                            while wake.blocking_recv().is_some() {
                                if woken.send(Event::Woken).is_err() {
                                    return;
                                }
                            }
                            let _ = woken.send(Event::Closed);
                        });
                if let Err(err) = forwarded {
                    log::error!("could not start the worker's wake-up thread: {err}");
                    return;
                }
                worker.serve(&events, &heard);
            })
            .expect("spawning the worker thread")
    }

    /// The worker's loop: starts what may start, then waits for a wake-up,
    /// the end of a run, or the end of a back-off.
    fn serve(self: &Arc<Self>, events: &channel::Sender<Event>, heard: &channel::Receiver<Event>) {
        let mut in_flight = self.follow_reattached(events);
        let mut backoff = FIRST_BACKOFF;
        let mut retry_at: Option<Instant> = None;
        let mut closed = false;
        while !self.queue.is_closing() && !closed {
            if retry_at.is_none_or(|at| Instant::now() >= at) {
                retry_at = None;
                match self.step(&mut in_flight, events) {
                    Next::Run => {
                        backoff = FIRST_BACKOFF;
                        continue;
                    }
                    Next::Retry => {
                        retry_at = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Next::Sleep => {}
                }
            }
            let event = match retry_at {
                Some(at) => heard.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => heard.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Woken) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => closed = true,
                Ok(Event::Ended { id, next }) => {
                    forget(&mut in_flight, id);
                    if next == Next::Retry {
                        retry_at = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        // Closing: the queue told every run in flight; wait for their ends.
        while !in_flight.is_empty() {
            match heard.recv() {
                Ok(Event::Ended { id, .. }) => forget(&mut in_flight, id),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// Starts following, each on a thread of its own, the runs recovery
    /// re-attached, oldest first; they are in flight from now on.
    fn follow_reattached(self: &Arc<Self>, events: &channel::Sender<Event>) -> Vec<InFlight> {
        let mut controls: Vec<(Option<Id>, Control)> = Vec::new();
        let reattached = self.queue.take_reattached(|record| {
            // The members of a group share one run, and so one control.
            let group = record.group.filter(|g| g.size > 1).map(|g| g.id);
            if let Some(shared) = controls
                .iter()
                .find(|(of, _)| group.is_some() && *of == group)
            {
                return Some(shared.1.sender.clone());
            }
            let control = Control::new();
            let sender = control.sender.clone();
            controls.push((group, control));
            Some(sender)
        });
        let mut runs: Vec<Vec<Record>> = Vec::new();
        for record in reattached {
            let group = record.group.filter(|g| g.size > 1).map(|g| g.id);
            match runs.iter_mut().find(|run| {
                group.is_some() && run[0].group.filter(|g| g.size > 1).map(|g| g.id) == group
            }) {
                Some(run) => run.push(record),
                None => runs.push(vec![record]),
            }
        }
        let mut in_flight = Vec::new();
        for (members, (_, control)) in runs.into_iter().zip(controls) {
            in_flight.push(InFlight {
                id: members[0].id,
                pipeline: members[0].pipeline.clone(),
                executor: members[0].definition().executor,
            });
            self.spawn_run(members, control, true, events, None);
        }
        in_flight
    }

    /// Runs `members` (one experiment, or a group) on a thread of its own,
    /// which reports its end on `events`, and its beginning (its handle
    /// recorded) on `begun`.
    fn spawn_run(
        self: &Arc<Self>,
        members: Vec<Record>,
        control: Control,
        reattached: bool,
        events: &channel::Sender<Event>,
        begun: Option<channel::Sender<()>>,
    ) {
        let id = members[0].id;
        let kept = members.clone();
        let worker = self.clone();
        let ended = events.clone();
        let spawned = thread::Builder::new()
            .name(format!("run-{id}"))
            .spawn(move || {
                let next = worker.run_members(members, control, reattached, begun);
                let _ = ended.send(Event::Ended { id, next });
            });
        if let Err(err) = spawned {
            let next = if reattached {
                // Still RUNNING on disk with its handle: the next start follows it.
                log::error!("experiment {id}: could not start following it: {err}");
                Next::Sleep
            } else {
                let mut next = Next::Sleep;
                for record in kept {
                    next = self.requeue(
                        record,
                        format!("could not start a thread for it: {err}"),
                        false,
                        false,
                    );
                }
                next
            };
            let _ = events.send(Event::Ended { id, next });
        }
    }

    /// Runs one experiment, or the group `members` make, to its end.
    fn run_members(
        &self,
        mut members: Vec<Record>,
        control: Control,
        reattached: bool,
        begun: Option<channel::Sender<()>>,
    ) -> Next {
        if members.len() == 1 && members[0].group.is_none_or(|g| g.size <= 1) {
            let record = members.pop().expect("one member");
            return self.run(record, control, reattached, begun);
        }
        self.run_group(members, control, reattached, begun)
    }

    /// Sleeps for `duration`, unless the server starts closing meanwhile.
    fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until && !self.queue.is_closing() {
            thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }

    /// Starts the next waiting experiment, if the queue and the runs in
    /// flight let it: on the worker's thread, to its end, when it runs alone;
    /// on a thread of its own when others of its pipeline may join it.
    fn step(
        self: &Arc<Self>,
        in_flight: &mut Vec<InFlight>,
        events: &channel::Sender<Event>,
    ) -> Next {
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
        let mut alone = true;
        // Which executor runs it is the head's to say: the queue hands the
        // head over with the stopper of the executor its definition names,
        // if the runs in flight let it start.
        let Some(members) = self.queue.next_group(|head| {
            let definition = head.definition();
            let max_running = definition.max_running();
            let joins = in_flight
                .iter()
                .all(|run| run.pipeline == head.pipeline && run.executor == definition.executor);
            if !(joins && in_flight.len() < max_running) {
                return None;
            }
            alone = max_running == 1;
            let executor = self.executors.for_definition(&definition);
            Some(executor.stoppable().then(|| control.sender.clone()))
        }) else {
            return Next::Sleep;
        };
        if alone {
            return self.run_members(members, control, false, None);
        }
        in_flight.push(InFlight {
            id: members[0].id,
            pipeline: members[0].pipeline.clone(),
            executor: members[0].definition().executor,
        });
        // The next may start only once this one has begun (its job
        // submitted and recorded), or ended: submissions keep the queue's order.
        let (begun, beginning) = channel::channel();
        self.spawn_run(members, control, false, events, Some(begun));
        match beginning.recv() {
            Ok(()) => Next::Run,
            // It ended before it began: its end, on its way, says what next.
            Err(_) => Next::Sleep,
        }
    }

    /// Runs one experiment the queue handed over (or follows one recovery
    /// re-attached) to its end, and records how it ended. `begun` hears
    /// when its start is recorded.
    fn run(
        &self,
        mut record: Record,
        control: Control,
        reattached: bool,
        mut begun: Option<channel::Sender<()>>,
    ) -> Next {
        let id = record.id;
        let definition = record.definition();
        let executor = self.executors.for_definition(&definition);
        if reattached {
            log::info!(
                "experiment {id} re-attached (attempt {}, pipeline {}): {}",
                record.attempts,
                record.pipeline,
                record.command
            );
        } else {
            log::info!(
                "experiment {id} started (attempt {}, pipeline {}): {}",
                record.attempts,
                record.pipeline,
                record.command
            );
        }
        let started = Instant::now();
        let dir = self.store.dir(id);
        let running = record.clone();
        let run = Run {
            record: &running,
            dir: &dir,
            size: 1,
        };
        let outcome = {
            // RUNNING is written with the executor's handle before anything
            // runs; if it cannot be, nothing runs.
            let mut record_start = |handle: Option<RunHandle>| {
                record.processor = handle
                    .as_ref()
                    .and_then(|h| h.processor())
                    .cloned()
                    .map(Box::new);
                record.handle = handle.map(Box::new);
                self.store.write_record(&record)?;
                self.queue.update_running(record.clone());
                if let Some(begun) = begun.take() {
                    let _ = begun.send(());
                }
                Ok(())
            };
            executor.drive(reattached, &run, control, &mut record_start)
        };
        let took = started.elapsed();
        if outcome == Outcome::Detached {
            // Still RUNNING on disk, with its handle: the next start re-attaches to it.
            self.queue.finish(record);
            log::info!(
                "experiment {id} left running without the server after {:.1} s",
                took.as_secs_f64()
            );
            return Next::Sleep;
        }
        record.handle = None;
        let outcome = self.disk_fault(outcome);
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
            Outcome::Detached => unreachable!("a detached run was dealt with above"),
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
        record.group = None;
        record.handle = None;
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
                Ok(()) => {
                    // Only an end on disk is told: a crash before this runs it again.
                    self.notifier.ended(record);
                    return true;
                }
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
        for pipeline in self.catalog.pipelines().iter() {
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

    /// A run's failure while the disk is full is the disk's, not the
    /// experiment's: it runs again once there is room.
    fn disk_fault(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Failed { error, .. } if self.room().is_err() => Outcome::Retry {
                error: format!("{error}, while {}", self.room().unwrap_err()),
                ran: true,
                lasting: true,
            },
            outcome => outcome,
        }
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
        operator: None,
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
    /// Runs that outlived the server (Slurm jobs), followed again.
    pub reattached: usize,
    /// Why the queue should pause: an executor could not tell what became
    /// of a run (the cluster does not answer).
    pub pause: Option<String>,
}

/// Settles what the scan found before anything runs: experiments found RUNNING
/// were interrupted; their executor deals with what is left of the run, and
/// they are requeued (to run first: their ids are the oldest waiting) or
/// failed, as `--on-interrupt` says (only experiments an operator moved to
/// the front meanwhile come before them), unless their run outlived the server
/// (a Slurm job): those stay RUNNING, and the worker follows them first.
pub fn recover(store: &Store, scan: &mut Scan, config: &Config, executors: &Executors) -> Recovery {
    let mut recovery = Recovery::default();
    // The members of a group share one run: it is settled once, for all.
    let mut groups: Vec<(Id, Recovered)> = Vec::new();
    for record in &mut scan.records {
        match record.state {
            State::Queued => recovery.queued += 1,
            State::Running => {
                let group = record.group.filter(|group| group.size > 1).map(|g| g.id);
                let known = groups
                    .iter()
                    .find(|(of, _)| Some(*of) == group)
                    .map(|(_, recovered)| recovered.clone());
                let recovered = match (known, group) {
                    (Some(recovered), _) => recovered,
                    (None, Some(group)) => {
                        let recovered = executors
                            .for_definition(&record.definition())
                            .recover(record, &store.group_dir(group));
                        groups.push((group, recovered.clone()));
                        recovered
                    }
                    (None, None) => executors
                        .for_definition(&record.definition())
                        .recover(record, &store.dir(record.id)),
                };
                let on_interrupt = match recovered {
                    Recovered::Reattach { pause } => {
                        recovery.reattached += 1;
                        if let Some(reason) = pause {
                            recovery.pause.get_or_insert(reason);
                        }
                        continue;
                    }
                    // Nothing ran: it waits again, whatever the operator chose for interruptions.
                    Recovered::NeverRan => {
                        record.attempts = record.attempts.saturating_sub(1);
                        OnInterrupt::Requeue
                    }
                    Recovered::Requeue => config.on_interrupt,
                };
                record.handle = None;
                match on_interrupt {
                    OnInterrupt::Requeue => {
                        record.state = State::Queued;
                        record.error = None;
                        // It forms a group afresh when it reaches the head.
                        record.group = None;
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
    // What interrupted groups left; those followed again keep theirs.
    let followed: Vec<Id> = scan
        .records
        .iter()
        .filter(|record| record.state == State::Running)
        .filter_map(|record| record.group.map(|group| group.id))
        .collect();
    store.clear_groups(&followed);
    recovery
}
