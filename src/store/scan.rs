//! The start-up scan: what the experiments directory holds, read back into
//! memory before anything is served. What `.incoming/` holds was never
//! acknowledged and goes; what `.trash/` holds was removed and goes too; every
//! experiment's record is read, on several threads, and one that cannot be
//! read is skipped with a warning, never guessed at. Every id seen stays used.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::dir::ExperimentDir;
use super::queue_state::{read_queue_state, QueueState, QUEUE_FILE};
use super::record::{read_previous_record, read_record_in, NEXT_RECORD_FILE};
use super::trash::{remove_entry, TRASH_DIR};
use super::RECORD_FILE;
use crate::error::Error;
use crate::model::{Drain, Id, Pause, Record, Sharing};

/// What the start-up scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Every readable experiment, in id (acceptance) order.
    pub(crate) records: Vec<Record>,
    /// Entries that are not experiments or could not be read; left untouched.
    pub(crate) skipped: usize,
    /// Unacknowledged experiments found in `.incoming/` and removed.
    pub(crate) discarded: usize,
    /// The first id not yet used on disk.
    pub(crate) next_id: Id,
    /// The queue's pause, as the last server left it.
    pub(crate) pause: Option<Pause>,
    /// The server's drain, as the last server left it.
    pub(crate) drain: Option<Drain>,
    /// Removals a stop interrupted, finished now.
    pub(crate) trashed: usize,
    pub(crate) took: Duration,
}

/// Most threads that read records at start; past the cores there is no gain.
const SCAN_THREADS: usize = 8;

/// Scans the experiments directory `root` (open as `root_dir`, its lock
/// held), `incoming` its `.incoming/`; returns what it found and the queue's
/// state on disk. `started` is when the store began to open: the scan's time
/// counts from it.
pub(super) fn scan(
    root: &Path,
    root_dir: &OwnedFd,
    incoming: &Path,
    started: Instant,
) -> Result<(Scan, QueueState), Error> {
    let mut scan = Scan::default();
    let mut highest = 0;
    // Whatever is in .incoming was never acknowledged. Its ids still count
    // as used, so that no id is ever given twice.
    if incoming.exists() {
        for entry in fs::read_dir(incoming).map_err(|e| Error::io("reading", incoming, e))? {
            let entry = entry.map_err(|e| Error::io("reading", incoming, e))?;
            if let Some(id) = staged_id(&entry.file_name().to_string_lossy()) {
                highest = highest.max(id.0);
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(|e| Error::io("removing an unacknowledged experiment", &path, e))?;
            scan.discarded += 1;
        }
    }
    fs::create_dir_all(incoming).map_err(|e| Error::io("creating", incoming, e))?;
    // Experiments renamed into the trash are removed, whatever the stop
    // interrupted: the rename was the removal. Their ids stay used.
    let trash = root.join(TRASH_DIR);
    if trash.exists() {
        for entry in fs::read_dir(&trash).map_err(|e| Error::io("reading", &trash, e))? {
            let entry = entry.map_err(|e| Error::io("reading", &trash, e))?;
            if let Ok(id) = entry.file_name().to_string_lossy().parse::<Id>() {
                highest = highest.max(id.0);
            }
            remove_entry(&entry.path())?;
            scan.trashed += 1;
        }
    }

    let mut found = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| Error::io("reading", root, e))? {
        let entry = entry.map_err(|e| Error::io("reading", root, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Not followed: a link is not a directory here.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if name.starts_with('.') {
            continue; // the lock, .incoming: not experiments, and nothing to warn about
        }
        match name.parse::<Id>() {
            Ok(id) => {
                // Its id is used, whatever took the directory's place.
                highest = highest.max(id.0);
                if is_dir {
                    found.push(id);
                } else {
                    log::warn!(
                        "skipping {}: not a directory (a link or a file took the experiment's place)",
                        entry.path().display()
                    );
                    scan.skipped += 1;
                }
            }
            Err(()) if is_dir => {
                log::warn!(
                    "skipping {}: not an experiment (its name is not an experiment id)",
                    entry.path().display()
                );
                scan.skipped += 1;
            }
            Err(()) => {} // README.md: nothing to warn about
        }
    }
    // Reading the records is most of a start's time (months of experiments
    // make a hundred thousand small files): read them on every core.
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(SCAN_THREADS);
    let per_thread = found.len().div_ceil(threads).max(1);
    let read: Vec<(Vec<Record>, usize)> = thread::scope(|scope| {
        let readers: Vec<_> = found
            .chunks(per_thread)
            .map(|chunk| scope.spawn(|| read_records(root_dir, root, chunk)))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("reading records does not panic"))
            .collect()
    });
    for (records, skipped) in read {
        scan.records.extend(records);
        scan.skipped += skipped;
    }
    scan.records.sort_unstable_by_key(|record| record.id);
    let queue_state = read_queue_state(&root.join(QUEUE_FILE));
    // Removed experiments leave no directory: the state keeps their ids used.
    scan.next_id = Id(highest + 1).max(queue_state.next_id.unwrap_or_default());
    scan.pause = queue_state.paused.clone();
    scan.drain = queue_state.drained.clone();
    scan.took = started.elapsed();
    Ok((scan, queue_state))
}

/// Reads the records of the experiments `ids` in the root `root` (whose path
/// is `root_path`), skipping (with a warning) those that cannot be read;
/// returns them and how many were skipped.
fn read_records(root: impl AsFd, root_path: &Path, ids: &[Id]) -> (Vec<Record>, usize) {
    let root = root.as_fd();
    let mut records = Vec::with_capacity(ids.len());
    let mut sharing = Sharing::default();
    let mut skipped = 0;
    for id in ids {
        let dir =
            match ExperimentDir::open(root, root_path, &id.to_string(), "reading the record of") {
                Ok(dir) => dir,
                Err(err) => {
                    log::warn!("skipping experiment {id}: {err}");
                    skipped += 1;
                    continue;
                }
            };
        match read_record_in(&dir) {
            Ok(mut record) if record.id == *id => {
                record.upgrade();
                sharing.share(&mut record);
                records.push(record);
            }
            Ok(record) => {
                log::warn!(
                    "skipping {}: its {RECORD_FILE} is for experiment {}",
                    dir.path().display(),
                    record.id
                );
                skipped += 1;
            }
            Err(err) => match read_previous_record(&dir) {
                // State changes are not flushed: after a power cut the last one
                // may be gone, while the one before it, swapped aside, is whole.
                Some(mut record) if record.id == *id => {
                    log::warn!(
                        "experiment {id}: {err}; using the record from before its last change \
                         ({NEXT_RECORD_FILE}, {}): it may run again",
                        record.state.as_str()
                    );
                    record.upgrade();
                    sharing.share(&mut record);
                    records.push(record);
                }
                _ => {
                    log::warn!("skipping {}: {err}", dir.path().display());
                    skipped += 1;
                }
            },
        }
    }
    (records, skipped)
}

/// The id of a staged directory's name (`000042.XXXXXX`).
fn staged_id(name: &str) -> Option<Id> {
    name.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Faults;
    use crate::model::State;
    use crate::store::tests::accept;
    use crate::store::{Store, QUERY_FILE};

    #[test]
    fn a_damaged_record_falls_back_to_the_one_before_its_last_change() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(tmp.path(), Faults::default()).unwrap();
        let mut record = accept(&store, 1, "q");
        record.state = State::Running;
        store.write_record(&record).unwrap();
        // A power cut took the last change's data: the swapped-aside record remains.
        fs::write(store.dir(Id(1)).join(RECORD_FILE), "").unwrap();
        drop(store);
        let (_store, scan) = Store::open(tmp.path(), Faults::default()).unwrap();
        assert_eq!(scan.records.len(), 1);
        assert_eq!(scan.records[0].state, State::Queued);
        assert_eq!(scan.skipped, 0);
    }

    #[test]
    fn an_accepted_experiment_is_found_again_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, scan) = Store::open(tmp.path(), Faults::default()).unwrap();
        assert_eq!(scan.next_id, Id(1));
        let first = accept(&store, 1, "first");
        let second = accept(&store, 2, "second");
        assert_eq!(
            fs::read_to_string(store.dir(Id(1)).join(QUERY_FILE)).unwrap(),
            ">first\nACGT\n"
        );
        drop(store);

        let (_store, scan) = Store::open(tmp.path(), Faults::default()).unwrap();
        assert_eq!(scan.records, [first, second]);
        assert_eq!(scan.next_id, Id(3));
    }

    #[test]
    fn leftovers_are_discarded_but_their_ids_are_not_reused() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".incoming/000007.abc")).unwrap();
        fs::create_dir_all(tmp.path().join("notes")).unwrap();
        fs::create_dir_all(tmp.path().join("000003")).unwrap(); // no record
        fs::write(tmp.path().join("README.md"), "hello").unwrap();
        let (_store, scan) = Store::open(tmp.path(), Faults::default()).unwrap();
        assert_eq!((scan.discarded, scan.skipped, scan.next_id), (1, 2, Id(8)));
        assert!(!tmp.path().join(".incoming/000007.abc").exists());
        assert!(tmp.path().join("notes").exists() && tmp.path().join("000003").exists());
    }
}
