//! The databases a search ran against, as `blastdbcmd` knows them: their
//! titles (`-info`), which a report names them by (a page never shows a
//! path on the server), which of several holds each hit (`-entry_batch`,
//! for a report that says where each hit came from), and the whole
//! sequences of the search's hits, fetched by their ids (`-entry_batch`)
//! for a download (`?format=fasta`).
//! The single lookup of an identifier sent as NCBI's `QUERY` is
//! [`super::ncbi::entry`]'s.
//!
//! The database is the one the archive names, as `blast_formatter` finds it
//! (the same directory and environment). The ids are those the search's own report names (the caller checks them
//! against it) and reach `blastdbcmd` on its standard input, one a line,
//! never on its command line. Each call runs under the formatter's limits
//! and in one of its turns.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::format::{self, FormatError, Options, Turn};
use super::ncbi::entry::PROGRAM;
use super::report::Hit;
use crate::error::Error;

/// Bytes of `blastdbcmd`'s own messages kept for an error.
const MAX_MESSAGE: u64 = 4 * 1024;

/// What `blastdbcmd` says of a database built without `-parse_seqids`.
const NO_SEQIDS: &str = "no accession info";

/// A database a search ran against, as a report names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Database {
    /// Its name without its directory (`reference`).
    pub name: String,
    /// Its title (`makeblastdb -title`), or its name when it has none.
    pub title: String,
}

/// The longest `-info` read for a title: its first line is the title.
const MAX_INFO: u64 = 16 * 1024;

/// The databases `database` (BLAST's `-db`: one name or several,
/// space-separated) names, each with its title as `blastdbcmd -info` gives
/// it; one it cannot read is named by its file name alone, never its path.
pub(crate) fn databases(database: &str, options: &Options) -> Vec<Database> {
    database
        .split_whitespace()
        .map(|word| {
            let name = Path::new(word)
                .file_name()
                .map_or_else(|| word.to_owned(), |n| n.to_string_lossy().into_owned());
            let title = title(word, options).unwrap_or_else(|why| {
                log::debug!("no title of the database {word}: {why}");
                name.clone()
            });
            Database { name, title }
        })
        .collect()
}

/// The title of one database: the first line of `blastdbcmd -info`,
/// `Database: TITLE`.
fn title(database: &str, options: &Options) -> Result<String, String> {
    if database.starts_with('-') {
        return Err("not a database name".into());
    }
    let mut info = tempfile::tempfile().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let _turn = Turn::wait(options.timeout).ok_or("no turn")?;
    let mut command = Command::new(PROGRAM);
    command
        .args(["-db", database, "-info"])
        .stdin(Stdio::null())
        .stdout(info.try_clone().map_err(|e| e.to_string())?)
        .stderr(Stdio::null())
        .envs(options.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &options.dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let limits = Options {
        max_bytes: MAX_INFO,
        ..options.clone()
    };
    let written = || info.metadata().map_or(0, |m| m.len());
    let status =
        format::supervise(&mut child, started, &limits, &written).map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{PROGRAM} -info failed"));
    }
    let mut text = String::new();
    info.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    (&mut info)
        .take(MAX_INFO)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    text.lines()
        .next()
        .and_then(|line| line.strip_prefix("Database:"))
        .map(|title| title.trim().to_owned())
        .filter(|title| !title.is_empty())
        .ok_or_else(|| "no title in its -info".into())
}

/// Writes the entries `ids` of `database` (BLAST's `-db`: one or several
/// names, space-separated) as FASTA into `output`, each under its own
/// defline, and returns the bytes written.
pub(crate) fn fetch(
    database: &str,
    ids: &[String],
    options: &Options,
    output: &File,
) -> Result<u64, Error> {
    let (success, said) = entries(database, ids, "%f", options, output)?;
    // It says so, and goes on, for a database built without ids.
    if said.to_ascii_lowercase().contains(NO_SEQIDS) {
        return Err(Error::WrongState(format!(
            "the database {database} was built without -parse_seqids, so its sequences cannot be \
             fetched by their ids; rebuild it with makeblastdb -parse_seqids (the aligned parts \
             download, format=fasta-aligned, needs no database)"
        )));
    }
    if !success {
        return Err(Error::Internal(format!(
            "{PROGRAM} failed fetching the hits from {database}: {said}"
        )));
    }
    Ok(output.metadata().map_or(0, |m| m.len()))
}

/// How long finding which database holds each hit may take, per database:
/// a lookup of at most a report's hits in an index, well under a second.
const SOURCES_TIME: Duration = Duration::from_secs(30);
/// The most bytes of ids a database's lookup answers with: a report's
/// hundred-odd ids, each one line.
const SOURCES_BYTES: u64 = 1024 * 1024;

/// Which of the databases a search of several ran against holds each of
/// `hits`: `database` is BLAST's `-db` (their paths, space-separated, in the
/// order of `databases`), and the answer maps a hit's id to the title of
/// the database that holds it ("A or B" when several hold an id, since the
/// search does not say which it found). A database that cannot say (built
/// without `-parse_seqids`, say) names none of its hits: the report then
/// says nothing of where they came from.
pub(crate) fn sources(
    database: &str,
    databases: &[Database],
    hits: &[&Hit],
    options: &Options,
) -> BTreeMap<String, String> {
    let options = Options {
        timeout: SOURCES_TIME.min(options.timeout),
        max_bytes: SOURCES_BYTES,
        ..options.clone()
    };
    let ids: Vec<String> = hits.iter().map(|hit| hit.id.clone()).collect();
    let mut holders: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (word, db) in database.split_whitespace().zip(databases) {
        let held = match held(word, &ids, &options) {
            Ok(held) => held,
            Err(err) => {
                log::debug!("which hits {word} holds: {err}");
                continue;
            }
        };
        // Each line is an entry's accession and its whole id (`ref04`,
        // `lcl|ref04`; `NM_000001.1`, `ref|NM_000001.1|`): a hit is named by
        // either, as BLAST's report names it.
        for line in held.lines() {
            let (accession, id) = line.split_once('\t').unwrap_or((line, line));
            let found = hits.iter().find(|hit| {
                hit.id == id || hit.id == accession || hit.accession.as_deref() == Some(accession)
            });
            if let Some(hit) = found {
                let names = holders.entry(hit.id.clone()).or_default();
                if !names.contains(&db.title.as_str()) {
                    names.push(&db.title);
                }
            }
        }
    }
    holders
        .into_iter()
        .map(|(id, names)| (id, names.join(" or ")))
        .collect()
}

/// The accessions and ids `database` (one name) holds of `ids`, a line each.
fn held(database: &str, ids: &[String], options: &Options) -> Result<String, Error> {
    let mut output =
        tempfile::tempfile().map_err(|err| Error::io("making room for", "a list of hits", err))?;
    // Ids it does not hold are skipped, and make it exit 1: not a failure here.
    entries(database, ids, "%a\t%i", options, &output)?;
    let mut text = String::new();
    output
        .seek(SeekFrom::Start(0))
        .and_then(|_| {
            (&mut output)
                .take(options.max_bytes)
                .read_to_string(&mut text)
        })
        .map_err(|err| Error::io("reading", "the hits a database holds", err))?;
    Ok(text)
}

/// Runs `blastdbcmd -entry_batch` on `ids` (on its standard input, one a
/// line) of `database`, each entry written as `outfmt` says into `output`;
/// answers whether it succeeded, and what it said.
fn entries(
    database: &str,
    ids: &[String],
    outfmt: &str,
    options: &Options,
    output: &File,
) -> Result<(bool, String), Error> {
    if database.is_empty() || database.starts_with('-') || database.chars().any(char::is_control) {
        return Err(Error::Internal(format!(
            "the archive names no database {PROGRAM} may open: '{database}'"
        )));
    }
    let room = |err| Error::io("making room for", "a list of hits", err);
    let mut list = tempfile::tempfile().map_err(room)?;
    for id in ids {
        writeln!(list, "{id}").map_err(room)?;
    }
    list.seek(SeekFrom::Start(0)).map_err(room)?;
    let mut messages = tempfile::tempfile().map_err(room)?;
    let started = Instant::now();
    let _turn = Turn::wait(options.timeout).ok_or_else(|| {
        Error::Busy(format!(
            "no turn to run {PROGRAM} within {} s",
            options.timeout.as_secs()
        ))
    })?;
    let mut command = Command::new(PROGRAM);
    command
        .args(["-db", database, "-entry_batch", "-"])
        // Only the defline that names it, not those of every identical sequence.
        .args(["-target_only", "-outfmt", outfmt])
        .stdin(list)
        .stdout(output.try_clone().map_err(room)?)
        .stderr(messages.try_clone().map_err(room)?)
        .envs(options.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &options.dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => Error::Internal(format!(
            "BLAST+ is not installed on this server ({PROGRAM} is not on its PATH)"
        )),
        _ => Error::Internal(format!("starting {PROGRAM}: {err}")),
    })?;
    let written = || output.metadata().map_or(0, |m| m.len());
    let status =
        format::supervise(&mut child, started, options, &written).map_err(|err| match err {
            FormatError::TimedOut(limit) => Error::Internal(format!(
                "{PROGRAM} took longer than {} s and was stopped",
                limit.as_secs()
            )),
            FormatError::TooLarge(limit) => Error::TooLarge(format!(
                "the hits' sequences are more than {}; choose fewer hits",
                crate::store::bytes(limit)
            )),
            other => other.into(),
        })?;
    let mut said = Vec::new();
    messages.seek(SeekFrom::Start(0)).map_err(room)?;
    (&mut messages)
        .take(MAX_MESSAGE)
        .read_to_end(&mut said)
        .map_err(room)?;
    let said = format::message(&String::from_utf8_lossy(&said));
    Ok((status.success(), said))
}
