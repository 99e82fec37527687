//! Moving a queued experiment to the front of the queue, as an operator asks
//! for it: it runs next, and its record says who moved it and when.
//!
//! The move is made in memory first and then written to its record; if the
//! write fails it is undone. Both run together on the blocking pool, to their
//! end even if the client goes away meanwhile: a move left half-done would
//! hold the worker.

use super::{blocking, App};
use crate::error::Error;
use crate::model::Id;
use crate::queue::{Fronted, View};

impl App {
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
