//! An experiment's directory as an open handle, never reached through a link.
//!
//! A processing command runs in its experiment's directory with seqspool's own
//! rights, so it can put a link (to `/etc`, to another experiment) in place of
//! that directory or of a file seqspool writes there. The store therefore
//! opens an experiment's directory relative to the held experiments root with
//! `O_DIRECTORY | O_NOFOLLOW`, and every name in it relative to that handle: a
//! link is refused, never followed, and the refusal is [`Error::Tampered`],
//! that one experiment's fault.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::error::Error;
use crate::model::FileInfo;

const REPLACED: &str =
    "the experiment's directory was replaced by a link or a file, which seqspool does not follow";
const REMOVED: &str = "the experiment's directory was removed";
const NOT_OURS: &str = "a directory, or something put back as soon as it was removed, is at this \
                        name instead of seqspool's own file; seqspool does not write through it";

/// An experiment's directory, open.
pub(super) struct ExperimentDir {
    fd: OwnedFd,
    /// For messages only: nothing is opened by this path.
    path: PathBuf,
}

impl ExperimentDir {
    /// Opens the directory `name` of the experiments root `root` (whose path
    /// is `root_path`), refusing a link or anything else that is not a
    /// directory. `op` says what for, in the error.
    pub(crate) fn open(
        root: impl AsFd,
        root_path: &Path,
        name: &str,
        op: &'static str,
    ) -> Result<ExperimentDir, Error> {
        let path = root_path.join(name);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(root, name, flags, Mode::empty()) {
            Ok(fd) => Ok(ExperimentDir { fd, path }),
            // O_NOFOLLOW on a link is ELOOP; O_DIRECTORY on a file (or, on some kernels, a link) is ENOTDIR.
            Err(Errno::LOOP | Errno::NOTDIR) => Err(Error::Tampered {
                op,
                path,
                why: REPLACED,
            }),
            Err(Errno::NOENT) => Err(Error::Tampered {
                op,
                path,
                why: REMOVED,
            }),
            Err(err) => Err(Error::io(op, path, err.into())),
        }
    }

    /// The open directory, for operations relative to it.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The directory's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory, for messages.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens the plain file `name` for reading, with its length: not a link
    /// (`O_NOFOLLOW`), not a directory, and not a pipe (`O_NONBLOCK`: opening
    /// one never waits for a writer; it is refused once open).
    pub(crate) fn open_plain(&self, name: &str) -> io::Result<(File, u64)> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::openat(&self.fd, name, flags, Mode::empty())?);
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::other("not a plain file"));
        }
        Ok((file, meta.len()))
    }

    /// Reads the whole of the plain file `name`.
    pub(crate) fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let (mut file, length) = self.open_plain(name)?;
        let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Writes `bytes` into `scratch`, then swaps it with `name` in one
    /// `renameat2(RENAME_EXCHANGE)` (or, where the file system cannot, or
    /// `name` is missing, renames it over `name`): a reader or a crash sees the
    /// old `name` or the new one, whole, and the old one is kept as `scratch`.
    ///
    /// `scratch` is written only if it is seqspool's own: a plain file linked
    /// nowhere else. Whatever else a command left at that name (a link, a
    /// file hard-linked from elsewhere, a pipe) is removed, never written through.
    pub(crate) fn replace(&self, name: &str, scratch: &str, bytes: &[u8]) -> Result<(), Error> {
        let scratch_path = || self.path_of(scratch);
        let (mut file, old_length) = self.own_file(scratch)?;
        file.write_all(bytes)
            .map_err(|e| Error::io("writing", scratch_path(), e))?;
        // Truncating after the write, not at the open: an open with O_TRUNC
        // would have emptied a hard link to someone else's file before the check.
        let length = bytes.len() as u64;
        if old_length > length {
            file.set_len(length)
                .map_err(|e| Error::io("writing", scratch_path(), e))?;
        }
        drop(file);
        self.exchange(scratch, name)
            .map_err(|e| Error::io("replacing", self.path_of(name), e))
    }

    /// Opens `name` for writing if it is seqspool's own file (creating it if
    /// missing), with its current length; whatever else is there is removed
    /// first and the file made anew.
    fn own_file(&self, name: &str) -> Result<(File, u64), Error> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o644);
        let creating = |e: io::Error| Error::io("creating", self.path_of(name), e);
        match rustix::fs::openat(&self.fd, name, flags, mode) {
            Ok(fd) => {
                let file = File::from(fd);
                let meta = file.metadata().map_err(creating)?;
                if meta.file_type().is_file() && meta.nlink() == 1 {
                    return Ok((file, meta.len()));
                }
            }
            // A link (ELOOP), a directory (EISDIR), a pipe or socket nobody reads (ENXIO).
            Err(Errno::LOOP | Errno::ISDIR | Errno::NXIO) => {}
            Err(err) => return Err(creating(err.into())),
        }
        let tampered = || Error::Tampered {
            op: "creating",
            path: self.path_of(name),
            why: NOT_OURS,
        };
        // The name goes, not what it points at. A directory stays, and is refused.
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(Errno::ISDIR) => return Err(tampered()),
            Err(err) => return Err(creating(err.into())),
        }
        match rustix::fs::openat(&self.fd, name, flags | OFlags::EXCL, mode) {
            Ok(fd) => Ok((File::from(fd), 0)),
            // Put back at once: a command racing us, and losing.
            Err(Errno::EXIST | Errno::LOOP | Errno::ISDIR | Errno::NXIO) => Err(tampered()),
            Err(err) => Err(creating(err.into())),
        }
    }

    /// Swaps `from` and `to`, both in this directory.
    fn exchange(&self, from: &str, to: &str) -> io::Result<()> {
        let dir = &self.fd;
        match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::EXCHANGE) {
            Ok(()) => Ok(()),
            Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                Ok(rustix::fs::renameat(dir, from, dir, to)?)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The plain files directly in the directory, by name, except hidden ones
    /// (the temporary files of an atomic replace start with a dot). Links and
    /// directories are never served, so they are never listed.
    pub(crate) fn plain_files(&self) -> io::Result<Vec<FileInfo>> {
        let mut dir = Dir::read_from(&self.fd)?;
        let mut files = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_bytes().starts_with(b".") {
                continue;
            }
            let kind = entry.file_type();
            if kind != FileType::RegularFile && kind != FileType::Unknown {
                continue;
            }
            let Ok(stat) = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue; // removed since it was listed
            };
            if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
                files.push(FileInfo {
                    name: name.to_string_lossy().into_owned(),
                    size: stat.st_size as u64,
                });
            }
        }
        files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }
}
