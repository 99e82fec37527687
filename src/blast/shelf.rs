//! The databases a running server offers, kept current: found at start,
//! and found again when the databases directory changes (a database added
//! with `seqspool db add`, or by hand), so that the built-in BLAST
//! pipelines' `database` choices and the names NCBI's URL API takes follow
//! without a restart. The directory is watched by its directories'
//! modification times and its databases' index files' times and sizes (a
//! database rebuilt in place, with a new title or more sequences, leaves
//! its directory's time as it was), read every [`POLL`] from a thread of
//! its own; a change lists the databases again (`blastdbcmd -list`) and
//! rebuilds both under one lock, so they never disagree for long.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use super::databases::Databases;
use super::ncbi::{NcbiTable, Services};
use super::programs::{self, Settings};
use crate::error::Error;
use crate::pipeline::{Catalog, Pipeline};

/// How often the databases directory is looked at: a database added is
/// offered within this (and a `blastdbcmd -list`), and a look is a few
/// `stat` calls.
const POLL: Duration = Duration::from_secs(2);

/// The pipelines offered and the services of NCBI's URL API, and, with
/// `--blast-databases`, what they are rebuilt from.
#[derive(Debug)]
pub(crate) struct Shelf {
    catalog: Arc<Catalog>,
    services: RwLock<Arc<Services>>,
    /// None without `--blast-databases`: nothing changes then.
    source: Option<Source>,
}

/// What the offered pipelines and services are made of, besides the databases.
#[derive(Debug)]
struct Source {
    dir: PathBuf,
    settings: Settings,
    /// The lab's own pipelines (or the one `--command` makes, or the analysis).
    lab: Vec<Arc<Pipeline>>,
    /// Whether the lab declared them (they come first then).
    declared: bool,
    /// The configuration's `[ncbi]` section and its file's directory, if any.
    ncbi: Option<(NcbiTable, String)>,
    /// Whether NCBI's URL API is made here (from the section, or over the
    /// built-in programs); not when the configuration gave it whole.
    serves_ncbi: bool,
    /// Held while the list is read again, so that two looks never interleave.
    seen: Mutex<Seen>,
}

/// The databases found last, and the directory's stamps then.
#[derive(Debug)]
struct Seen {
    databases: Databases,
    times: Vec<Stamp>,
}

/// A directory or an index file of a database as a look saw it: its path,
/// modification time and size.
type Stamp = (PathBuf, SystemTime, u64);

/// The files that say what a database is: its index (`.nin`, `.pin`: the
/// title, the number of sequences and letters), its alias file (`.nal`,
/// `.pal`: the volumes of one made of several), its metadata (`.njs`,
/// `.pjs`, BLAST databases of version 5). A database rebuilt rewrites them.
const INDEX_FILES: [&str; 6] = ["nin", "pin", "nal", "pal", "njs", "pjs"];

impl Shelf {
    /// What a server offers: the `lab` pipelines, and with a databases
    /// directory (`--blast-databases`) the built-in BLAST programs of the
    /// databases found there (off the async threads), and NCBI's URL API
    /// mapped onto them by the configuration's `[ncbi]` section, or over
    /// them when `fixed` (the configuration's own) is empty.
    pub(crate) async fn open(
        dir: Option<PathBuf>,
        settings: Settings,
        lab: Vec<Arc<Pipeline>>,
        declared: bool,
        ncbi: Option<(NcbiTable, String)>,
        fixed: Arc<Services>,
    ) -> Result<Arc<Shelf>, Error> {
        let Some(dir) = dir else {
            let shelf = Shelf {
                catalog: Arc::new(Catalog::new(lab)),
                services: RwLock::new(fixed),
                source: None,
            };
            return Ok(Arc::new(shelf));
        };
        let (databases, times) = tokio::task::spawn_blocking(move || {
            let times = times_of(&dir);
            Databases::find(&dir).map(|found| (found, times))
        })
        .await
        .map_err(|err| Error::Internal(format!("finding the BLAST databases: {err}")))?
        .map_err(Error::Internal)?;
        log_found(&databases);
        let source = Source {
            dir: databases.dir.clone(),
            settings,
            lab,
            declared,
            serves_ncbi: ncbi.is_some() || fixed.is_empty(),
            ncbi,
            seen: Mutex::new(Seen {
                databases: Databases::default(),
                times,
            }),
        };
        let (offered, services) = source.offer(&databases)?;
        let services = if source.serves_ncbi {
            Arc::new(services)
        } else {
            fixed
        };
        source
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .databases = databases;
        Ok(Arc::new(Shelf {
            catalog: Arc::new(Catalog::new(offered)),
            services: RwLock::new(services),
            source: Some(source),
        }))
    }

    /// The pipelines offered.
    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// What NCBI's URL API offers now.
    pub(crate) fn services(&self) -> Arc<Services> {
        self.services
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Watches the databases directory from a thread of its own, until the
    /// shelf is dropped (the server stopped).
    pub(crate) fn watch(self: &Arc<Shelf>) {
        if self.source.is_none() {
            return;
        }
        let shelf: Weak<Shelf> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("blast-databases".into())
            .spawn(move || loop {
                std::thread::sleep(POLL);
                let Some(shelf) = shelf.upgrade() else {
                    return;
                };
                shelf.look();
            });
        if let Err(err) = spawned {
            log::error!("watching the BLAST databases: {err}; a database added needs a restart");
        }
    }

    /// Lists the databases again if the directory changed since the last
    /// look, and offers what they allow.
    fn look(&self) {
        let Some(source) = &self.source else {
            return;
        };
        let mut seen = source.seen.lock().unwrap_or_else(|p| p.into_inner());
        let times = times_of(&source.dir);
        if times == seen.times {
            return;
        }
        let databases = match Databases::find(&source.dir) {
            Ok(databases) => databases,
            Err(err) => {
                // Kept as they were; the next change tries again.
                log::warn!("listing the BLAST databases again: {err}");
                return;
            }
        };
        seen.times = times;
        if databases.found == seen.databases.found {
            return;
        }
        match source.offer(&databases) {
            Ok((offered, services)) => {
                log_found(&databases);
                self.catalog.replace(offered);
                if source.serves_ncbi {
                    *self.services.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(services);
                }
                seen.databases = databases;
            }
            Err(err) => log::warn!("offering the BLAST databases found again: {err}"),
        }
    }
}

impl Source {
    /// The pipelines `databases` allow beside the lab's, and the services
    /// of NCBI's URL API over them.
    fn offer(&self, databases: &Databases) -> Result<(Vec<Arc<Pipeline>>, Services), Error> {
        let builtin = programs::pipelines(databases, &self.settings);
        let offered = programs::offer(self.lab.clone(), self.declared, builtin);
        let services = match &self.ncbi {
            // The lab's mapping first; the databases found, by their own names, beside it.
            Some((section, dir)) => Services::build(section.clone(), &offered, dir)
                .map_err(|err| {
                    Error::Internal(format!("the configuration's [ncbi] section: {err}"))
                })?
                .beside(programs::services(&offered, databases)),
            None => programs::services(&offered, databases),
        };
        Ok((offered, services))
    }
}

/// Says what was found, for the operator.
fn log_found(databases: &Databases) {
    if databases.found.is_empty() {
        log::warn!(
            "--blast-databases {}: no BLAST database found there (make one with `seqspool db add \
             FILE.fasta`); the built-in BLAST programs are not offered",
            databases.dir.display()
        );
    }
    for db in &databases.found {
        log::info!(
            "BLAST database {} ({:?}): {}, {} sequences, {} letters",
            db.name,
            db.molecule,
            db.title,
            db.sequences,
            db.letters
        );
    }
}

/// The stamps of `dir`, of every directory under it and of the databases'
/// [`INDEX_FILES`] in them (hidden ones left out, as the lister leaves them
/// out): a database added, removed or moved into place changes a
/// directory's, one rebuilt in place its index files'. Only `stat` calls.
fn times_of(dir: &Path) -> Vec<Stamp> {
    let stamp = |path: PathBuf, meta: &std::fs::Metadata| {
        let time = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        (path, time, meta.len())
    };
    let mut times = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        times.push(stamp(dir.clone(), &meta));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else {
                continue;
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
                continue;
            }
            let index = name
                .rsplit_once('.')
                .is_some_and(|(_, extension)| INDEX_FILES.contains(&extension));
            // A file is followed if it is a link: a database's files may be.
            if let Some(meta) = index
                .then(|| std::fs::metadata(entry.path()).ok())
                .flatten()
            {
                times.push(stamp(entry.path(), &meta));
            }
        }
    }
    times.sort();
    times
}
