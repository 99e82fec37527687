//! The databases a search ran against, as `blastdbcmd` knows them: their
//! titles (`-info`), which a report names them by (a page never shows a
//! path on the server), which of several holds each hit (`-entry_batch`,
//! for a report that says where each hit came from), and the whole
//! sequences of the search's hits, fetched by their ids (`-entry_batch`)
//! for a download (`?format=fasta`). The formats a client reads (XML,
//! JSON, the commented table) carry the search's `-db` as BLAST wrote it,
//! paths and all; [`unpath`] rewrites those lines to the databases' names,
//! or titles where a person reads them.
//! The single lookup of an identifier sent as NCBI's `QUERY` is
//! [`super::ncbi::entry`]'s.
//!
//! The database is the one the archive names, as `blast_formatter` finds it
//! (the same directory and environment). The ids are those the search's own report names (the caller checks them
//! against it) and reach `blastdbcmd` on its standard input, one a line,
//! never on its command line. Each call runs under the formatter's limits
//! and in one of its turns.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::databases::{is_name, DATABASES_VAR, LISTER as PROGRAM};
use super::format::{self, FormatError, Options, Turn};
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
            let name = name_of(word, options);
            let title = title(word, options).unwrap_or_else(|why| {
                log::debug!("no title of the database {word}: {why}");
                name.clone()
            });
            Database { name, title }
        })
        .collect()
}

/// The name a report gives the database `word` (one path of BLAST's
/// `-db`): its path under the directory its search found databases in
/// (the built-in programs' [`DATABASES_VAR`], or `BLASTDB`, in
/// `options.env`), else its file name; never a path on the server.
pub(crate) fn name_of(word: &str, options: &Options) -> String {
    let path = Path::new(word);
    let dirs = options
        .env
        .iter()
        .filter(|(key, _)| key == DATABASES_VAR || key == "BLASTDB")
        .flat_map(|(_, dirs)| dirs.split(':'))
        .filter(|dir| !dir.is_empty());
    for dir in dirs {
        let under = path.strip_prefix(dir).ok().and_then(|p| p.to_str());
        if let Some(name) = under.filter(|name| is_name(name)) {
            return name.to_owned();
        }
    }
    path.file_name()
        .map_or_else(|| word.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// How a line of a formatted report names the databases searched.
#[derive(Clone, Copy)]
enum Shown {
    /// By name, for a program to read (`reference plasmids`).
    Names,
    /// By title, for a person (`Reference set; Lab plasmids`), as the
    /// pairwise report's own header has them.
    Titles,
}

/// The lines BLAST writes its search's `-db` into: what comes before the
/// value and after it, and how the value is shown instead.
const DATABASE_LINES: [(&str, &str, Shown); 4] = [
    // -outfmt 7, the commented table.
    ("# Database: ", "", Shown::Titles),
    // -outfmt 5, BLAST XML (Biopython's `record.database`).
    ("<BlastOutput_db>", "</BlastOutput_db>", Shown::Names),
    // -outfmt 14, XML2's search target.
    ("<db>", "</db>", Shown::Names),
    // -outfmt 13 and 15, JSON's search target.
    ("\"db\": \"", "\"", Shown::Names),
];

/// Copies `input`, a report `blast_formatter` wrote with `options`, into
/// `output`, each line that names the databases searched naming them as
/// [`DATABASE_LINES`] says instead of by their paths, and returns the bytes
/// written. Every other line is copied as it is.
pub(crate) fn unpath(
    mut input: impl BufRead,
    output: impl Write,
    options: &Options,
) -> io::Result<u64> {
    let mut output = BufWriter::new(output);
    let mut titles: HashMap<String, String> = HashMap::new();
    let mut line = Vec::new();
    let mut written = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let shown = database_line(&line, options, &mut titles);
        let bytes = shown.as_deref().map_or(&line[..], str::as_bytes);
        output.write_all(bytes)?;
        written += bytes.len() as u64;
    }
    output.flush()?;
    Ok(written)
}

/// `line` naming the databases without their paths, if it is one of
/// [`DATABASE_LINES`]; `titles` keeps the titles already looked up.
fn database_line(
    line: &[u8],
    options: &Options,
    titles: &mut HashMap<String, String>,
) -> Option<String> {
    let body = line.trim_ascii_start();
    let (start, end, shown) = DATABASE_LINES
        .into_iter()
        .find(|(start, _, _)| body.starts_with(start.as_bytes()))?;
    let text = std::str::from_utf8(line).ok()?;
    let indent = &text[..text.len() - text.trim_start().len()];
    let rest = text.trim_start().strip_prefix(start)?;
    let content = rest.trim_end_matches(['\r', '\n']);
    let newline = &rest[content.len()..];
    let (value, tail) = if end.is_empty() {
        (content, "")
    } else {
        content.split_at(content.rfind(end)?)
    };
    let value = match shown {
        Shown::Names => value
            .split_whitespace()
            .map(|word| name_of(word, options))
            .collect::<Vec<_>>()
            .join(" "),
        Shown::Titles => titles
            .entry(value.to_owned())
            .or_insert_with(|| {
                databases(value, options)
                    .into_iter()
                    .map(|db| db.title)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .clone(),
    };
    Some(format!("{indent}{start}{value}{tail}{newline}"))
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
/// `hits` (each one's id and accession, as the report names it): `database` is BLAST's `-db` (their paths, space-separated, in the
/// order of `databases`), and the answer maps a hit's id to the title of
/// the database that holds it ("A or B" when several hold an id, since the
/// search does not say which it found). A database that cannot say (built
/// without `-parse_seqids`, say) names none of its hits: the report then
/// says nothing of where they came from.
pub(crate) fn sources(
    database: &str,
    databases: &[Database],
    hits: &[(&str, Option<&str>)],
    options: &Options,
) -> BTreeMap<String, String> {
    let options = Options {
        timeout: SOURCES_TIME.min(options.timeout),
        max_bytes: SOURCES_BYTES,
        ..options.clone()
    };
    let ids: Vec<String> = hits.iter().map(|(id, _)| id.to_string()).collect();
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
            let found = hits.iter().find(|(hit, hit_accession)| {
                *hit == id || *hit == accession || *hit_accession == Some(accession)
            });
            if let Some((hit, _)) = found {
                let names = holders.entry(hit.to_string()).or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn options(dir: &str) -> Options {
        let mut options = Options::new(Duration::from_secs(5), 1 << 20);
        options.env = vec![(DATABASES_VAR.into(), dir.into())];
        options
    }

    #[test]
    fn a_database_is_named_by_its_path_under_the_directory_or_its_file_name() {
        let options = options("/data/blastdb");
        assert_eq!(
            name_of("/data/blastdb/lab/plasmids", &options),
            "lab/plasmids"
        );
        assert_eq!(name_of("/data/blastdb/nt", &options), "nt");
        assert_eq!(name_of("/srv/other/swissprot", &options), "swissprot");
        assert_eq!(name_of("nt", &options), "nt");
        assert_eq!(name_of("/data/blastdb/.building-x-1/x", &options), "x");
    }

    #[test]
    fn the_lines_that_name_the_databases_lose_their_paths_and_no_other_changes() {
        let options = options("/data/blastdb");
        let db = "/data/blastdb/reference /data/blastdb/lab/plasmids";
        let report = format!(
            "<BlastOutput_db>{db}</BlastOutput_db>\n\
             \x20         <db>{db}</db>\r\n\
             \x20       \"db\": \"{db}\",\n\
             <Hit_def>/data/blastdb/reference is a defline</Hit_def>\n\
             # Database: {db}\n\
             last line without an end"
        );
        let mut out = Vec::new();
        let written = unpath(report.as_bytes(), &mut out, &options).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(written, out.len() as u64);
        assert_eq!(
            out,
            "<BlastOutput_db>reference lab/plasmids</BlastOutput_db>\n\
             \x20         <db>reference lab/plasmids</db>\r\n\
             \x20       \"db\": \"reference lab/plasmids\",\n\
             <Hit_def>/data/blastdb/reference is a defline</Hit_def>\n\
             # Database: reference; lab/plasmids\n\
             last line without an end"
        );
    }
}
