//! A grouped run's directory, `.groups/GID/` under the experiments root, and
//! the move of each member's results from it into the member's own
//! directory.
//!
//! One run of a command may serve several experiments next in line (a
//! pipeline's `group`). It works in a directory of its own, made afresh for
//! each run and removed when the run ends (a start, and the start-up, clear
//! a leftover one):
//!
//! ```text
//! .groups/GID/
//!   query.fasta    every member's query in run order, each record's id its experiment id
//!   manifest.tsv   a line a member: ID <TAB> OUTPUT_DIR <TAB> QUERY_NAME
//!   out/ID/        each member's results, as the command writes them
//! ```
//!
//! Once the command has run, each member's previous results (anything in its
//! directory but seqspool's own files) are removed and the entries of its
//! `out/ID/` renamed into its directory, never through a link; only then is
//! the member recorded finished, so a crash in between makes it run again
//! with nothing of the interrupted move left.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::{Store, QUALITY_FILE, QUERY_FILE, RECORD_FILE};
use crate::error::Error;
use crate::model::{Id, Record};

/// Where grouped runs work, under the experiments root (hidden: the scan
/// takes it for no experiment).
pub(crate) const GROUPS_DIR: &str = ".groups";
/// The manifest of a group's members, in its directory.
pub(crate) const MANIFEST_FILE: &str = "manifest.tsv";
/// Where each member's results are written, in the group's directory.
const OUT_DIR: &str = "out";
/// The file a command writes in a member's output directory to fail that
/// member alone; its first line is the reason.
pub(crate) const FAILED_FILE: &str = "failed";
/// Most bytes of a `failed` file's reason kept: one line for the page.
const MAX_REASON: u64 = 1024;
/// The files of an experiment's directory that are seqspool's own, which
/// results never remove nor replace (besides every hidden one).
const OWN_FILES: [&str; 5] = [
    RECORD_FILE,
    QUERY_FILE,
    QUALITY_FILE,
    "stdout.txt",
    "stderr.txt",
];

/// Whether `name` in an experiment's directory is seqspool's, not a result.
fn is_own(name: &str) -> bool {
    name.starts_with('.') || OWN_FILES.contains(&name)
}

impl Store {
    /// The directory of the grouped run `group` (which may not exist).
    pub(crate) fn group_dir(&self, group: Id) -> PathBuf {
        self.root.join(GROUPS_DIR).join(group.to_string())
    }

    /// The output directory of `member` in the grouped run `group`.
    pub(crate) fn member_out(&self, group: Id, member: Id) -> PathBuf {
        self.group_dir(group).join(OUT_DIR).join(member.to_string())
    }

    /// Makes the directory of the grouped run of `members` (the first is the
    /// group's id) afresh: their queries, the manifest and an empty output
    /// directory each. Returns its path.
    pub(crate) fn make_group_dir(&self, members: &[Record]) -> Result<PathBuf, Error> {
        let group = members.first().expect("a group has members").id;
        let dir = self.group_dir(group);
        self.remove_group_dir(group)?;
        let out = dir.join(OUT_DIR);
        fs::create_dir_all(&out).map_err(|e| Error::io("creating", &out, e))?;
        let mut queries = Vec::new();
        let mut manifest = String::new();
        for member in members {
            let (mut file, _) = self.open_file(member.id, QUERY_FILE)?;
            let mut query = String::new();
            file.read_to_string(&mut query)
                .map_err(|e| Error::io("reading", self.dir(member.id).join(QUERY_FILE), e))?;
            let header = query.strip_prefix('>').unwrap_or(&query);
            queries.push(format!(">{} {header}", member.id));
            if !queries.last().is_some_and(|q| q.ends_with('\n')) {
                queries.push("\n".into());
            }
            let output = self.member_out(group, member.id);
            fs::create_dir(&output).map_err(|e| Error::io("creating", &output, e))?;
            manifest.push_str(&format!(
                "{}\t{}\t{}\n",
                member.id,
                output.display(),
                member.query_name
            ));
        }
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))
        };
        write(QUERY_FILE, &queries.concat())?;
        write(MANIFEST_FILE, &manifest)?;
        Ok(dir)
    }

    /// Removes the directory of the grouped run `group`, if there is one.
    pub(crate) fn remove_group_dir(&self, group: Id) -> Result<(), Error> {
        let dir = self.group_dir(group);
        match fs::remove_dir_all(&dir) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("removing", &dir, err))
            }
            _ => Ok(()),
        }
    }

    /// Removes every group directory but those of `keep` (groups whose runs
    /// outlived the server and are followed again): what a stop interrupted.
    pub(crate) fn clear_groups(&self, keep: &[Id]) {
        let Ok(entries) = fs::read_dir(self.root.join(GROUPS_DIR)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let kept = name
                .to_str()
                .and_then(|name| name.parse::<Id>().ok())
                .is_some_and(|id| keep.contains(&id));
            if !kept {
                let path = entry.path();
                log::info!(
                    "removing {}, left by an interrupted grouped run",
                    path.display()
                );
                if let Err(err) = fs::remove_dir_all(&path) {
                    log::warn!("could not remove {}: {err}", path.display());
                }
            }
        }
    }

    /// Why the command failed `member` of the grouped run `group` alone:
    /// the first line of the `failed` file in its output directory, if it wrote one.
    pub(crate) fn member_failed(&self, group: Id, member: Id) -> Option<String> {
        let path = self.member_out(group, member).join(FAILED_FILE);
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .ok()?;
        let mut said = Vec::new();
        file.take(MAX_REASON).read_to_end(&mut said).ok()?;
        let said = String::from_utf8_lossy(&said);
        let reason = said.lines().next().unwrap_or("").trim();
        Some(if reason.is_empty() {
            "its group's command marked it failed, without a reason".into()
        } else {
            reason.to_owned()
        })
    }

    /// Replaces `member`'s results with those its grouped run `group` wrote
    /// for it: whatever its directory held but seqspool's own files is
    /// removed, then each entry of its output directory (but `failed` and
    /// the names seqspool keeps) is renamed in. Returns how many were moved.
    pub(crate) fn adopt_results(&self, group: Id, member: Id) -> Result<usize, Error> {
        let dir = self.open_dir(member, "moving results into")?;
        let fd = dir.fd();
        for name in names(fd).map_err(|e| Error::io("listing", dir.path(), e))? {
            if !is_own(&name) {
                remove_tree(fd, &name).map_err(|e| Error::io("removing", dir.path_of(&name), e))?;
            }
        }
        let from = self.member_out(group, member);
        let source = match rustix::fs::open(
            &from,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(source) => source,
            // The command removed it: no results.
            Err(Errno::NOENT) => return Ok(0),
            Err(err) => return Err(Error::io("opening", &from, err.into())),
        };
        let mut moved = 0;
        for name in names(&source).map_err(|e| Error::io("listing", &from, e))? {
            if is_own(&name) || name == FAILED_FILE {
                continue;
            }
            rustix::fs::renameat(&source, name.as_str(), fd, name.as_str())
                .map_err(|e| Error::io("moving", from.join(&name), e.into()))?;
            moved += 1;
        }
        Ok(moved)
    }
}

/// The names in the directory `dir`, but `.` and `..`.
fn names(dir: impl AsFd) -> io::Result<Vec<String>> {
    let mut listing = Dir::read_from(dir)?;
    let mut names = Vec::new();
    while let Some(entry) = listing.read() {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    Ok(names)
}

/// Removes `name` in `dir`, a file, a link (not what it points at) or a
/// directory with everything in it, never through a link.
fn remove_tree(dir: &impl AsFd, name: &str) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(err) => return Err(err.into()),
    }
    let inner: OwnedFd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for entry in names(&inner)? {
        remove_tree(&inner, &entry)?;
    }
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}
