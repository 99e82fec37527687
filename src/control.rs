//! Queue control for operators, as the JSON API and the pages both perform it:
//! draining the server (no new submissions; what is queued still runs) and
//! moving a queued experiment to the front.
//!
//! Each change is made in memory first, so it holds at once, and is then
//! written to disk before the answer; if the write fails it is undone, so
//! memory never shows what a restart would not. The write and its undoing run
//! together on the blocking pool, to their end even if the client goes away
//! meanwhile: a move left half-done would hold the worker.

use crate::app::{blocking, App};
use crate::error::Error;
use crate::model::{Drain, Id};
use crate::queue::{Fronted, View};
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
