//! Queue control for operators, as the JSON API and the pages both perform it:
//! draining the server (no new submissions; what is queued still runs),
//! moving a queued experiment to the front, and the retention sweeps (the
//! policy's rule is `retention`'s).
//!
//! A drain or a move is made in memory first, so it holds at once, and is then
//! written to disk before the answer; if the write fails it is undone, so
//! memory never shows what a restart would not. The write and its undoing run
//! together on the blocking pool, to their end even if the client goes away
//! meanwhile: a move left half-done would hold the worker.

use std::sync::Arc;

use crate::app::{blocking, App};
use crate::error::Error;
use crate::model::{Drain, Id};
use crate::queue::{Fronted, View};
use crate::retention::{cutoff, due, lock, Due, Listing, Sweep, FIRST_SWEEP, SWEEP_EVERY};
use crate::time::Timestamp;

/// Longest reason an operator may give for a drain (as for a pause).
pub const MAX_REASON_CHARS: usize = 500;

/// The reason given in `?reason=`, trimmed, or `default` when none was given.
pub fn reason_of(query_string: Option<&str>, default: &str) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Params {
        reason: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let reason = params
        .reason
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| default.to_owned());
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field: "reason".into(),
            msg: format!("give at most {MAX_REASON_CHARS} printable characters"),
        });
    }
    Ok(reason)
}

impl App {
    /// Drains the server, `by` whom and why: every submission (and retry) is
    /// refused with 503 and the reason until it is undrained; what is queued
    /// still runs. An existing drain stays as it was.
    pub async fn drain(&self, reason: String, by: String) -> Result<(), Error> {
        let drain = Drain {
            reason,
            since: Timestamp::now(),
            by,
        };
        if !self.queue.drain(drain.clone()) {
            return Ok(());
        }
        let (store, queue, written) = (self.store.clone(), self.queue.clone(), drain.clone());
        blocking(move || {
            store.write_drain(Some(&written)).inspect_err(|_| {
                queue.undrain();
            })
        })
        .await?;
        let backlog = self.queue.backlog();
        log::warn!(
            "the server is draining, by {}: {}; it takes no new experiments until POST /queue/undrain \
             ({} queued and {} running still run)",
            drain.by,
            drain.reason,
            backlog.queued,
            backlog.running
        );
        Ok(())
    }

    /// Takes submissions again, `by` whom.
    pub async fn undrain(&self, by: String) -> Result<(), Error> {
        let Some(drain) = self.queue.undrain() else {
            return Ok(());
        };
        let (store, queue, lifted) = (self.store.clone(), self.queue.clone(), drain.clone());
        blocking(move || {
            store.write_drain(None).inspect_err(|_| {
                // Not lifted on disk: after a restart it would hold again, so it holds now.
                queue.drain(lifted);
            })
        })
        .await?;
        log::info!(
            "the server takes submissions again, by {by} (it was draining since {}, by {}: {})",
            drain.since,
            drain.by,
            drain.reason
        );
        Ok(())
    }

    /// Moves a queued experiment to the head of the queue, `by` whom: it runs
    /// next. Its record says so (`moved_to_front`) before the answer.
    pub async fn move_to_front(&self, id: Id, by: String) -> Result<View, Error> {
        let (record, before, from) = match self.queue.move_to_front(id, by)? {
            Fronted::Next(view) => return Ok(view),
            Fronted::Moved {
                record,
                before,
                from,
            } => (record, before, from),
        };
        let (store, queue, wake) = (self.store.clone(), self.queue.clone(), self.wake.clone());
        let written = record.clone();
        blocking(move || {
            let result = store.write_record(&written);
            match &result {
                Ok(()) => queue.moved(id),
                Err(_) => queue.unmove(id, before),
            }
            // The worker may have found it held and gone to sleep.
            let _ = wake.try_send(());
            result
        })
        .await?;
        if let Some(moved) = &record.moved_to_front {
            log::info!(
                "experiment {id} moved to the front of the queue by {} (it was at position {from})",
                moved.by
            );
        }
        self.experiment(id)
    }
}

impl App {
    /// What a sweep would remove now, if experiments were kept `days` days
    /// (the policy's when `None`): a dry run.
    pub async fn retention(&self, days: Option<u32>) -> Result<Listing, Error> {
        let days = days.or(self.config.retention_days);
        let now = Timestamp::now();
        let (cutoff, experiments) = match days {
            Some(days) => {
                let cutoff = cutoff(days, now);
                (Some(cutoff), self.due(cutoff).await?)
            }
            None => (None, Vec::new()),
        };
        Ok(Listing {
            retention_days: self.config.retention_days,
            days,
            cutoff,
            next_sweep: *lock(&self.sweeps.next),
            last_sweep: lock(&self.sweeps.last).clone(),
            count: experiments.len(),
            bytes: experiments.iter().map(|due| due.bytes).sum(),
            experiments,
        })
    }

    /// The experiments due at `cutoff`, with their sizes.
    async fn due(&self, cutoff: Timestamp) -> Result<Vec<Due>, Error> {
        let chosen: Vec<Due> = self.queue.with_records(|records| {
            due(records, cutoff)
                .into_iter()
                .map(|record| Due::of(record, 0))
                .collect()
        });
        let store = self.store.clone();
        blocking(move || {
            Ok(chosen
                .into_iter()
                .map(|due| Due {
                    bytes: store.size(due.id),
                    ..due
                })
                .collect())
        })
        .await
    }

    /// Removes what is due now, logs each removal, and says what went.
    /// Refused while retention is off.
    pub async fn sweep(&self) -> Result<Sweep, Error> {
        let Some(days) = self.config.retention_days else {
            return Err(Error::WrongState(
                "retention is off: finished experiments are kept for ever; set --retention-days \
                 (SEQSPOOL_RETENTION_DAYS, or retention_days in the configuration file) to remove old ones"
                    .into(),
            ));
        };
        let _one = self.sweeps.running.lock().await;
        let at = Timestamp::now();
        let cutoff = cutoff(days, at);
        let due = self.due(cutoff).await?;
        let ids: Vec<Id> = due.iter().map(|due| due.id).collect();
        let store = self.store.clone();
        let gone = blocking(move || store.trash(&ids)).await?;
        // Out of the index as soon as they are out of sight; their files go after.
        self.queue.remove(&gone);
        let store = self.store.clone();
        let deleted = gone.clone();
        blocking(move || {
            store.empty_trash(&deleted);
            Ok(())
        })
        .await?;
        let gone: std::collections::HashSet<Id> = gone.into_iter().collect();
        let removed: Vec<Due> = due
            .into_iter()
            .filter(|due| gone.contains(&due.id))
            .collect();
        for due in &removed {
            log::info!(
                "experiment {} removed by the retention policy ({days} days): '{}', {}, finished {}, {}",
                due.id,
                due.query_name,
                due.state.as_str(),
                due.finished_at,
                crate::store::bytes(due.bytes)
            );
        }
        let sweep = Sweep {
            at,
            cutoff,
            count: removed.len(),
            bytes: removed.iter().map(|due| due.bytes).sum(),
            removed,
        };
        log::info!(
            "retention sweep: {} experiment(s) that finished before {cutoff} removed, {} freed",
            sweep.count,
            crate::store::bytes(sweep.bytes)
        );
        *lock(&self.sweeps.last) = Some(sweep.clone());
        Ok(sweep)
    }
}

/// Sweeps as the policy says, until the server closes: the first after
/// [`FIRST_SWEEP`] (or the test knob `retention_every`), then every
/// [`SWEEP_EVERY`]. Nothing is started when retention is off.
pub fn spawn_sweeps(app: Arc<App>) -> Option<tokio::task::JoinHandle<()>> {
    let days = app.config.retention_days?;
    let (first, every) = match app.config.retention_every {
        Some(every) => (every, every),
        None => (FIRST_SWEEP, SWEEP_EVERY),
    };
    let next = Timestamp::now().after(first);
    *lock(&app.sweeps.next) = Some(next);
    log::info!(
        "retention: finished experiments are removed {days} days after they finished; first sweep at {next}, \
         then every {} h (GET /retention lists what it would remove)",
        every.as_secs() / 3600
    );
    Some(tokio::spawn(async move {
        let mut wait = first;
        loop {
            tokio::time::sleep(wait).await;
            wait = every;
            if app.queue.is_closing() {
                return;
            }
            *lock(&app.sweeps.next) = Some(Timestamp::now().after(every));
            if let Err(err) = app.sweep().await {
                log::error!("retention sweep: {err}");
            }
        }
    }))
}
