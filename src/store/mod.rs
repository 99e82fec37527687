//! The experiments directory: the durable record of everything seqspool accepted.
//!
//! An experiment is written in `.incoming/`, flushed, and renamed into place, so
//! a crash leaves either a whole experiment or nothing visible. Its
//! `experiment.json` is replaced atomically at each state change. At start the
//! directory is scanned and memory is rebuilt from it; `.lock` (held with
//! `flock`, which the kernel drops when the process dies) keeps a second server
//! out.
//!
//! Everything done in an experiment's own directory goes through a handle
//! opened without following links (`dir`): the processing command runs there
//! with seqspool's rights and may put a link in its directory's place.

mod dir;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::fault::Faults;
use crate::model::{Drain, FileInfo, Id, Pause, Record, Sharing};
use crate::query::Query;
use dir::ExperimentDir;

/// The record of an experiment, in its directory.
pub const RECORD_FILE: &str = "experiment.json";
/// The input, as one FASTA record, for the processing command.
pub const QUERY_FILE: &str = "query.fasta";
/// A FASTQ read's input as it came, with its qualities, beside [`QUERY_FILE`].
pub const QUALITY_FILE: &str = "query.fastq";
/// The next record, written beside the record and then swapped with it.
const NEXT_RECORD_FILE: &str = ".experiment.json.next";
const LOCK_FILE: &str = ".lock";
/// The queue's own state (its pause, its drain), beside the experiments.
const QUEUE_FILE: &str = ".queue.json";
const INCOMING_DIR: &str = ".incoming";
/// Experiments being removed (the retention sweep): each is renamed here, then
/// deleted; whatever a stop left here is deleted at the next start.
const TRASH_DIR: &str = ".trash";

/// What the start-up scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every readable experiment, in id (acceptance) order.
    pub records: Vec<Record>,
    /// Entries that are not experiments or could not be read; left untouched.
    pub skipped: usize,
    /// Unacknowledged experiments found in `.incoming/` and removed.
    pub discarded: usize,
    /// The first id not yet used on disk.
    pub next_id: Id,
    /// The queue's pause, as the last server left it.
    pub pause: Option<Pause>,
    /// The server's drain, as the last server left it.
    pub drain: Option<Drain>,
    /// Removals a stop interrupted, finished now.
    pub trashed: usize,
    pub took: Duration,
}

/// An experiment written under `.incoming/`: invisible until published.
pub struct Staged {
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
    pub fn paths(&self) -> Vec<PathBuf> {
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
pub struct Published(Vec<PathBuf>);

/// Most threads that read records at start; past the cores there is no gain.
const SCAN_THREADS: usize = 8;

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

/// The experiments directory, locked for this process.
pub struct Store {
    root: PathBuf,
    /// The root, open: experiments are opened relative to it, never by path.
    root_dir: OwnedFd,
    incoming: PathBuf,
    faults: Faults,
    /// What `.queue.json` holds; every write of it goes through this lock, so
    /// a change of the pause never loses one of the drain, and the other way round.
    queue_state: Mutex<QueueState>,
    /// Held open for the `flock` on it; dropped with the store.
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) and locks the experiments directory, then scans it.
    pub fn open(root: &Path, faults: Faults) -> Result<(Store, Scan), Error> {
        let started = Instant::now();
        fs::create_dir_all(root)
            .map_err(|e| Error::io("creating the experiments directory", root, e))?;
        // Absolute, so that EXPERIMENT_DIR and the paths in answers hold wherever they are used.
        let root = &root
            .canonicalize()
            .map_err(|e| Error::io("resolving", root, e))?;
        let root_dir = rustix::fs::open(
            root,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::io("opening", root, e.into()))?;
        let lock = lock(&root.join(LOCK_FILE))?;
        let incoming = root.join(INCOMING_DIR);
        let mut scan = Scan::default();
        let mut highest = 0;
        // Whatever is in .incoming was never acknowledged. Its ids still count
        // as used, so that no id is ever given twice.
        if incoming.exists() {
            for entry in fs::read_dir(&incoming).map_err(|e| Error::io("reading", &incoming, e))? {
                let entry = entry.map_err(|e| Error::io("reading", &incoming, e))?;
                if let Some(id) = staged_id(&entry.file_name().to_string_lossy()) {
                    highest = highest.max(id.0);
                }
                let path = entry.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed
                    .map_err(|e| Error::io("removing an unacknowledged experiment", &path, e))?;
                scan.discarded += 1;
            }
        }
        fs::create_dir_all(&incoming).map_err(|e| Error::io("creating", &incoming, e))?;
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
                .map(|chunk| scope.spawn(|| read_records(&root_dir, root, chunk)))
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
        let store = Store {
            root: root.to_owned(),
            root_dir,
            incoming,
            faults,
            queue_state: Mutex::new(queue_state),
            _lock: lock,
        };
        Ok((store, scan))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of an experiment (which may not exist), for the
    /// processing command and for people; the store itself never opens it by
    /// this path.
    pub fn dir(&self, id: Id) -> PathBuf {
        self.root.join(id.to_string())
    }

    /// Opens an experiment's directory without following a link in its place.
    fn open_dir(&self, id: Id, op: &'static str) -> Result<ExperimentDir, Error> {
        ExperimentDir::open(&self.root_dir, &self.root, &id.to_string(), op)
    }

    /// Writes an experiment under `.incoming/`. Nothing is visible yet, and
    /// nothing is flushed: [`Store::flush`] does that for many at once.
    pub fn stage(&self, record: &Record, query: &Query) -> Result<Staged, Error> {
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
    pub fn flush(&self, paths: &[PathBuf]) -> Result<(), Error> {
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
    pub fn publish(&self, staged: Vec<Staged>) -> Result<Published, Error> {
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
    pub fn sync_root(&self) -> Result<(), Error> {
        sync_path(&self.root)
    }

    /// Removes published experiments that could not be made durable, so that
    /// nothing unacknowledged stays visible.
    pub fn withdraw(&self, published: Published) {
        for dir in published.0 {
            if let Err(err) = fs::remove_dir_all(&dir) {
                log::error!(
                    "removing the unacknowledged experiment {}: {err}",
                    dir.display()
                );
            }
        }
    }

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
    pub fn write_record(&self, record: &Record) -> Result<(), Error> {
        self.faults
            .check("writing", &self.dir(record.id).join(RECORD_FILE))?;
        let dir = self.open_dir(record.id, "writing the record of")?;
        dir.replace(RECORD_FILE, NEXT_RECORD_FILE, &record_json(record)?)
    }

    /// Replaces a hidden file of seqspool's own in an experiment's directory
    /// (such as the notifications' outbox) as the record is replaced: written
    /// to `scratch` beside it, then swapped, never through a link.
    pub fn write_own(&self, id: Id, name: &str, scratch: &str, bytes: &[u8]) -> Result<(), Error> {
        self.faults.check("writing", &self.dir(id).join(name))?;
        let dir = self.open_dir(id, "writing a file of")?;
        dir.replace(name, scratch, bytes)
    }

    /// Reads a file of seqspool's own in an experiment's directory (never
    /// through a link); `None` if there is none.
    pub fn read_own(&self, id: Id, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let dir = self.open_dir(id, "reading a file of")?;
        match dir.read(name) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io("reading", dir.path_of(name), err)),
        }
    }

    /// The plain files directly inside an experiment's directory, by name.
    /// Fails if the directory is gone or a link took its place.
    pub fn files(&self, id: Id) -> Result<Vec<FileInfo>, Error> {
        let dir = self.open_dir(id, "listing")?;
        dir.plain_files()
            .map_err(|e| Error::io("listing", self.dir(id), e))
    }

    /// Opens one plain file directly inside an experiment's directory.
    ///
    /// The name must be a single path component, the file a regular file and
    /// not a link (`O_NOFOLLOW`), and the directory the experiment's own, not
    /// a link in its place, so nothing outside the directory can be reached.
    /// Anything else is "not found".
    pub fn open_file(&self, id: Id, name: &str) -> Result<(File, u64), Error> {
        let not_found = || Error::NotFound(format!("experiment {id} has no file named '{name}'"));
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
            return Err(not_found());
        }
        let dir = match self.open_dir(id, "opening a file of") {
            Ok(dir) => dir,
            Err(err) if err.is_experiment_fault() => return Err(not_found()),
            Err(err) => return Err(err),
        };
        dir.open_plain(name).map_err(|_| not_found())
    }
}

/// Bytes read from the end of a log to find its last lines: 40 long lines.
const TAIL_BYTES: u64 = 16 * 1024;

/// The last lines of a log file.
#[derive(Debug, PartialEq, Eq)]
pub struct Tail {
    pub text: String,
    /// Whether earlier lines were left out.
    pub cut: bool,
}

impl Store {
    /// The last `lines` lines of one of an experiment's files (a log still
    /// being written is read as it was), or `None` if it has no such file.
    pub fn tail(&self, id: Id, name: &str, lines: usize) -> Option<Tail> {
        let (file, length) = self.open_file(id, name).ok()?;
        read_tail(file, length, lines).ok()
    }
}

/// Reads the last `lines` lines of the first `length` bytes of `file`.
pub fn read_tail(mut file: File, length: u64, lines: usize) -> io::Result<Tail> {
    let start = length.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(length - start).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // Starting mid-file, the first line is a piece of one.
    let whole_lines = if start > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    let all: Vec<&str> = whole_lines.lines().collect();
    let first = all.len().saturating_sub(lines);
    Ok(Tail {
        text: all[first..].join("\n"),
        cut: start > 0 || first > 0,
    })
}

/// The queue's state on disk.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct QueueState {
    #[serde(default)]
    paused: Option<Pause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drained: Option<Drain>,
    /// The first id never given, as far as removed experiments (whose
    /// directories are gone) could hide it from the start-up scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_id: Option<Id>,
}

/// What `.queue.json` holds; a damaged file is reported and read as empty.
fn read_queue_state(path: &Path) -> QueueState {
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
    pub fn write_pause(&self, pause: Option<&Pause>) -> Result<(), Error> {
        self.change_queue_state(|state| state.paused = pause.cloned())
    }

    /// Records the server's drain (or its end) durably, beside the pause.
    pub fn write_drain(&self, drain: Option<&Drain>) -> Result<(), Error> {
        self.change_queue_state(|state| state.drained = drain.cloned())
    }

    /// Changes `.queue.json` durably: written aside, flushed, renamed over.
    /// On failure nothing changed, on disk or here.
    fn change_queue_state(&self, change: impl FnOnce(&mut QueueState)) -> Result<(), Error> {
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

    /// Removes finished experiments' directories, crash-safely: their ids
    /// are recorded as used first (no directory will say so any more), each
    /// directory is renamed into `.trash/` (the removal: from then on the
    /// start-up scan never sees it, and deletes what is left), and the renames
    /// are flushed. [`Store::empty_trash`] deletes them after. Returns the ids
    /// whose directories are gone (also those someone removed already); one
    /// that cannot be moved is logged and kept.
    pub fn trash(&self, ids: &[Id]) -> Result<Vec<Id>, Error> {
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
    pub fn empty_trash(&self, ids: &[Id]) {
        let trash = self.root.join(TRASH_DIR);
        for id in ids {
            if let Err(err) = remove_entry(&trash.join(id.to_string())) {
                // Out of sight already; the next start deletes what is left.
                log::error!("{err}");
            }
        }
    }

    /// The space on disk an experiment's directory takes; see [`tree_size`].
    pub fn size(&self, id: Id) -> u64 {
        tree_size(&self.dir(id))
    }

    /// Bytes free for seqspool on the file system of the experiments.
    pub fn free_space(&self) -> Result<u64, Error> {
        let stat = rustix::fs::statvfs(&self.root)
            .map_err(|e| Error::io("reading the free space of", &self.root, e.into()))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Whether the store can take experiments: it can write (a file is
    /// written, flushed and removed) and at least `min_free` bytes are free.
    /// The error says what is wrong, for the reason of a pause.
    pub fn check(&self, min_free: u64) -> Result<(), String> {
        let probe = self.root.join(".probe");
        let written = self
            .faults
            .check("writing", &probe)
            .and_then(|()| write_file(&probe, b"seqspool\n"))
            .and_then(|()| sync_path(&probe));
        let _ = fs::remove_file(&probe);
        written.map_err(|err| format!("the experiments directory cannot be written: {err}"))?;
        let free = self.free_space().map_err(|err| err.to_string())?;
        if free < min_free {
            return Err(format!(
                "the disk holding {} has {} free, less than the {} it must keep free (--min-free)",
                self.root.display(),
                bytes(free),
                bytes(min_free)
            ));
        }
        Ok(())
    }
}

/// A size in words: `512 KiB`, `63.9 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A temporary file in `dir` that, once renamed into place, the lab's other
/// accounts can read like any file the command writes (tempfile's default is 0600).
pub fn readable_temp_file(dir: &Path) -> Result<tempfile::NamedTempFile, Error> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))
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

/// The record from before an experiment's last change, if it is readable.
fn read_previous_record(dir: &ExperimentDir) -> Option<Record> {
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
fn read_record_in(dir: &ExperimentDir) -> Result<Record, Error> {
    let path = || dir.path_of(RECORD_FILE);
    let bytes = dir
        .read(RECORD_FILE)
        .map_err(|e| Error::io("reading", path(), e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Internal(format!("reading {}: {e}", path().display())))
}

fn record_json(record: &Record) -> Result<Vec<u8>, Error> {
    let mut json = serde_json::to_vec_pretty(record)
        .map_err(|e| Error::Internal(format!("encoding a record: {e}")))?;
    json.push(b'\n');
    Ok(json)
}

/// The space on disk the directory `dir` and everything under it take, in
/// bytes, as `du` counts it (what removing it frees); links are not followed.
/// 0 if it is not a directory or cannot be read.
pub fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn walk(path: &Path, meta: &fs::Metadata) -> u64 {
        let own = meta.blocks() * 512;
        if !meta.is_dir() {
            return own;
        }
        let Ok(entries) = fs::read_dir(path) else {
            return own;
        };
        own + entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                // Not followed: a link counts as itself.
                fs::symlink_metadata(&path)
                    .ok()
                    .map(|meta| walk(&path, &meta))
            })
            .sum::<u64>()
    }
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => walk(dir, &meta),
        _ => 0,
    }
}

/// Removes a directory and what it holds, or a file or a link (never what one points at).
fn remove_entry(path: &Path) -> Result<(), Error> {
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

/// The id of a staged directory's name (`000042.XXXXXX`).
fn staged_id(name: &str) -> Option<Id> {
    name.split('.').next()?.parse().ok()
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = File::create(path).map_err(|e| Error::io("creating", path, e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io("writing", path, e))
}

/// Flushes a file, or a directory's entries (the names in it), to disk.
fn sync_path(path: &Path) -> Result<(), Error> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("flushing", path, e))
}

/// Takes the exclusive lock that keeps a second server out of the directory.
fn lock(path: &Path) -> Result<File, Error> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("opening the lock file", path, e))?;
    if let Err(err) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
    {
        if err == rustix::io::Errno::WOULDBLOCK {
            let dir = path.parent().unwrap_or(path);
            return Err(Error::Internal(format!(
                "another seqspool is already serving {} (it holds the lock on {}); stop it, or give this one another --experiments",
                dir.display(),
                path.display()
            )));
        }
        return Err(Error::io("locking", path, err.into()));
    }
    // The pid is for the operator's eyes only: the lock is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use crate::query::{parse_submission, AlphabetPolicy, Limits};
    use crate::time::Timestamp;

    fn query(name: &str) -> Query {
        let limits = Limits {
            max_records: 10,
            max_residues: 100,
            alphabet: AlphabetPolicy::Auto,
        };
        parse_submission(Some(name), Some("ACGT"), &limits)
            .unwrap()
            .remove(0)
    }

    fn test_choice() -> crate::model::Choice {
        crate::model::Choice::new(
            &crate::pipeline::Pipeline::default_command("true", None),
            Default::default(),
        )
    }

    fn accept(store: &Store, id: u64, name: &str) -> Record {
        let query = query(name);
        let record = Record::new(Id(id), &query, None, &test_choice(), Timestamp::now());
        let staged = store.stage(&record, &query).unwrap();
        store.flush(&staged.paths()).unwrap();
        let _published = store.publish(vec![staged]).unwrap();
        store.sync_root().unwrap();
        record
    }

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
    fn a_second_store_on_the_same_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = Store::open(tmp.path(), Faults::default()).unwrap();
        let err = Store::open(tmp.path(), Faults::default()).err().unwrap();
        assert!(
            err.to_string()
                .contains("another seqspool is already serving"),
            "{err}"
        );
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

    #[test]
    fn only_plain_files_inside_the_directory_are_served() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(tmp.path(), Faults::default()).unwrap();
        accept(&store, 1, "q");
        let dir = store.dir(Id(1));
        fs::write(tmp.path().join("secret"), "no").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), dir.join("link")).unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        assert!(store.open_file(Id(1), QUERY_FILE).is_ok());
        for name in [
            "link",
            "sub",
            "../secret",
            "..",
            ".",
            "",
            "sub/x",
            ".hidden",
        ] {
            assert!(
                matches!(store.open_file(Id(1), name), Err(Error::NotFound(_))),
                "{name}"
            );
        }
        let names: Vec<_> = store
            .files(Id(1))
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, [RECORD_FILE, QUERY_FILE]);
    }

    /// Every name under `dir` with its bytes (a directory's are empty), links not followed.
    fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                found.push((path.clone(), Vec::new()));
                found.extend(contents(&path));
            } else if meta.is_symlink() {
                found.push((
                    path.clone(),
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                ));
            } else {
                found.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn an_experiment_directory_replaced_by_a_link_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("experiments");
        let (store, _) = Store::open(&root, Faults::default()).unwrap();
        accept(&store, 1, "first");
        let mut record = accept(&store, 2, "second");
        // What a command did: moved its directory away, and put a link to another in its place.
        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("secret.txt"), "not for clients\n").unwrap();
        fs::copy(store.dir(Id(2)).join(RECORD_FILE), target.join(RECORD_FILE)).unwrap();
        fs::rename(store.dir(Id(2)), root.join("moved-000002")).unwrap();
        std::os::unix::fs::symlink(&target, store.dir(Id(2))).unwrap();
        let before = contents(&target);

        for name in ["secret.txt", RECORD_FILE] {
            assert!(
                matches!(store.open_file(Id(2), name), Err(Error::NotFound(_))),
                "{name}"
            );
            assert_eq!(store.tail(Id(2), name, 10), None, "{name}");
        }
        let listed = store.files(Id(2));
        assert!(
            listed.as_ref().is_err_and(Error::is_experiment_fault),
            "{listed:?}"
        );

        record.state = State::Running;
        let err = store
            .write_record(&record)
            .expect_err("the write is refused");
        assert!(err.is_experiment_fault(), "{err}");
        assert!(err.to_string().contains("000002"), "{err}");
        assert_eq!(contents(&target), before, "the link's target is untouched");
        // Only that experiment is refused.
        assert_eq!(store.files(Id(1)).unwrap().len(), 2);

        // A plain file in the directory's place, or nothing at all, is refused the same way.
        fs::remove_file(store.dir(Id(2))).unwrap();
        let err = store
            .write_record(&record)
            .expect_err("no directory to write in");
        assert!(err.is_experiment_fault(), "{err}");
        fs::write(store.dir(Id(2)), "a file").unwrap();
        let err = store
            .write_record(&record)
            .expect_err("a file is no directory");
        assert!(err.is_experiment_fault(), "{err}");
        assert_eq!(fs::read(store.dir(Id(2))).unwrap(), b"a file");
        fs::remove_file(store.dir(Id(2))).unwrap();
        std::os::unix::fs::symlink(&target, store.dir(Id(2))).unwrap();

        // At the next start the link is skipped, not read, and its id stays used.
        drop(store);
        let (_store, scan) = Store::open(&root, Faults::default()).unwrap();
        let ids: Vec<Id> = scan.records.iter().map(|r| r.id).collect();
        assert_eq!(ids, [Id(1)]);
        assert_eq!((scan.skipped, scan.next_id), (2, Id(3)));
        assert_eq!(contents(&target), before);
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

#[cfg(test)]
mod tail_tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn the_tail_of_a_log_is_its_last_whole_lines() {
        let mut file = tempfile::tempfile().unwrap();
        for i in 0..100 {
            writeln!(file, "line {i}").unwrap();
        }
        let length = file.metadata().unwrap().len();
        let tail = read_tail(file.try_clone().unwrap(), length, 40).unwrap();
        assert!(tail.cut);
        assert!(tail.text.starts_with("line 60\n"));
        assert!(tail.text.ends_with("line 99"));

        let long = "x".repeat(TAIL_BYTES as usize);
        writeln!(file, "{long}\nlast").unwrap();
        let length = file.metadata().unwrap().len();
        let tail = read_tail(file, length, 40).unwrap();
        assert_eq!(tail.text, "last");
    }
}
