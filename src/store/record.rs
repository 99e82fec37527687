//! An experiment's record, `experiment.json`: replaced whole at every
//! change (written beside it, then swapped), read back without following a
//! link, and, after a power cut took the last change, found again in the
//! copy from before it.

use std::fs::File;
use std::io;
use std::path::Path;

use super::dir::ExperimentDir;
use super::{Store, RECORD_FILE};
use crate::error::Error;
use crate::model::{Id, Record};

/// The next record, written beside the record and then swapped with it.
pub(super) const NEXT_RECORD_FILE: &str = ".experiment.json.next";

impl Store {
    /// Replaces an experiment's `experiment.json` atomically: the new record is
    /// written to `.experiment.json.next` beside it, and the two are swapped
    /// with one `renameat2(RENAME_EXCHANGE)`, so a reader or a crash sees the
    /// old record or the new one, whole. Swapping, rather than renaming over,
    /// frees no inode: on ext4 without a journal every freed inode slows the
    /// next creations for half a minute, and a busy worker changes states
    /// hundreds of times a second. Not flushed: a killed process loses nothing
    /// the kernel has, and after a power cut an older state only makes the
    /// experiment run again.
    ///
    /// The directory is opened without following links, and nothing in it is
    /// written through one: if a link, a file or nothing has taken the
    /// directory's place, this fails with [`Error::Tampered`]
    /// ([`Error::is_experiment_fault`]) and writes nothing anywhere.
    pub(crate) fn write_record(&self, record: &Record) -> Result<(), Error> {
        self.faults
            .check("writing", &self.dir(record.id).join(RECORD_FILE))?;
        let dir = self.open_dir(record.id, "writing the record of")?;
        dir.replace(RECORD_FILE, NEXT_RECORD_FILE, &record_json(record)?)
    }

    /// Replaces a hidden file of seqspool's own in an experiment's directory
    /// (such as the notifications' outbox) as the record is replaced: written
    /// to `scratch` beside it, then swapped, never through a link.
    pub(crate) fn write_own(
        &self,
        id: Id,
        name: &str,
        scratch: &str,
        bytes: &[u8],
    ) -> Result<(), Error> {
        self.faults.check("writing", &self.dir(id).join(name))?;
        let dir = self.open_dir(id, "writing a file of")?;
        dir.replace(name, scratch, bytes)
    }

    /// Reads a file of seqspool's own in an experiment's directory (never
    /// through a link); `None` if there is none.
    pub(crate) fn read_own(&self, id: Id, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let dir = self.open_dir(id, "reading a file of")?;
        match dir.read(name) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io("reading", dir.path_of(name), err)),
        }
    }
}

/// The record from before an experiment's last change, if it is readable.
pub(super) fn read_previous_record(dir: &ExperimentDir) -> Option<Record> {
    serde_json::from_slice(&dir.read(NEXT_RECORD_FILE).ok()?).ok()
}

/// Reads and checks the record of the experiment directory `dir`, for tools
/// that read an experiments directory from outside the server. Like the
/// server, it follows no link in the directory's place or the record's.
pub fn read_record(dir: &Path) -> Result<Record, Error> {
    let op = "reading the record of";
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str()))
    else {
        return Err(Error::io(op, dir, io::ErrorKind::InvalidInput.into()));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let root = File::open(parent).map_err(|e| Error::io(op, parent, e))?;
    read_record_in(&ExperimentDir::open(&root, parent, name, op)?)
}

/// Reads and checks an experiment's record (a plain file, never through a link).
pub(super) fn read_record_in(dir: &ExperimentDir) -> Result<Record, Error> {
    let path = || dir.path_of(RECORD_FILE);
    let bytes = dir
        .read(RECORD_FILE)
        .map_err(|e| Error::io("reading", path(), e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Internal(format!("reading {}: {e}", path().display())))
}

pub(super) fn record_json(record: &Record) -> Result<Vec<u8>, Error> {
    let mut json = serde_json::to_vec_pretty(record)
        .map_err(|e| Error::Internal(format!("encoding a record: {e}")))?;
    json.push(b'\n');
    Ok(json)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::fault::Faults;
    use crate::model::State;
    use crate::store::tests::accept;

    #[test]
    fn a_record_is_replaced_whole_and_the_old_one_kept_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(tmp.path(), Faults::default()).unwrap();
        let mut record = accept(&store, 1, "q");
        for state in [State::Running, State::Complete] {
            record.state = state;
            store.write_record(&record).unwrap();
            assert_eq!(read_record(&store.dir(Id(1))).unwrap(), record);
        }
        let aside: Record =
            serde_json::from_slice(&fs::read(store.dir(Id(1)).join(NEXT_RECORD_FILE)).unwrap())
                .unwrap();
        assert_eq!(aside.state, State::Running);
        // Not a file the experiment shows.
        assert!(store
            .files(Id(1))
            .unwrap()
            .iter()
            .all(|f| !f.name.starts_with('.')));
    }

    #[test]
    fn a_link_planted_in_place_of_the_record_is_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("experiments");
        let (store, _) = Store::open(&root, Faults::default()).unwrap();
        let other = accept(&store, 1, "other");
        let mut record = accept(&store, 2, "mine");
        let outside = tmp.path().join("thesis.txt");
        fs::write(&outside, "months of work\n").unwrap();
        let dir = store.dir(Id(2));
        // A symbolic link at the next record's name, and the other experiment's
        // record hard-linked in place of this one's (swapped aside by the next write).
        std::os::unix::fs::symlink(&outside, dir.join(NEXT_RECORD_FILE)).unwrap();
        let theirs = store.dir(Id(1)).join(RECORD_FILE);
        let theirs_before = fs::read(&theirs).unwrap();
        fs::remove_file(dir.join(RECORD_FILE)).unwrap();
        fs::hard_link(&theirs, dir.join(RECORD_FILE)).unwrap();

        for state in [State::Running, State::Complete, State::Canceled] {
            record.state = state;
            store.write_record(&record).unwrap();
        }
        assert_eq!(fs::read_to_string(&outside).unwrap(), "months of work\n");
        assert_eq!(fs::read(&theirs).unwrap(), theirs_before);
        drop(store);
        let (_store, scan) = Store::open(&root, Faults::default()).unwrap();
        assert_eq!(scan.records, [other, record]);
    }
}
