//! The queue's own state on disk, `.queue.json`: its pause, its drain, and
//! the first id never given (which removed experiments can no longer show).
//! Rare changes, each made durably before it is answered.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{readable_temp_file, Store};
use crate::error::Error;
use crate::model::{Drain, Id, Pause};

/// The queue's own state (its pause, its drain), beside the experiments.
pub(super) const QUEUE_FILE: &str = ".queue.json";

/// The queue's state on disk.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct QueueState {
    #[serde(default)]
    pub(super) paused: Option<Pause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) drained: Option<Drain>,
    /// The first id never given, as far as removed experiments (whose
    /// directories are gone) could hide it from the start-up scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) next_id: Option<Id>,
}

/// What `.queue.json` holds; a damaged file is reported and read as empty.
pub(super) fn read_queue_state(path: &Path) -> QueueState {
    let Ok(bytes) = fs::read(path) else {
        return QueueState::default();
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        log::warn!("ignoring {}: {err}", path.display());
        QueueState::default()
    })
}

impl Store {
    /// Records the queue's pause (or its end) durably: it is rare, and must
    /// survive a power cut as much as the experiments it holds back.
    pub(crate) fn write_pause(&self, pause: Option<&Pause>) -> Result<(), Error> {
        self.change_queue_state(|state| state.paused = pause.cloned())
    }

    /// Records the server's drain (or its end) durably, beside the pause.
    pub(crate) fn write_drain(&self, drain: Option<&Drain>) -> Result<(), Error> {
        self.change_queue_state(|state| state.drained = drain.cloned())
    }

    /// Changes `.queue.json` durably: written aside, flushed, renamed over.
    /// On failure nothing changed, on disk or here.
    pub(super) fn change_queue_state(
        &self,
        change: impl FnOnce(&mut QueueState),
    ) -> Result<(), Error> {
        let mut current = self.queue_state.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = current.clone();
        change(&mut state);
        let path = self.root.join(QUEUE_FILE);
        self.faults.check("writing", &path)?;
        let mut json = serde_json::to_vec_pretty(&state)
            .map_err(|e| Error::Internal(format!("encoding the queue's state: {e}")))?;
        json.push(b'\n');
        let mut file = readable_temp_file(&self.root)?;
        file.write_all(&json)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| Error::io("writing", &path, e))?;
        file.persist(&path)
            .map_err(|e| Error::io("replacing", &path, e.error))?;
        self.sync_root()?;
        *current = state;
        Ok(())
    }
}
