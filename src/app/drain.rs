//! Draining the server, as operators ask for it: no new submissions (503,
//! with who, since when and why); what is queued and running still runs.
//!
//! A drain is made in memory first, so it holds at once, and is then written
//! to disk before the answer; if the write fails it is undone, so memory
//! never shows what a restart would not. The write and its undoing run
//! together on the blocking pool, to their end even if the client goes away
//! meanwhile.

use super::{blocking, App};
use crate::error::Error;
use crate::model::Drain;
use crate::time::Timestamp;

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
}
