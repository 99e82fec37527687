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
//!
//! Here: the [`Store`], its lock and an experiment's files; `scan` reads the
//! directory at start, `publish` stages and flushes what is accepted,
//! `record` keeps each `experiment.json`, `queue_state` the queue's own file,
//! `trash` removes experiments, `dir` opens an experiment's directory,
//! `group` keeps a grouped run's directory and moves its results.

mod dir;
mod group;
mod publish;
mod queue_state;
mod record;
mod scan;
mod trash;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::Error;
use crate::fault::Faults;
use crate::model::{FileInfo, Id};
use dir::ExperimentDir;
use queue_state::QueueState;

pub(crate) use group::MANIFEST_FILE;
pub(crate) use publish::{Published, Staged};
pub use record::read_record;
pub(crate) use scan::Scan;

/// The record of an experiment, in its directory.
pub const RECORD_FILE: &str = "experiment.json";
/// The input, as one FASTA record, for the processing command.
pub const QUERY_FILE: &str = "query.fasta";
/// A FASTQ read's input as it came, with its qualities, beside [`QUERY_FILE`].
pub(crate) const QUALITY_FILE: &str = "query.fastq";
const LOCK_FILE: &str = ".lock";
const INCOMING_DIR: &str = ".incoming";

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
    pub(crate) fn open(root: &Path, faults: Faults) -> Result<(Store, Scan), Error> {
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
        let (scan, queue_state) = scan::scan(root, &root_dir, &incoming, started)?;
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

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of an experiment (which may not exist), for the
    /// processing command and for people; the store itself never opens it by
    /// this path.
    pub(crate) fn dir(&self, id: Id) -> PathBuf {
        self.root.join(id.to_string())
    }

    /// Opens an experiment's directory without following a link in its place.
    fn open_dir(&self, id: Id, op: &'static str) -> Result<ExperimentDir, Error> {
        ExperimentDir::open(&self.root_dir, &self.root, &id.to_string(), op)
    }

    /// The plain files directly inside an experiment's directory, by name.
    /// Fails if the directory is gone or a link took its place.
    pub(crate) fn files(&self, id: Id) -> Result<Vec<FileInfo>, Error> {
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
    pub(crate) fn open_file(&self, id: Id, name: &str) -> Result<(File, u64), Error> {
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
pub(crate) struct Tail {
    pub(crate) text: String,
    /// Whether earlier lines were left out.
    pub(crate) cut: bool,
}

impl Store {
    /// The last `lines` lines of one of an experiment's files (a log still
    /// being written is read as it was), or `None` if it has no such file.
    pub(crate) fn tail(&self, id: Id, name: &str, lines: usize) -> Option<Tail> {
        let (file, length) = self.open_file(id, name).ok()?;
        read_tail(file, length, lines).ok()
    }
}

/// Reads the last `lines` lines of the first `length` bytes of `file`.
pub(crate) fn read_tail(mut file: File, length: u64, lines: usize) -> io::Result<Tail> {
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

impl Store {
    /// The space on disk an experiment's directory takes; see [`tree_size`].
    pub(crate) fn size(&self, id: Id) -> u64 {
        tree_size(&self.dir(id))
    }

    /// Bytes free for seqspool on the file system of the experiments.
    pub(crate) fn free_space(&self) -> Result<u64, Error> {
        let stat = rustix::fs::statvfs(&self.root)
            .map_err(|e| Error::io("reading the free space of", &self.root, e.into()))?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Whether the store can take experiments: it can write (a file is
    /// written, flushed and removed) and at least `min_free` bytes are free.
    /// The error says what is wrong, for the reason of a pause.
    pub(crate) fn check(&self, min_free: u64) -> Result<(), String> {
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
pub(crate) fn bytes(n: u64) -> String {
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
pub(crate) fn readable_temp_file(dir: &Path) -> Result<tempfile::NamedTempFile, Error> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))
}

/// The space on disk the directory `dir` and everything under it take, in
/// bytes, as `du` counts it (what removing it frees); links are not followed.
/// 0 if it is not a directory or cannot be read.
pub(crate) fn tree_size(dir: &Path) -> u64 {
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
    use crate::model::{Record, State};
    use crate::query::{parse_submission, AlphabetPolicy, Limits, Query};
    use crate::time::Timestamp;

    pub(super) fn query(name: &str) -> Query {
        let limits = Limits {
            max_records: 10,
            max_residues: 100,
            alphabet: AlphabetPolicy::Auto,
        };
        parse_submission(Some(name), Some("ACGT"), &limits)
            .unwrap()
            .remove(0)
    }

    pub(super) fn test_choice() -> crate::model::Choice {
        crate::model::Choice::new(
            &crate::pipeline::Pipeline::default_command("true", None),
            Default::default(),
        )
    }

    pub(super) fn accept(store: &Store, id: u64, name: &str) -> Record {
        let query = query(name);
        let record = Record::new(Id(id), &query, None, &test_choice(), Timestamp::now());
        let staged = store.stage(&record, &query).unwrap();
        store.flush(&staged.paths()).unwrap();
        let _published = store.publish(vec![staged]).unwrap();
        store.sync_root().unwrap();
        record
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
    pub(super) fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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
