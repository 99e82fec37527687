//! The warm executor: a pipeline's processor, started once and fed
//! experiments one at a time.
//!
//! Some tools spend most of a run getting ready: a model loaded onto the GPU,
//! a database's index read into memory. A warm pipeline's command starts once,
//! as a *processor*: it says when it is ready, then takes one request line per
//! experiment on its standard input and answers each with one line on a
//! descriptor of its own (the protocol is in the README). The worker still
//! hands over one experiment at a time, so a request is sent only once the
//! previous answer is in and recorded.
//!
//! Each processor has a runner of its own (`exec::runner`, the process that
//! runs local commands), in its own session at the lowest priority, a child
//! subreaper that dies with the server: a processor has every guarantee a
//! local command has, and stopping it kills its tree and nothing else. The
//! processors not working wait in a pool, at most `--max-warm` alive; a
//! thread of the pool stops one idle for `--warm-idle`.
//!
//! A processor whose state may be corrupt is never fed again: after a
//! timeout, a cancel, a shutdown, a crash or an answer that makes no sense,
//! its tree is killed and the next experiment starts a fresh one. One that
//! cannot start, or does not answer its first request, is the workstation's
//! fault: the experiment waits at the head and the queue pauses. But an
//! experiment that makes a second fresh processor fail its first request is
//! its own fault ([`FRESH_FAILURES`]): it fails, and the queue goes on.
//!
//! Here: the executor and how one request is served; `pool` keeps the
//! processors, `protocol` writes their requests and reads their answers.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::process::Signal as Sig;

mod pool;
mod protocol;

use super::process;
use super::runner::client::Runner;
use super::runner::{Event, Request as Ask, SendRequest};
use super::{Control, Executor, Outcome, Recovered, Run, Settings, Signal, Started};
use crate::metrics::Metrics;
use crate::model::{Id, Record, RunHandle};
use crate::pipeline::{ExecutorKind, Pipeline};
use crate::store::QUERY_FILE;
use pool::{Pool, Processor, Shared};
use protocol::{read_answer, Request, Said};

/// How long a processor may take to say it is ready, unless its pipeline
/// says (`start_timeout`): loading a large model or index takes minutes.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(600);

/// The directory, inside the experiments directory, of the processors'
/// working directories and logs.
pub const WARM_DIR: &str = ".warm";

/// Names, in every processor's environment, the experiments directory whose
/// server started it: what a later server on that directory kills, should
/// the processor outlive its server and its runner.
pub const WARM_VAR: &str = "SEQSPOOL_WARM";

/// Lines of a processor's stderr quoted in an experiment's error.
const TAIL_LINES: usize = 5;

/// Bytes read from the end of a log for those lines.
const TAIL_BYTES: u64 = 4096;

/// Fresh processors one experiment may make fail their first request
/// before it is failed itself. Once may be the processor's or the
/// workstation's (a model that did not load right): the queue pauses. Twice,
/// with an operator's resume in between, is the experiment's: otherwise
/// every resume would run it first again, and pause again.
pub const FRESH_FAILURES: u32 = 2;

/// Runs experiments of warm pipelines on their processors.
pub struct Warm {
    /// seqspool's own binary, which runs as each processor's runner.
    runner_binary: PathBuf,
    /// How long a request may take, unless its pipeline says.
    timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// Most bytes of an experiment's `stdout.txt` and `stderr.txt`, and of a
    /// processor's log before it is renamed `.1`.
    max_output: u64,
    /// Most processors alive at once.
    max_warm: usize,
    /// `experiments/.warm`, absolute: processors run outside the experiments.
    home: PathBuf,
    /// The experiments directory, absolute: the value of [`WARM_VAR`].
    tag: String,
    shared: Arc<Shared>,
    reaper: Option<JoinHandle<()>>,
    /// Where processor starts are counted, by pipeline (`GET /metrics`).
    metrics: Arc<Metrics>,
    /// The experiments that made a fresh processor fail its first request,
    /// and how many times, until they end otherwise (in memory: a restart
    /// gives each one more try).
    fresh_failures: Mutex<HashMap<Id, u32>>,
}

impl Warm {
    pub fn new(config: &Settings, metrics: Arc<Metrics>) -> Warm {
        let experiments =
            std::path::absolute(&config.experiments).unwrap_or_else(|_| config.experiments.clone());
        let shared = Arc::new(Shared {
            pool: Mutex::new(Pool::default()),
            changed: Condvar::new(),
            starts: AtomicU64::new(0),
            idle: config.warm_idle,
            grace: config.shutdown_grace,
        });
        let reaper = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("warm-reaper".into())
                .spawn(move || shared.stop_idle())
                .map_err(|err| log::error!("idle warm processors will not be stopped: {err}"))
                .ok()
        };
        Warm {
            runner_binary: config.runner.clone(),
            timeout: config.timeout,
            grace: config.shutdown_grace,
            max_output: config.max_output,
            max_warm: config.max_warm,
            home: experiments.join(WARM_DIR),
            tag: experiments.display().to_string(),
            shared,
            reaper,
            metrics,
            fresh_failures: Mutex::default(),
        }
    }

    /// At the worker's start: kills what an earlier server on this directory
    /// left of its processors, then starts the processors of the pipelines
    /// that ask for it (`preload`), as many as `--max-warm` allows. Called on
    /// the worker's thread, whose end, like the server's, ends the runners.
    pub fn preload(&self, pipelines: &[Arc<Pipeline>]) {
        if self.home.exists() {
            let killed = process::kill_carrying(&format!("{WARM_VAR}={}", self.tag), self.grace);
            if killed > 0 {
                log::warn!(
                    "killed {killed} process(es) of warm processors an earlier server left running"
                );
            }
        }
        let preloaded = pipelines
            .iter()
            .filter(|p| p.preload && p.definition.executor == ExecutorKind::Warm)
            .take(self.max_warm);
        for pipeline in preloaded {
            match self.start(&pipeline.name, &pipeline.definition) {
                Ok(processor) => self.put_back(processor),
                Err(failure) => log::error!(
                    "pipeline {}: could not preload its processor: {}",
                    pipeline.name,
                    failure.error
                ),
            }
        }
    }

    fn log_of(&self, pipeline: &str) -> PathBuf {
        self.home.join(format!("{pipeline}.log"))
    }

    /// Hands one experiment to `processor` and follows it to its answer.
    fn serve(&self, processor: &mut Processor, run: &Run, receiver: &Receiver<Signal>) -> Served {
        let pipeline = processor.pipeline.clone();
        let first = processor.answered == 0;
        if !processor.ready {
            let allowed = processor
                .definition
                .start_timeout()
                .unwrap_or(DEFAULT_START_TIMEOUT);
            let deadline = processor.started + allowed;
            let why = loop {
                match hear(&processor.runner, receiver, Some(deadline)) {
                    Heard::Said(Event::Answer { line }) => match read_answer(&line) {
                        Said::Ready => break None,
                        _ => {
                            break Some(format!(
                            "it wrote {line:?} before it said it was ready ({{\"ready\": true}})"
                        ))
                        }
                    },
                    Heard::Said(Event::Ended { status, .. }) => {
                        processor.ended = Some(status);
                        break Some(format!(
                            "it {} before it said it was ready",
                            describe(status)
                        ));
                    }
                    Heard::Said(_) => {}
                    Heard::TimedOut => {
                        break Some(format!(
                            "it did not say it was ready within {} s (start_timeout)",
                            allowed.as_secs_f64()
                        ))
                    }
                    heard => return self.stopped(processor, heard),
                }
            };
            if let Some(why) = why {
                self.halt(processor);
                let tail = tail(&self.log_of(&pipeline));
                return Served::retire(
                    Outcome::Retry {
                        error: format!(
                            "pipeline {pipeline}'s processor did not start: {why}{tail}; see {}",
                            self.log_of(&pipeline).display()
                        ),
                        ran: false,
                        lasting: true,
                    },
                    why,
                );
            }
            processor.ready = true;
            log::info!(
                "pipeline {pipeline}: its processor (pid {}) is ready, {:.1} s after it started",
                processor.instance.pid,
                processor.started.elapsed().as_secs_f64()
            );
        }

        let dir = std::path::absolute(run.dir).unwrap_or_else(|_| run.dir.to_owned());
        let record = run.record;
        let line = serde_json::to_string(&Request {
            id: record.id,
            dir: &dir,
            query: dir.join(QUERY_FILE),
            query_name: &record.query_name,
            pipeline: &pipeline,
            params: &record.params,
            attempt: record.attempts,
        })
        .expect("requests serialize");
        let asked = processor.runner.ask(&Ask::Send(SendRequest {
            line,
            dir: dir.clone(),
            max_output: self.max_output,
        }));
        if asked.is_err() {
            return self.stopped(processor, Heard::Lost);
        }
        let timeout = processor.definition.timeout().or(self.timeout);
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let why = loop {
            match hear(&processor.runner, receiver, deadline) {
                Heard::Said(Event::Answer { line }) => match read_answer(&line) {
                    Said::Done { id, result } if id == record.id.to_string() => {
                        processor.answered += 1;
                        return Served::keep(match result {
                            Ok(()) => Outcome::Complete { exit_code: None },
                            Err(error) => Outcome::Failed {
                                exit_code: None,
                                signal: None,
                                error: format!("the processor said: {error}"),
                            },
                        });
                    }
                    // Said again: nothing to do.
                    Said::Ready => {}
                    Said::Done { id, .. } => {
                        break format!(
                            "answered for experiment {id} while it worked on {}",
                            record.id
                        )
                    }
                    Said::Nonsense(why) => {
                        break format!("answered {line:?}, which does not read: {why}")
                    }
                },
                Heard::Said(Event::Ended { status, .. }) => {
                    processor.ended = Some(status);
                    break format!("{} while it worked on it", describe(status));
                }
                Heard::Said(Event::Refused { errno, message }) => {
                    let err = io::Error::from_raw_os_error(errno);
                    return Served::retire(
                        super::not_begun(
                            format!("the request could not be handed to the processor: {message}"),
                            errno != 0 && crate::error::passes(&err),
                        ),
                        format!("its request was refused: {message}"),
                    );
                }
                Heard::Said(Event::Started { .. }) => {}
                Heard::TimedOut => {
                    break format!(
                        "timed out after {} s and was stopped",
                        timeout.map_or(0.0, |t| t.as_secs_f64())
                    )
                }
                heard => return self.stopped(processor, heard),
            }
        };
        // Whatever state it is in, it is not fed again.
        self.halt(processor);
        let tail = tail(&dir.join("stderr.txt"));
        let fresh_failures = first.then(|| self.failed_fresh(record.id));
        let outcome = if fresh_failures.is_some_and(|n| n < FRESH_FAILURES) {
            Outcome::Retry {
                error: format!(
                    "pipeline {pipeline}'s processor did not answer its first request: it {why}{tail}; see {}",
                    self.log_of(&pipeline).display()
                ),
                ran: true,
                lasting: true,
            }
        } else if let Some(times) = fresh_failures {
            let status = processor.ended.map(ExitStatus::from_raw);
            Outcome::Failed {
                exit_code: status.and_then(|s| s.code()),
                signal: status.and_then(|s| s.signal()),
                error: format!(
                    "pipeline {pipeline}'s processor did not answer its first request: it {why}{tail}; \
                     this experiment has now failed {times} freshly started processors, so it is \
                     failed and the queue goes on; see {}",
                    self.log_of(&pipeline).display()
                ),
            }
        } else {
            let status = processor.ended.map(ExitStatus::from_raw);
            Outcome::Failed {
                exit_code: status.and_then(|s| s.code()),
                signal: status.and_then(|s| s.signal()),
                error: format!(
                    "pipeline {pipeline}'s processor {why}{tail}; a new one starts for the next experiment"
                ),
            }
        };
        Served::retire(outcome, why)
    }

    /// Counts one more fresh processor that experiment `id` made fail its
    /// first request, and says how many it has made fail.
    fn failed_fresh(&self, id: Id) -> u32 {
        let mut failures = self
            .fresh_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let times = failures.entry(id).or_default();
        *times += 1;
        let times = *times;
        if times >= FRESH_FAILURES {
            failures.remove(&id);
        }
        times
    }

    /// The end of a request that was cancelled, interrupted by a shutdown, or
    /// whose runner was lost: the processor's tree is killed either way.
    fn stopped(&self, processor: &mut Processor, heard: Heard) -> Served {
        let (outcome, why) = match heard {
            Heard::Cancel => (Outcome::Canceled, "its experiment was canceled"),
            Heard::Shutdown => (Outcome::Interrupted, "the server is stopping"),
            _ => {
                processor.runner.kill();
                process::kill_marked(&processor.mark, self.grace);
                processor.ended.get_or_insert(Sig::KILL.as_raw());
                let outcome = super::not_begun(
                    "seqspool's runner of the processor ended while it worked; see the server's log"
                        .into(),
                    false,
                );
                return Served::retire(outcome, "its runner ended".into());
            }
        };
        self.halt(processor);
        Served::retire(outcome, why.into())
    }

    /// Kills the processor's tree and waits for the runner to say it has ended.
    fn halt(&self, processor: &mut Processor) {
        processor.halt(self.grace);
    }
}

impl Executor for Warm {
    fn stoppable(&self) -> bool {
        true
    }

    fn run(&self, run: &Run, control: Control, started: &mut Started) -> Outcome {
        let definition = run.record.definition();
        if let Err(outcome) = super::command_of(&definition) {
            return outcome;
        }
        if !fs::symlink_metadata(run.dir).is_ok_and(|meta| meta.is_dir()) {
            return super::vanished("nothing was run");
        }
        // The logs exist from the start of the run, empty until the processor writes.
        for log in ["stdout.txt", "stderr.txt"] {
            if let Err(err) = fs::File::create(run.dir.join(log)) {
                return super::not_begun(
                    format!("could not make its {log}: {err}"),
                    crate::error::passes(&err),
                );
            }
        }
        let mut processor = match self.take(&run.record.pipeline, &definition) {
            Ok(processor) => processor,
            Err(failure) => return super::not_begun(failure.error, failure.passing),
        };
        // Recorded first: a request the server dies before recording was never sent.
        if let Err(err) = started(Some(processor.handle())) {
            self.put_back(processor);
            return super::unrecorded(&err);
        }
        let Control { sender, receiver } = control;
        processor.runner.heard.lock().listener = Some(sender);
        let served = self.serve(&mut processor, run, &receiver);
        processor.runner.heard.lock().listener = None;
        if !matches!(served.outcome, Outcome::Retry { .. }) {
            // It ended some other way: what it did to fresh processors is past.
            self.fresh_failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&run.record.id);
        }
        match served.retire {
            None => self.put_back(processor),
            Some(why) => {
                processor.stop(self.grace, &format!("experiment {}: {why}", run.record.id))
            }
        }
        served.outcome
    }

    fn recover(&self, record: &Record, _dir: &Path) -> Recovered {
        if let Some(RunHandle::Warm(run)) = record.handle.as_deref() {
            let killed = process::kill_run(&run.runner, self.grace);
            if killed > 0 {
                log::warn!(
                    "experiment {}: killed {killed} process(es) of the warm processor that ran it (pid {}, started {})",
                    record.id,
                    run.processor.pid,
                    run.processor.started_at
                );
            }
        }
        Recovered::Requeue
    }
}

/// Why a processor could not be had.
struct Failure {
    error: String,
    /// The fault passes by itself (out of descriptors or processes for a moment).
    passing: bool,
}

/// How a request ended, and whether its processor may be fed again.
struct Served {
    outcome: Outcome,
    /// Why the processor must go, if it must.
    retire: Option<String>,
}

impl Served {
    fn keep(outcome: Outcome) -> Served {
        Served {
            outcome,
            retire: None,
        }
    }

    fn retire(outcome: Outcome, why: String) -> Served {
        Served {
            outcome,
            retire: Some(why),
        }
    }
}

/// What a wait on a processor brought.
enum Heard {
    Said(Event),
    Cancel,
    Shutdown,
    TimedOut,
    /// Its runner is gone.
    Lost,
}

/// Waits until the processor's runner says something, the run is told
/// something, or `deadline` passes.
fn hear(runner: &Runner, receiver: &Receiver<Signal>, deadline: Option<Instant>) -> Heard {
    loop {
        {
            let mut heard = runner.heard.lock();
            if let Some(event) = heard.events.pop_front() {
                return Heard::Said(event);
            }
            if heard.gone {
                return Heard::Lost;
            }
        }
        let signal = match deadline {
            Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match signal {
            Ok(Signal::Changed) => {}
            Ok(Signal::Cancel) => return Heard::Cancel,
            Ok(Signal::Shutdown) => return Heard::Shutdown,
            Err(RecvTimeoutError::Timeout) => return Heard::TimedOut,
            // The runner's listener holds a sender while a run waits: not expected.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn describe(status: i32) -> String {
    process::describe(ExitStatus::from_raw(status))
}

/// The last lines of a log, for an error: what a processor said as it failed.
fn tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        let length = file.seek(io::SeekFrom::End(0))?;
        file.seek(io::SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let text = read().unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("[seqspool"))
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let last = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    format!("; its last words: {}", last.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_log_skips_seqspools_own_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("stderr.txt");
        assert_eq!(tail(&log), "");
        fs::write(
            &log,
            "a\n\nb\n[seqspool: killed 1 process(es)]\nc\nd\ne\nf\n",
        )
        .unwrap();
        assert_eq!(tail(&log), "; its last words: b | c | d | e | f");
    }
}
