//! The retention policy's sweeps, as the daily timer, `POST /retention/sweep`
//! and the dry run `GET /retention` perform them (the policy's rule, which
//! experiments are due, is `crate::retention`'s).

use std::sync::Arc;

use super::{blocking, App};
use crate::error::Error;
use crate::model::Id;
use crate::retention::{cutoff, due, lock, Due, Listing, Sweep, FIRST_SWEEP, SWEEP_EVERY};
use crate::time::Timestamp;

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
