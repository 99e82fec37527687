//! Cancelling an experiment, queued or running (alone, or as a member of a
//! group whose others go on), as `DELETE /experiments/{id}`, the page's
//! Cancel button and NCBI's `CMD=Delete` ask for it.

use super::{blocking, App};
use crate::access::Viewer;
use crate::error::Error;
use crate::model::Id;
use crate::queue::{Canceled, View, Waiting};

/// What a cancel did.
pub enum Cancel {
    /// It is CANCELED (now, or was already).
    Done(View),
    /// It is running; its run is being stopped and will end CANCELED.
    Stopping(View),
}

impl App {
    /// Cancels a queued or running experiment. A queued one is CANCELED on
    /// disk before the answer; if that cannot be written it was not
    /// cancelled (after a restart it would run), and waits on.
    pub async fn cancel(&self, id: Id, by: &Viewer) -> Result<Cancel, Error> {
        match self.queue.cancel(id)? {
            Canceled::Done { record, changed } => {
                if changed {
                    let store = self.store.clone();
                    let written = record.clone();
                    if let Err(err) = blocking(move || store.write_record(&written)).await {
                        self.queue.uncancel(id);
                        return Err(err);
                    }
                    log::info!("experiment {id} canceled while queued{}", by.by());
                    self.notifier.ended(&record);
                }
                Ok(Cancel::Done(View {
                    record,
                    position: None,
                    eta: Waiting::Done,
                }))
            }
            Canceled::Member(record) => {
                // Written holding the pen, so the run's own writes of its
                // members never come after it.
                let store = self.store.clone();
                let pen = self.queue.member_pen();
                let written = record.clone();
                let wrote = blocking(move || {
                    let _held = pen.lock().unwrap_or_else(|p| p.into_inner());
                    store.write_record(&written)
                })
                .await;
                if let Err(err) = wrote {
                    self.queue.uncancel(id);
                    return Err(err);
                }
                log::info!(
                    "experiment {id} canceled while its group ran{}; the others go on",
                    by.by()
                );
                self.notifier.ended(&record);
                Ok(Cancel::Done(View::finished(&record)))
            }
            Canceled::Stopping(view) => {
                log::info!(
                    "experiment {id}: cancel requested while running{}; stopping its run",
                    by.by()
                );
                Ok(Cancel::Stopping(view))
            }
        }
    }
}
