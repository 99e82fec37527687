//! Acceptance on disk: an experiment is staged under `.incoming/` (written,
//! not yet visible), flushed together with the others of its group, renamed
//! into place, and the directory flushed; until then nothing is visible, and
//! an experiment whose rename cannot be made durable is withdrawn.

use std::fs::{self, File};
use std::io;
use std::path::PathBuf;
use std::thread;

use super::record::record_json;
use super::{sync_path, write_file, Store, QUALITY_FILE, QUERY_FILE, RECORD_FILE};
use crate::error::Error;
use crate::model::{Id, Record};
use crate::query::Query;

/// An experiment written under `.incoming/`: invisible until published.
pub(crate) struct Staged {
    id: Id,
    dir: tempfile::TempDir,
    /// Whether it holds a [`QUALITY_FILE`] too.
    fastq: bool,
}

/// What a staged experiment's flush covers: its two files and its
/// directory (a FASTQ read's third file aside).
const PATHS_PER_EXPERIMENT: usize = 3;

impl Staged {
    /// The paths [`Store::flush`] must flush for this experiment.
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        let dir = self.dir.path();
        let mut paths = vec![dir.join(QUERY_FILE), dir.join(RECORD_FILE), dir.to_owned()];
        if self.fastq {
            paths.push(dir.join(QUALITY_FILE));
        }
        paths
    }
}

/// Experiments renamed into place but not yet flushed there: withdrawn if that fails.
#[must_use = "published experiments are withdrawn if the directory cannot be flushed"]
pub(crate) struct Published(Vec<PathBuf>);

/// Threads that flush a group of staged experiments together. Measured on
/// ext4: 48 fsyncs take 17.6 ms from one thread and 8.5 ms from four, with no
/// gain past four.
const FLUSH_THREADS: usize = 4;

/// Paths each flushing thread takes at least: below it, a group is flushed
/// from the calling thread alone, since starting a thread costs more than the
/// few fsyncs it would take over (a single experiment is three paths).
const PATHS_PER_FLUSH_THREAD: usize = 6;

/// Staged experiments from which one `syncfs` flushes a group instead of an
/// fsync per file: a few milliseconds whatever the count, against about
/// 0.5 ms per experiment with fsyncs.
const SYNCFS_FROM: usize = 256;

impl Store {
    /// Writes an experiment under `.incoming/`. Nothing is visible yet, and
    /// nothing is flushed: [`Store::flush`] does that for many at once.
    pub(crate) fn stage(&self, record: &Record, query: &Query) -> Result<Staged, Error> {
        let prefix = format!("{}.", record.id);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        let dir = match builder.tempdir_in(&self.incoming) {
            // Someone removed .incoming (or the whole directory): make it again.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&self.incoming).and_then(|()| builder.tempdir_in(&self.incoming))
            }
            made => made,
        }
        .map_err(|e| Error::io("creating a directory in", &self.incoming, e))?;
        let fasta = dir.path().join(QUERY_FILE);
        self.faults.check("writing", &fasta)?;
        write_file(&fasta, query.to_fasta().as_bytes())?;
        let fastq = query.to_fastq();
        if let Some(fastq) = &fastq {
            write_file(&dir.path().join(QUALITY_FILE), fastq.as_bytes())?;
        }
        write_file(&dir.path().join(RECORD_FILE), &record_json(record)?)?;
        Ok(Staged {
            id: record.id,
            dir,
            fastq: fastq.is_some(),
        })
    }

    /// Flushes staged experiments to disk, given as the paths of
    /// [`Staged::paths`]: the experiments' files and directories.
    ///
    /// Many fsyncs issued at once share the file system journal's commits, so
    /// a group is flushed from several threads. A very large group is flushed
    /// with one `syncfs`, which costs about one commit whatever the count (but
    /// also flushes whatever else is waiting on that file system).
    pub(crate) fn flush(&self, paths: &[PathBuf]) -> Result<(), Error> {
        if paths.len() >= SYNCFS_FROM * PATHS_PER_EXPERIMENT {
            let root = File::open(&self.root).map_err(|e| Error::io("opening", &self.root, e))?;
            return rustix::fs::syncfs(&root)
                .map_err(|e| Error::io("flushing the file system of", &self.root, e.into()));
        }
        let sync_all = |chunk: &[PathBuf]| chunk.iter().try_for_each(|path| sync_path(path));
        if paths.len() < 2 * PATHS_PER_FLUSH_THREAD {
            return sync_all(paths);
        }
        let per_thread = paths
            .len()
            .div_ceil(FLUSH_THREADS)
            .max(PATHS_PER_FLUSH_THREAD);
        thread::scope(|scope| {
            // A chunk whose thread cannot be made (the process is at its
            // thread limit) is flushed here, after the others are started.
            let mut inline = Vec::new();
            let mut flushers = Vec::new();
            for chunk in paths.chunks(per_thread) {
                match thread::Builder::new().spawn_scoped(scope, move || sync_all(chunk)) {
                    Ok(flusher) => flushers.push(flusher),
                    Err(_) => inline.push(chunk),
                }
            }
            inline.into_iter().try_for_each(sync_all)?;
            flushers.into_iter().try_for_each(|flusher| {
                flusher
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("a flush thread panicked".into())))
            })
        })
    }

    /// Renames flushed experiments into place, all or none. They are visible
    /// now, but durable only after [`Store::sync_root`].
    pub(crate) fn publish(&self, staged: Vec<Staged>) -> Result<Published, Error> {
        let mut published = Published(Vec::with_capacity(staged.len()));
        for staged in staged {
            let target = self.dir(staged.id);
            let source = staged.dir.keep();
            if let Err(err) = fs::rename(&source, &target) {
                let _ = fs::remove_dir_all(&source);
                self.withdraw(published);
                return Err(Error::io("moving an experiment into", &target, err));
            }
            published.0.push(target);
        }
        Ok(published)
    }

    /// Flushes the experiments directory itself: the renames of published
    /// experiments survive a power cut from here on.
    pub(crate) fn sync_root(&self) -> Result<(), Error> {
        sync_path(&self.root)
    }

    /// Removes published experiments that could not be made durable, so that
    /// nothing unacknowledged stays visible.
    pub(crate) fn withdraw(&self, published: Published) {
        for dir in published.0 {
            if let Err(err) = fs::remove_dir_all(&dir) {
                log::error!(
                    "removing the unacknowledged experiment {}: {err}",
                    dir.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Faults;
    use crate::store::tests::{query, test_choice};
    use crate::store::INCOMING_DIR;
    use crate::time::Timestamp;

    #[test]
    fn an_injected_fault_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let faults = Faults::default();
        let (store, _) = Store::open(tmp.path(), faults.clone()).unwrap();
        faults.fail_writes(rustix::io::Errno::NOSPC.raw_os_error());
        let query = query("q");
        let record = Record::new(Id(1), &query, None, &test_choice(), Timestamp::now());
        let err = store.stage(&record, &query).err().unwrap();
        assert!(err.is_out_of_space(), "{err}");
        assert!(!err.is_experiment_fault(), "the workstation's fault: {err}");
        assert_eq!(
            fs::read_dir(tmp.path().join(INCOMING_DIR)).unwrap().count(),
            0
        );
        faults.clear();
        assert!(store.stage(&record, &query).is_ok());
    }
}
