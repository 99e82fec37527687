//! Removal (the retention sweep): an experiment's directory is renamed into
//! `.trash/`, which is the removal (the scan never sees it again), then
//! deleted; a stop in between leaves it to the next start to delete.

use std::fs;
use std::io;
use std::path::Path;

use super::{sync_path, Store};
use crate::error::Error;
use crate::model::Id;

/// Experiments being removed (the retention sweep): each is renamed here, then
/// deleted; whatever a stop left here is deleted at the next start.
pub(super) const TRASH_DIR: &str = ".trash";

impl Store {
    /// Removes finished experiments' directories, crash-safely: their ids
    /// are recorded as used first (no directory will say so any more), each
    /// directory is renamed into `.trash/` (the removal: from then on the
    /// start-up scan never sees it, and deletes what is left), and the renames
    /// are flushed. [`Store::empty_trash`] deletes them after. Returns the ids
    /// whose directories are gone (also those someone removed already); one
    /// that cannot be moved is logged and kept.
    pub(crate) fn trash(&self, ids: &[Id]) -> Result<Vec<Id>, Error> {
        let Some(highest) = ids.iter().max() else {
            return Ok(Vec::new());
        };
        let next = Id(highest.0 + 1);
        self.change_queue_state(|state| {
            state.next_id = Some(state.next_id.unwrap_or_default().max(next));
        })?;
        let trash = self.root.join(TRASH_DIR);
        fs::create_dir_all(&trash).map_err(|e| Error::io("creating", &trash, e))?;
        let trash_dir = rustix::fs::open(
            &trash,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::io("opening", &trash, e.into()))?;
        let mut gone = Vec::with_capacity(ids.len());
        for &id in ids {
            let name = id.to_string();
            self.faults.check("removing", &self.dir(id))?;
            // Whatever is at the name goes, a link too; nothing is followed.
            match rustix::fs::renameat(&self.root_dir, &name, &trash_dir, &name) {
                Ok(()) => gone.push(id),
                Err(rustix::io::Errno::NOENT) => {
                    log::warn!("experiment {id}: its directory was removed already");
                    gone.push(id);
                }
                Err(err) => log::error!(
                    "experiment {id}: could not remove {}: {}; it stays",
                    self.dir(id).display(),
                    io::Error::from(err)
                ),
            }
        }
        sync_path(&trash)?;
        self.sync_root()?;
        Ok(gone)
    }

    /// Deletes the directories [`Store::trash`] moved aside for `ids`: the
    /// slow part of a removal (every file is unlinked), done once nothing
    /// shows them any more.
    pub(crate) fn empty_trash(&self, ids: &[Id]) {
        let trash = self.root.join(TRASH_DIR);
        for id in ids {
            if let Err(err) = remove_entry(&trash.join(id.to_string())) {
                // Out of sight already; the next start deletes what is left.
                log::error!("{err}");
            }
        }
    }
}

/// Removes a directory and what it holds, or a file or a link (never what one points at).
pub(super) fn remove_entry(path: &Path) -> Result<(), Error> {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir());
    let removed = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match removed {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Error::io("removing", path, err)),
        _ => Ok(()),
    }
}
