//! The lab's users: `.users.json` in the experiments directory, so that
//! `seqspool user ...` and the server agree on it with no more flags.
//!
//! The file holds each user's name, role and the SHA-256 hash of their token,
//! never the token. `seqspool user` changes it the way the store writes a
//! record (a temporary file, flushed, renamed into place, the directory
//! flushed), under a lock of its own so that two commands never lose each
//! other's change; the server only reads it, and reads it again when it
//! changes, so a user added or removed counts without a restart.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::token::Hash;
use super::{Role, User};
use crate::error::Error;
use crate::time::Timestamp;

/// The users file, in the experiments directory.
pub const USERS_FILE: &str = ".users.json";

/// The lock `seqspool user` holds while it changes the users file.
const USERS_LOCK: &str = ".users.lock";

/// How often the server looks whether the users file changed: a removed user
/// is refused at most this long after `seqspool user remove`. (A token the
/// server does not know makes it look at once, so an added user never waits.)
const RECHECK: Duration = Duration::from_secs(1);

/// Longest user name: a login name, or an e-mail's local part, fits.
pub const MAX_NAME_CHARS: usize = 64;

/// One user as the file holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token, in hex.
    pub token_sha256: String,
    pub added_at: Timestamp,
}

/// The whole file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UsersFile {
    pub users: Vec<Entry>,
}

/// The users as the server knows them: each one's hash, read once.
#[derive(Debug, Default)]
pub struct Table {
    entries: Vec<(Hash, Arc<User>)>,
}

impl Table {
    fn from_file(file: UsersFile, path: &Path) -> Result<Table, String> {
        let mut entries = Vec::with_capacity(file.users.len());
        for entry in file.users {
            check_name(&entry.name).map_err(|err| format!("{}: {err}", path.display()))?;
            let hash = Hash::from_hex(&entry.token_sha256).ok_or_else(|| {
                format!(
                    "{}: the token hash of {} is not 64 hex digits",
                    path.display(),
                    entry.name
                )
            })?;
            let user = User {
                name: entry.name.into(),
                role: entry.role,
            };
            entries.push((hash, Arc::new(user)));
        }
        Ok(Table { entries })
    }

    /// The user whose token hashes to `hash`. Every entry is compared, each
    /// in constant time, so the answer's timing says nothing about the hashes.
    pub fn find(&self, hash: &Hash) -> Option<Arc<User>> {
        let mut found = None;
        for (stored, user) in &self.entries {
            if stored.matches(hash) {
                found = Some(user.clone());
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What tells one version of the file from the next: each change is a new
/// file renamed into place, so its inode, times or size differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    size: u64,
}

impl Version {
    fn of(meta: &fs::Metadata) -> Version {
        Version {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            size: meta.size(),
        }
    }
}

/// The users file as the server watches it.
pub struct Users {
    path: PathBuf,
    state: Mutex<Watched>,
}

struct Watched {
    table: Arc<Table>,
    /// The version read; `None` while there is no file.
    version: Option<Version>,
    checked: Instant,
}

impl Users {
    /// Reads the users file in `experiments` (none is no users). A damaged
    /// file stops the start: the operator must know nobody can sign in.
    pub fn open(experiments: &Path) -> Result<Users, Error> {
        let path = experiments.join(USERS_FILE);
        let (version, table) = match read_if_changed(&path, None)? {
            Some((version, table)) => (version, table),
            None => (None, Table::default()),
        };
        Ok(Users {
            path,
            state: Mutex::new(Watched {
                table: Arc::new(table),
                version,
                checked: Instant::now(),
            }),
        })
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The users as the file has them now: read again if it changed, when it
    /// was last looked at more than [`RECHECK`] ago, or at once with `fresh`.
    /// The file is looked at on the blocking pool. A file that became
    /// unreadable or damaged is reported, and the users read before stay.
    pub async fn table(&self, fresh: bool) -> Arc<Table> {
        let version = {
            let state = self.state.lock().expect("the users lock is not poisoned");
            if !fresh && state.checked.elapsed() < RECHECK {
                return state.table.clone();
            }
            state.version
        };
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || read_if_changed(&path, version)).await;
        let mut state = self.state.lock().expect("the users lock is not poisoned");
        state.checked = Instant::now();
        match read {
            Ok(Ok(Some((version, table)))) => {
                if state.version != version {
                    log::info!(
                        "read {} again: {} user(s)",
                        self.path.display(),
                        table.len()
                    );
                }
                state.version = version;
                state.table = Arc::new(table);
            }
            Ok(Ok(None)) => {}
            Ok(Err(err)) => log::warn!("{err}; keeping the users read before"),
            Err(err) => log::warn!("reading {}: {err}", self.path.display()),
        }
        state.table.clone()
    }
}

/// Reads the file at `path` unless it is still at `seen`. No file is an
/// empty table (with no version).
fn read_if_changed(
    path: &Path,
    seen: Option<Version>,
) -> Result<Option<(Option<Version>, Table)>, Error> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(seen.map(|_| (None, Table::default())));
        }
        Err(err) => return Err(Error::io("reading", path, err)),
    };
    let version = Version::of(&meta);
    if seen == Some(version) {
        return Ok(None);
    }
    let file = read(path)?;
    let table = Table::from_file(file, path).map_err(Error::Internal)?;
    Ok(Some((Some(version), table)))
}

/// Reads the users file (none is no users).
pub fn read(path: &Path) -> Result<UsersFile, Error> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| Error::Internal(format!("reading {}: {err}", path.display()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
        Err(err) => Err(Error::io("reading", path, err)),
    }
}

/// Changes the users file of `experiments` with `change`, under the lock of
/// the users file, and writes it durably; returns what `change` returned.
/// Nothing is written when `change` fails.
pub fn update<T>(
    experiments: &Path,
    change: impl FnOnce(&mut UsersFile) -> Result<T, String>,
) -> Result<T, String> {
    let path = experiments.join(USERS_FILE);
    let _lock = lock(&experiments.join(USERS_LOCK)).map_err(|err| err.to_string())?;
    let mut file = read(&path).map_err(|err| err.to_string())?;
    let result = change(&mut file)?;
    write(experiments, &path, &file).map_err(|err| err.to_string())?;
    Ok(result)
}

/// Writes `file` at `path` durably and atomically: readers see the old file
/// or the new one, and after a power cut one of them is there.
fn write(dir: &Path, path: &Path, file: &UsersFile) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(file)
        .map_err(|err| Error::Internal(format!("encoding the users: {err}")))?;
    json.push(b'\n');
    let mut temp = tempfile::Builder::new()
        // Only hashes, but nobody else's business.
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(|err| Error::io("creating a temporary file in", dir, err))?;
    // Run as root, the command leaves the file to the directory's owner, who
    // runs the server, and would otherwise be refused it.
    if let Ok(owner) = fs::metadata(dir) {
        let _ = std::os::unix::fs::fchown(temp.as_file(), Some(owner.uid()), Some(owner.gid()));
    }
    temp.write_all(&json)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|err| Error::io("writing", path, err))?;
    temp.persist(path)
        .map_err(|err| Error::io("replacing", path, err.error))?;
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|err| Error::io("flushing", dir, err))
}

/// Takes the users file's lock, waiting for another `seqspool user` to finish.
fn lock(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|err| Error::io("opening the lock file", path, err))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|err| Error::io("locking", path, err.into()))?;
    Ok(file)
}

/// Checks a user name: a letter, then letters, digits, `.`, `_` or `-`. So a
/// name never reads as a client address (which `submitted_by` holds when
/// access is open), and is safe in a log line, a page and a query string.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_is_letter && rest_ok && name.len() <= MAX_NAME_CHARS {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a user name: give a letter, then up to {} letters, digits, '.', '_' or '-'",
            MAX_NAME_CHARS - 1
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, token: &str, role: Role) -> Entry {
        Entry {
            name: name.into(),
            role,
            token_sha256: Hash::of(token).to_hex(),
            added_at: Timestamp::now(),
        }
    }

    #[test]
    fn names_are_plain_and_never_an_address() {
        for good in ["anna", "Bob.Smith", "c_d-2", &"a".repeat(64)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1anna",
            "10.0.0.1",
            "fe80::1",
            "an na",
            "anna/..",
            "<b>",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_server_sees_a_change_of_the_file_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let users = Users::open(dir.path()).unwrap();
        assert!(users.table(false).await.is_empty());

        update(dir.path(), |file| {
            file.users.push(entry("anna", "t-anna", Role::Admin));
            Ok(())
        })
        .unwrap();
        let table = users.table(true).await;
        assert_eq!(&*table.find(&Hash::of("t-anna")).unwrap().name, "anna");
        assert!(table.find(&Hash::of("t-other")).is_none());

        // Changed twice in the same instant: still seen, by the new file's inode.
        for token in ["t-bob", "t-bob2"] {
            update(dir.path(), |file| {
                file.users.retain(|user| user.name != "bob");
                file.users.push(entry("bob", token, Role::Member));
                Ok(())
            })
            .unwrap();
        }
        let table = users.table(true).await;
        assert!(table.find(&Hash::of("t-bob")).is_none());
        assert_eq!(table.find(&Hash::of("t-bob2")).unwrap().role, Role::Member);

        let mode = fs::metadata(dir.path().join(USERS_FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);

        // A failed change writes nothing.
        let failed: Result<(), String> = update(dir.path(), |file| {
            file.users.clear();
            Err("no".into())
        });
        assert!(failed.is_err());
        assert_eq!(read(&dir.path().join(USERS_FILE)).unwrap().users.len(), 2);

        // A damaged file keeps the users read before, and stops a start.
        fs::write(dir.path().join(USERS_FILE), b"{ not json").unwrap();
        assert_eq!(users.table(true).await.len(), 2);
        assert!(Users::open(dir.path()).is_err());

        fs::remove_file(dir.path().join(USERS_FILE)).unwrap();
        assert!(users.table(true).await.is_empty());
    }
}
