//! Pausing the queue and resuming it, as operators ask for it: while paused
//! nothing new starts (a running experiment finishes) and submissions are
//! still taken.
//!
//! A pause or a resume holds in memory first, and is then written to disk
//! before the answer; if the write fails it is undone, so memory never shows
//! what a restart would not.

use super::{blocking, App};
use crate::access::Viewer;
use crate::error::Error;
use crate::model::{Pause, PausedBy};
use crate::time::Timestamp;

impl App {
    /// Pauses the queue, `by` whom and why. An existing pause stays as it was.
    pub async fn pause(&self, reason: String, by: &Viewer) -> Result<(), Error> {
        let pause = Pause {
            reason,
            since: Timestamp::now(),
            by: PausedBy::Operator,
            operator: Some(by.name()),
        };
        if self.queue.pause(pause.clone()) {
            let store = self.store.clone();
            let written = pause.clone();
            if let Err(err) = blocking(move || store.write_pause(Some(&written))).await {
                self.queue.resume();
                return Err(err);
            }
            log::warn!("the queue is paused by {}: {}", by.name(), pause.reason);
        }
        Ok(())
    }

    /// Lifts the pause, whoever set it, and wakes the worker.
    pub async fn resume(&self, by: &Viewer) -> Result<(), Error> {
        if let Some(pause) = self.queue.resume() {
            let store = self.store.clone();
            if let Err(err) = blocking(move || store.write_pause(None)).await {
                // Not lifted on disk: after a restart it would hold again, so it holds now.
                self.queue.pause(pause);
                return Err(err);
            }
            let paused_by = match (pause.by, &pause.operator) {
                (PausedBy::Operator, Some(name)) => format!(" by {name}"),
                (PausedBy::Operator, None) => String::new(),
                (PausedBy::Workstation, _) => " by seqspool".to_owned(),
            };
            log::info!(
                "the queue is resumed{} (it was paused since {}{paused_by}: {})",
                by.by(),
                pause.since,
                pause.reason
            );
            // What was wrong may be fixed: the pipelines are checked again first.
            self.catalog.check_again();
            let _ = self.wake.try_send(());
        }
        Ok(())
    }
}
