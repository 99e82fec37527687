//! What results keep in an experiment's directory: a page's BLAST report,
//! under a hidden name (`.hits.asn.report.json`: names starting with `.` are
//! neither listed nor served), with the identity of the archive it was made
//! from, so a page view reads it instead of running BLAST, and a changed
//! archive is formatted again.
//!
//! The processing command ran in this directory with seqspool's rights, so
//! nothing here follows a link: the directory is opened without following one
//! (relative to the experiments root), a cached file is read only if it is a
//! plain file, and one is written under a new name and renamed into place.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::blast::report::Report;
use crate::model::Id;

/// Bumped when [`Report`] changes, so reports cached before are made again.
const VERSION: u32 = 3;
/// The largest cached report read back: many times what [`Report`] keeps.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Which archive a report was made from: the same file, unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Key {
    pub len: u64,
    pub modified_ns: i64,
    pub inode: u64,
}

impl Key {
    pub(super) fn of(file: &File) -> io::Result<Key> {
        let meta = file.metadata()?;
        Ok(Key {
            len: meta.len(),
            modified_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    version: u32,
    key: Key,
    report: Report,
}

/// The hidden name of the report made from the archive `archive`.
pub(super) fn name(archive: &str) -> String {
    format!(".{archive}.report.json")
}

/// An experiment's directory, open, reached without following a link.
pub(super) struct Dir(OwnedFd);

impl Dir {
    pub(super) fn open(root: &Path, id: Id) -> io::Result<Dir> {
        let root = File::open(root)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(Dir(rustix::fs::openat(
            &root,
            id.to_string(),
            flags,
            Mode::empty(),
        )?))
    }

    /// The report cached for `archive`, if there is one made from the file
    /// `key` identifies.
    pub(super) fn report(&self, archive: &str, key: Key) -> Option<Report> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file =
            File::from(rustix::fs::openat(&self.0, name(archive), flags, Mode::empty()).ok()?);
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_BYTES {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_BYTES).read_to_end(&mut bytes).ok()?;
        let cached: Cached = serde_json::from_slice(&bytes).ok()?;
        (cached.version == VERSION && cached.key == key).then_some(cached.report)
    }

    /// Keeps `report`, made from the archive `key` identifies: written under
    /// a new name, then renamed over any older one.
    pub(super) fn keep(&self, archive: &str, key: Key, report: &Report) -> io::Result<()> {
        let cached = Cached {
            version: VERSION,
            key,
            report: report.clone(),
        };
        let bytes = serde_json::to_vec(&cached).map_err(io::Error::other)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temporary = format!(
            ".{archive}.report.{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.0, &temporary, flags, Mode::from_raw_mode(0o644))?;
        let written = File::from(fd).write_all(&bytes).and_then(|()| {
            rustix::fs::renameat(&self.0, &temporary, &self.0, name(archive))
                .map_err(io::Error::from)
        });
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.0, &temporary, rustix::fs::AtFlags::empty());
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blast::report::tests::report;

    #[test]
    fn a_report_is_kept_for_its_archive_and_never_through_a_link() {
        let root = tempfile::tempdir().unwrap();
        let id = Id(7);
        let dir_path = root.path().join(id.to_string());
        std::fs::create_dir(&dir_path).unwrap();
        std::fs::write(dir_path.join("hits.asn"), b"archive").unwrap();
        let archive = File::open(dir_path.join("hits.asn")).unwrap();
        let key = Key::of(&archive).unwrap();

        let dir = Dir::open(root.path(), id).unwrap();
        assert_eq!(dir.report("hits.asn", key), None);
        dir.keep("hits.asn", key, &report()).unwrap();
        assert_eq!(dir.report("hits.asn", key), Some(report()));
        assert!(dir_path.join(".hits.asn.report.json").is_file());
        // Another archive (or the same, changed) is not this report's.
        let other = Key {
            len: key.len + 1,
            ..key
        };
        assert_eq!(dir.report("hits.asn", other), None);
        // Nothing else was left behind.
        let names: Vec<String> = std::fs::read_dir(&dir_path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        // A link in the directory's place is not followed.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::remove_dir_all(&dir_path).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &dir_path).unwrap();
        assert!(Dir::open(root.path(), id).is_err());

        // Nor a link in the report's place.
        std::fs::remove_file(&dir_path).unwrap();
        std::fs::create_dir(&dir_path).unwrap();
        let target = elsewhere.path().join("target.json");
        std::fs::write(&target, b"{}").unwrap();
        std::os::unix::fs::symlink(&target, dir_path.join(name("hits.asn"))).unwrap();
        let dir = Dir::open(root.path(), id).unwrap();
        assert_eq!(dir.report("hits.asn", key), None);
        dir.keep("hits.asn", key, &report()).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    }
}
