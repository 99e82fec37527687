//! The poller: one thread that asks Slurm about every job seqspool follows,
//! in one `squeue` call per interval, and tells each run when what Slurm
//! says of its job has changed.
//!
//! A run registers its job with [`Poller::watch`] and reads the latest word
//! with [`Watch::seen`]; it is woken by [`Signal::Changed`] on its own
//! channel. The thread runs only while some job is watched, so an idle server
//! asks the controller nothing.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use super::cli::{self, JobStatus};
use crate::exec::Signal;

/// What the last poll said of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Slurm knows it, in this state.
    Known(JobStatus),
    /// Slurm answered and no longer knows it (a controller without
    /// accounting forgets a finished job after its MinJobAge).
    Gone,
}

/// Follows the jobs of one server.
pub struct Poller {
    interval: Duration,
    state: Mutex<State>,
    /// Wakes the thread before its interval is up.
    tick: Condvar,
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<u64, Watched>,
    /// Whether the thread runs.
    polling: bool,
    /// Why the last poll failed, while the controller does not answer.
    unreachable: Option<String>,
}

struct Watched {
    tell: Sender<Signal>,
    seen: Option<Seen>,
}

impl Poller {
    pub fn new(interval: Duration) -> Arc<Poller> {
        Arc::new(Poller {
            interval,
            state: Mutex::new(State::default()),
            tick: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows `job` until the returned [`Watch`] is dropped; `tell` hears
    /// [`Signal::Changed`] whenever what Slurm says of it changes, or the
    /// controller stops or starts answering.
    pub fn watch(self: &Arc<Poller>, job: u64, tell: Sender<Signal>) -> Watch {
        let mut state = self.lock();
        state.jobs.insert(job, Watched { tell, seen: None });
        if !state.polling {
            let poller = self.clone();
            match thread::Builder::new()
                .name("slurm-poll".into())
                .spawn(move || poller.serve())
            {
                Ok(_) => state.polling = true,
                // The run waits; the next watch tries again.
                Err(err) => log::error!("could not start polling Slurm: {err}"),
            }
        }
        Watch {
            poller: self.clone(),
            job,
        }
    }

    /// Polls until no job is watched.
    fn serve(self: Arc<Poller>) {
        loop {
            let jobs: Vec<u64> = {
                let mut state = self.lock();
                if state.jobs.is_empty() {
                    state.polling = false;
                    return;
                }
                state.jobs.keys().copied().collect()
            };
            let polled = cli::squeue(&jobs);
            let mut state = self.lock();
            match polled {
                Ok(found) => {
                    if let Some(was) = state.unreachable.take() {
                        log::info!("the Slurm controller answers again (it did not: {was})");
                        for watched in state.jobs.values() {
                            let _ = watched.tell.send(Signal::Changed);
                        }
                    }
                    // Only the jobs asked about: one watched since knows nothing yet.
                    for job in &jobs {
                        let Some(watched) = state.jobs.get_mut(job) else {
                            continue;
                        };
                        let seen = found.get(job).cloned().map_or(Seen::Gone, Seen::Known);
                        if watched.seen.as_ref() != Some(&seen) {
                            watched.seen = Some(seen);
                            let _ = watched.tell.send(Signal::Changed);
                        }
                    }
                }
                Err(err) => {
                    if state.unreachable.is_none() {
                        log::warn!(
                            "the Slurm controller does not answer ({err}); {} job(s) wait for it, \
                             and seqspool asks again every {:.1} s",
                            jobs.len(),
                            self.interval.as_secs_f64()
                        );
                        for watched in state.jobs.values() {
                            let _ = watched.tell.send(Signal::Changed);
                        }
                    }
                    state.unreachable = Some(err);
                }
            }
            let _ = self.tick.wait_timeout(state, self.interval);
        }
    }
}

/// A job followed by the poller, until this is dropped.
pub struct Watch {
    poller: Arc<Poller>,
    job: u64,
}

impl Watch {
    /// What the last poll said of the job; `None` before the first.
    pub fn seen(&self) -> Option<Seen> {
        self.poller
            .lock()
            .jobs
            .get(&self.job)
            .and_then(|watched| watched.seen.clone())
    }

    /// Asks for a poll now rather than at the end of the interval.
    pub fn poll_soon(&self) {
        self.poller.tick.notify_all();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.poller.lock().jobs.remove(&self.job);
    }
}
