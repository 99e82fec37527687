//! The processors: the pool of those alive and idle, taking one for an
//! experiment (or starting one, once there is room under `--max-warm`),
//! putting it back, the thread that stops one idle too long, and what a
//! processor itself does (say whether it is fit to be fed, halt, stop).

use std::fs;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::process::Signal as Sig;

use super::protocol::{read_answer, Said};
use super::{describe, Failure, Warm, WARM_VAR};
use crate::exec::process;
use crate::exec::runner::client::{Runner, RUNNER_MARGIN};
use crate::exec::runner::{Event, Request as Ask, StartRequest};
use crate::model::{Processor as Instance, RunHandle, WarmRun};
use crate::pipeline::{self, Definition, Params};
use crate::time::Timestamp;

/// What the executor and the thread that stops idle processors share.
pub(super) struct Shared {
    pub(super) pool: Mutex<Pool>,
    /// Told when the pool changes or closes.
    pub(super) changed: Condvar,
    /// Processors started since the server started: each one's serial
    /// number, in its mark.
    pub(super) starts: AtomicU64,
    /// How long one may stay idle.
    pub(super) idle: Duration,
    pub(super) grace: Duration,
}

/// The processors alive and not working.
#[derive(Default)]
pub(super) struct Pool {
    pub(super) idle: Vec<Processor>,
    /// Idle too long, being stopped by the reaper: alive still, so counted
    /// against `--max-warm`.
    pub(super) stopping: usize,
    /// The server is stopping: nothing goes back into the pool.
    pub(super) closing: bool,
}

/// A warm processor: a runner, and the processor it keeps.
pub(super) struct Processor {
    pub(super) pipeline: Arc<str>,
    /// What it was started as; an experiment accepted with another definition
    /// of its pipeline gets a processor of its own.
    pub(super) definition: Arc<Definition>,
    pub(super) runner: Runner,
    pub(super) instance: Instance,
    /// The mark every process of its tree carries.
    pub(super) mark: String,
    pub(super) started: Instant,
    pub(super) ready: bool,
    /// Requests it has answered.
    pub(super) answered: u64,
    /// Its wait status, once it has ended.
    pub(super) ended: Option<i32>,
    /// It said something it should not have: it is not fed again.
    pub(super) confused: bool,
    /// When it last finished a request (or started), for the idle time.
    pub(super) last_used: Instant,
}

impl Warm {
    /// The processor for an experiment of `pipeline` run as `definition`: the
    /// idle one, if it is still fit, or a new one, once the pool has room.
    pub(super) fn take(
        &self,
        pipeline: &str,
        definition: &Arc<Definition>,
    ) -> Result<Processor, Failure> {
        let mut pool = self.shared.lock();
        if let Some(at) = pool.idle.iter().position(|p| &*p.pipeline == pipeline) {
            let mut processor = pool.idle.remove(at);
            let why = if !processor.is_fit() {
                match processor.ended {
                    Some(status) => format!("it had {}", describe(status)),
                    None => "it is not fit to be fed again".to_owned(),
                }
            } else if processor.definition != *definition {
                "this experiment was accepted with another definition of its pipeline".to_owned()
            } else {
                return Ok(processor);
            };
            processor.stop(self.grace, &why);
        }
        // Room for one more: the one idle longest goes first; one the reaper
        // is stopping is waited for.
        while pool.idle.len() + pool.stopping >= self.max_warm {
            let Some(oldest) = (0..pool.idle.len()).min_by_key(|&n| pool.idle[n].last_used) else {
                pool = self
                    .shared
                    .changed
                    .wait(pool)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            };
            let processor = pool.idle.remove(oldest);
            processor.stop(
                self.grace,
                &format!(
                    "making room for pipeline {pipeline}'s (--max-warm {})",
                    self.max_warm
                ),
            );
        }
        drop(pool);
        self.start(pipeline, definition)
    }

    /// Puts a processor that is fit to be fed again back into the pool.
    pub(super) fn put_back(&self, mut processor: Processor) {
        let mut pool = self.shared.lock();
        if pool.closing {
            drop(pool);
            processor.stop(self.grace, "the server is stopping");
            return;
        }
        processor.last_used = Instant::now();
        pool.idle.push(processor);
        self.shared.changed.notify_all();
    }

    /// Starts a processor for `pipeline` run as `definition`, in a runner of its own.
    pub(super) fn start(
        &self,
        pipeline: &str,
        definition: &Arc<Definition>,
    ) -> Result<Processor, Failure> {
        let Some(command) = definition.command.clone() else {
            return Err(Failure {
                error: format!("pipeline {pipeline} names no command to run"),
                passing: false,
            });
        };
        let dir = self.home.join(pipeline);
        fs::create_dir_all(&dir).map_err(|err| Failure {
            error: format!("could not make {}: {err}", dir.display()),
            passing: crate::error::passes(&err),
        })?;
        let mut runner = Runner::start(
            &self.runner_binary,
            &format!("pipeline {pipeline}'s warm processor"),
        )
        .map_err(|err| Failure {
            error: format!("could not start a runner for pipeline {pipeline}'s processor: {err}"),
            passing: crate::error::passes(&err),
        })?;
        let serial = self.shared.starts.fetch_add(1, Ordering::Relaxed) + 1;
        let mark = format!("{}/warm/{pipeline}/{serial}", process::server_mark());
        let mut env = pipeline::environment(pipeline, definition, &Params::new());
        env.push((WARM_VAR.into(), self.tag.clone()));
        let (tell, told) = mpsc::channel();
        runner.heard.lock().listener = Some(tell);
        let started_at = Timestamp::now();
        let started = Instant::now();
        let asked = runner.ask(&Ask::Start(StartRequest {
            dir,
            command: command.clone(),
            env,
            log: self.log_of(pipeline),
            max_log: self.max_output,
            grace_ms: self.grace.as_millis() as u64,
            mark: mark.clone(),
        }));
        let lost = || Failure {
            error: format!(
                "the runner of pipeline {pipeline}'s processor ended before it started it"
            ),
            passing: false,
        };
        if asked.is_err() {
            return Err(lost());
        }
        // The runner answers at once: started, or refused.
        let deadline = Instant::now() + RUNNER_MARGIN;
        let pid = loop {
            let event = runner.heard.lock().events.pop_front();
            match event {
                Some(Event::Started { pid }) => break pid,
                Some(Event::Refused { errno, message }) => {
                    return Err(Failure {
                        error: format!(
                            "could not start pipeline {pipeline}'s processor: {message}"
                        ),
                        passing: errno != 0
                            && crate::error::passes(&io::Error::from_raw_os_error(errno)),
                    })
                }
                Some(_) => {}
                None if runner.heard.lock().gone || Instant::now() >= deadline => {
                    runner.kill();
                    return Err(lost());
                }
                None => {
                    let _ = told.recv_timeout(deadline.saturating_duration_since(Instant::now()));
                }
            }
        };
        runner.heard.lock().listener = None;
        self.metrics.warm_processor_started(pipeline);
        log::info!("pipeline {pipeline}: started its warm processor (pid {pid}, start {serial} since the server started): {command}");
        Ok(Processor {
            pipeline: pipeline.into(),
            definition: definition.clone(),
            runner,
            instance: Instance { pid, started_at },
            mark,
            started,
            ready: false,
            answered: 0,
            ended: None,
            confused: false,
            last_used: Instant::now(),
        })
    }
}

impl Drop for Warm {
    /// Stops the idle processors (the working one was stopped by its run's shutdown).
    fn drop(&mut self) {
        let idle = {
            let mut pool = self.shared.lock();
            pool.closing = true;
            std::mem::take(&mut pool.idle)
        };
        self.shared.changed.notify_all();
        if let Some(reaper) = self.reaper.take() {
            let _ = reaper.join();
        }
        for processor in idle {
            processor.stop(self.grace, "the server is stopping");
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reaper's loop: stops each processor idle for longer than allowed,
    /// until the pool closes.
    pub(super) fn stop_idle(&self) {
        let mut pool = self.lock();
        loop {
            if pool.closing {
                return;
            }
            let now = Instant::now();
            if let Some(at) = pool
                .idle
                .iter()
                .position(|p| now.duration_since(p.last_used) >= self.idle)
            {
                // Stopped with the pool free (a run puts its processor back
                // at once), and counted, so a new one waits for the room.
                let processor = pool.idle.remove(at);
                pool.stopping += 1;
                drop(pool);
                processor.stop(
                    self.grace,
                    &format!(
                        "it was idle for {} s (--warm-idle)",
                        self.idle.as_secs_f64()
                    ),
                );
                pool = self.lock();
                pool.stopping -= 1;
                self.changed.notify_all();
                continue;
            }
            let next = pool.idle.iter().map(|p| p.last_used + self.idle).min();
            pool = match next {
                Some(at) => {
                    self.changed
                        .wait_timeout(pool, at.saturating_duration_since(now))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.changed.wait(pool).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

impl Processor {
    /// What the record says of the run: the runner's session, the
    /// processor's mark, and which processor it is.
    pub(super) fn handle(&self) -> RunHandle {
        let mut runner = self.runner.identity.clone();
        runner.mark = Some(self.mark.clone());
        RunHandle::Warm(WarmRun {
            runner,
            processor: self.instance.clone(),
        })
    }

    /// Reads what it said while it waited in the pool, and says whether it
    /// may be fed: still running, and it said nothing it should not have.
    pub(super) fn is_fit(&mut self) -> bool {
        loop {
            let event = self.runner.heard.lock().events.pop_front();
            match event {
                None => break,
                Some(Event::Ended { status, .. }) => self.ended = Some(status),
                Some(Event::Answer { line }) => match read_answer(&line) {
                    Said::Ready if !self.ready => {
                        self.ready = true;
                        log::info!(
                            "pipeline {}: its processor (pid {}) is ready",
                            self.pipeline,
                            self.instance.pid
                        );
                    }
                    _ => {
                        log::warn!(
                            "pipeline {}: its processor (pid {}) said {line:?} while it had no request",
                            self.pipeline,
                            self.instance.pid
                        );
                        self.confused = true;
                    }
                },
                Some(_) => {}
            }
        }
        self.ended.is_none() && !self.confused && self.runner.is_alive()
    }

    /// Kills its tree (SIGTERM, then SIGKILL after `grace`), unless it has
    /// ended already, and waits until the runner says it has.
    pub(super) fn halt(&mut self, grace: Duration) {
        let _ = self.is_fit();
        if self.ended.is_some() {
            return;
        }
        let (tell, told) = mpsc::channel();
        self.runner.heard.lock().listener = Some(tell);
        let deadline = Instant::now() + grace + RUNNER_MARGIN;
        let mut asked = self.runner.ask(&Ask::Stop).is_ok();
        while asked && self.ended.is_none() {
            if self.runner.heard.lock().gone || Instant::now() >= deadline {
                asked = false;
                break;
            }
            let _ = told.recv_timeout(Duration::from_millis(100));
            let _ = self.is_fit();
        }
        self.runner.heard.lock().listener = None;
        if !asked {
            log::warn!(
                "pipeline {}: the runner of its processor (pid {}) did not stop it; killing both",
                self.pipeline,
                self.instance.pid
            );
            self.runner.kill();
            process::kill_marked(&self.mark, grace);
            self.ended = Some(Sig::KILL.as_raw());
        }
    }

    /// Stops it for good, and says why.
    pub(super) fn stop(mut self, grace: Duration, why: &str) {
        self.halt(grace);
        log::info!(
            "pipeline {}: stopped its warm processor (pid {}, started {}, {} request(s) answered): {why}",
            self.pipeline,
            self.instance.pid,
            self.instance.started_at,
            self.answered
        );
        // Dropping the runner ends it.
    }
}
