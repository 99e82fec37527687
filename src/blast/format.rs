//! BLAST+ output formats made from a search's archive (`-outfmt 11`) with
//! `blast_formatter`: the experiment page's report, the downloads, and any
//! other room (an NCBI-style API) that needs a format the search was not run
//! with.
//!
//! A search runs once and keeps its archive; every other format is made from
//! it later in moments, as SequenceServer does. `blast_formatter` reads the
//! archive on its standard input, from a file already open (never a path a
//! processing command could swap for a link), and writes into a file, under a
//! time limit and a size limit; at most [`MAX_RUNNING`] run at once, so page
//! views cannot crowd out the search the worker runs. It is one blocking call:
//! run it on the blocking pool, never on the async threads.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The program that formats archives, found on the server's `PATH`.
pub(crate) const PROGRAM: &str = "blast_formatter";

/// How many `blast_formatter` may run at once, server-wide: a workstation
/// has few cores, and the worker's search needs them.
pub(crate) const MAX_RUNNING: usize = 2;

/// Bytes of `blast_formatter`'s own messages kept for an error.
const MAX_MESSAGE: u64 = 4 * 1024;

/// What `-num_descriptions` and `-num_alignments` are for the pairwise
/// report when every hit is wanted: `blast_formatter`'s defaults (500 and
/// 250) would cut a search that kept more.
const ALL_HITS: u32 = 1_000_000;

/// The most hits `blast_formatter` takes in `-num_descriptions`,
/// `-num_alignments` and `-max_target_seqs`: each is a C `int`, and a larger
/// number is refused with its usage text. A larger limit asks for all of them.
const MOST_HITS: u32 = i32::MAX as u32;

/// The standard twelve columns of `-outfmt 6` (what `std` stands for).
pub(crate) const STANDARD_COLUMNS: [&str; 12] = [
    "qaccver", "saccver", "pident", "length", "mismatch", "gapopen", "qstart", "qend", "sstart",
    "send", "evalue", "bitscore",
];

/// Every column BLAST+ can write in `-outfmt 6`, `7` and `10`, with what it
/// means in a few words (a table's heading).
pub(crate) const COLUMNS: [(&str, &str); 51] = [
    ("qseqid", "Query"),
    ("qgi", "Query GI"),
    ("qacc", "Query accession"),
    ("qaccver", "Query"),
    ("qlen", "Query length"),
    ("sseqid", "Subject"),
    ("sallseqid", "All subject ids"),
    ("sgi", "Subject GI"),
    ("sallgi", "All subject GIs"),
    ("sacc", "Subject accession"),
    ("saccver", "Subject"),
    ("sallacc", "All subject accessions"),
    ("slen", "Subject length"),
    ("qstart", "Query start"),
    ("qend", "Query end"),
    ("sstart", "Subject start"),
    ("send", "Subject end"),
    ("qseq", "Query sequence"),
    ("sseq", "Subject sequence"),
    ("evalue", "E-value"),
    ("bitscore", "Bit score"),
    ("score", "Raw score"),
    ("length", "Alignment length"),
    ("pident", "% identity"),
    ("nident", "Identities"),
    ("mismatch", "Mismatches"),
    ("positive", "Positives"),
    ("gapopen", "Gap opens"),
    ("gaps", "Gaps"),
    ("ppos", "% positives"),
    ("frames", "Frames"),
    ("qframe", "Query frame"),
    ("sframe", "Subject frame"),
    ("btop", "BTOP"),
    ("staxid", "Taxon id"),
    ("ssciname", "Scientific name"),
    ("scomname", "Common name"),
    ("sblastname", "BLAST name"),
    ("sskingdom", "Kingdom"),
    ("staxids", "Taxon ids"),
    ("sscinames", "Scientific names"),
    ("scomnames", "Common names"),
    ("sblastnames", "BLAST names"),
    ("sskingdoms", "Kingdoms"),
    ("stitle", "Subject title"),
    ("salltitles", "All subject titles"),
    ("sstrand", "Subject strand"),
    ("qcovs", "Query coverage"),
    ("qcovhsp", "Query coverage (HSP)"),
    ("qcovus", "Query coverage (unique)"),
    ("std", "Standard columns"),
];

/// The heading of a tabular column, if `specifier` is one BLAST+ knows.
pub(crate) fn column_label(specifier: &str) -> Option<&'static str> {
    COLUMNS
        .iter()
        .find(|(name, _)| *name == specifier)
        .map(|(_, label)| *label)
}

/// A BLAST+ output format (`-outfmt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `0`: the pairwise text report (`Query=`, alignments).
    Pairwise,
    /// `5`: BLAST XML.
    Xml,
    /// `6`: tab-separated, one line per HSP.
    Tabular(Columns),
    /// `7`: tab-separated, with comment lines naming the query, database and columns.
    CommentedTabular(Columns),
    /// `15`: single-file BLAST JSON.
    Json,
}

/// Which columns a tabular format writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Columns {
    /// BLAST's twelve (`std`).
    Standard,
    /// Every column BLAST+ can write, in the order of [`COLUMNS`].
    All,
    /// These, each one of [`COLUMNS`].
    Named(Vec<String>),
}

impl Columns {
    /// The specifiers, as `-outfmt` takes them after the number.
    pub(crate) fn specifiers(&self) -> Vec<&str> {
        match self {
            Columns::Standard => STANDARD_COLUMNS.to_vec(),
            Columns::All => {
                let mut all: Vec<&str> = Vec::new();
                for (name, _) in COLUMNS {
                    if name != "std" && !all.contains(&name) {
                        all.push(name);
                    }
                }
                all
            }
            Columns::Named(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

impl Format {
    /// The value of `-outfmt`.
    pub(crate) fn outfmt(&self) -> String {
        let tabular = |number: &str, columns: &Columns| {
            let mut text = number.to_owned();
            for name in columns.specifiers() {
                text.push(' ');
                text.push_str(name);
            }
            text
        };
        match self {
            Format::Pairwise => "0".into(),
            Format::Xml => "5".into(),
            Format::Tabular(columns) => tabular("6", columns),
            Format::CommentedTabular(columns) => tabular("7", columns),
            Format::Json => "15".into(),
        }
    }

    /// Whether the format names the databases searched as the search's
    /// `-db` gave them, paths and all ([`super::searched::unpath`] names
    /// them otherwise); the pairwise report names them by title itself.
    pub(crate) fn names_databases(&self) -> bool {
        matches!(
            self,
            Format::Xml | Format::CommentedTabular(_) | Format::Json
        )
    }

    /// The usual file extension of the format.
    pub(crate) fn extension(&self) -> &'static str {
        match self {
            Format::Pairwise => "txt",
            Format::Xml => "xml",
            Format::Tabular(_) | Format::CommentedTabular(_) => "tsv",
            Format::Json => "json",
        }
    }
}

/// What one formatting may take, and where it runs.
#[derive(Clone)]
pub(crate) struct Options {
    /// How long `blast_formatter` may run (waiting for a turn included).
    pub timeout: Duration,
    /// The most bytes it may write; it is stopped beyond.
    pub max_bytes: u64,
    /// Keep only the first hits of each query (`-max_target_seqs`); all the
    /// archive holds when `None`.
    pub max_hits: Option<u32>,
    /// The pairwise report only: the hits its summary lists
    /// (`-num_descriptions`), when they should differ from `max_hits` (the
    /// hits whose alignments it shows).
    pub max_descriptions: Option<u32>,
    /// Its working directory: where a database named by a relative path is
    /// found, as it was by the search.
    pub dir: Option<PathBuf>,
    /// Variables added to its environment: `BLASTDB` and the like, as the
    /// pipeline gave its search.
    pub env: Vec<(String, String)>,
    /// Asked now and then; when it says yes, formatting stops (the server is
    /// shutting down).
    pub stop: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl Options {
    pub(crate) fn new(timeout: Duration, max_bytes: u64) -> Options {
        Options {
            timeout,
            max_bytes,
            max_hits: None,
            max_descriptions: None,
            dir: None,
            env: Vec::new(),
            stop: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .field("max_hits", &self.max_hits)
            .field("max_descriptions", &self.max_descriptions)
            .field("dir", &self.dir)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

/// Why an archive could not be formatted.
#[derive(Debug)]
pub enum FormatError {
    /// `blast_formatter` is not on this server's `PATH`: BLAST+ is not installed.
    Missing,
    /// It ran longer than the time limit, and was stopped.
    TimedOut(Duration),
    /// It wrote more than the size limit, and was stopped.
    TooLarge(u64),
    /// The server is shutting down.
    Stopped,
    /// It failed; `message` is what it said (the archive is damaged, its
    /// database is gone, ...).
    Failed { code: Option<i32>, message: String },
    /// Reading the archive, or writing what it made, failed.
    Io(io::Error),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Missing => write!(
                f,
                "BLAST+ is not installed on this server ({PROGRAM} is not on its PATH)"
            ),
            FormatError::TimedOut(limit) => write!(
                f,
                "{PROGRAM} took longer than {} s and was stopped",
                limit.as_secs()
            ),
            FormatError::TooLarge(limit) => write!(
                f,
                "{PROGRAM} wrote more than {} and was stopped",
                crate::store::bytes(*limit)
            ),
            FormatError::Stopped => write!(f, "the server is shutting down"),
            FormatError::Failed { code, message } => {
                match code {
                    Some(code) => write!(f, "{PROGRAM} failed with exit code {code}")?,
                    None => write!(f, "{PROGRAM} was killed")?,
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            FormatError::Io(err) => write!(f, "formatting a BLAST archive: {err}"),
        }
    }
}

impl std::error::Error for FormatError {}

impl From<FormatError> for Error {
    fn from(err: FormatError) -> Error {
        match err {
            FormatError::Stopped => Error::ShuttingDown,
            other => Error::Internal(other.to_string()),
        }
    }
}

/// Where an archive is read from.
#[derive(Debug)]
pub(crate) enum Archive<'a> {
    /// A file at a path this server trusts (one it wrote itself).
    Path(&'a Path),
    /// A file already open: one a processing command wrote, opened without
    /// following a link (`Store::open_file`).
    File(File),
}

impl<'a> From<&'a Path> for Archive<'a> {
    fn from(path: &'a Path) -> Archive<'a> {
        Archive::Path(path)
    }
}

impl From<File> for Archive<'_> {
    fn from(file: File) -> Self {
        Archive::File(file)
    }
}

impl Archive<'_> {
    fn open(self) -> Result<File, FormatError> {
        match self {
            Archive::Path(path) => File::open(path).map_err(FormatError::Io),
            Archive::File(file) => Ok(file),
        }
    }
}

/// Formats an archive and returns what `blast_formatter` wrote: for what
/// fits in memory (`options.max_bytes`), such as a page's report.
///
/// ```ignore
/// use std::path::Path;
/// use std::time::Duration;
/// use crate::blast::format::{self as blast, Columns, Format, Options};
///
/// let options = Options::new(Duration::from_secs(60), 64 << 20);
/// let tsv = blast::format(Path::new("hits.asn"), &Format::Tabular(Columns::Standard), &options)?;
/// # Ok::<(), blast::FormatError>(())
/// ```
pub(crate) fn format<'a>(
    archive: impl Into<Archive<'a>>,
    format: &Format,
    options: &Options,
) -> Result<Vec<u8>, FormatError> {
    let mut output = tempfile::tempfile().map_err(FormatError::Io)?;
    let written = format_file(archive, format, options, &output)?;
    let mut bytes = Vec::with_capacity(written as usize);
    output.seek(SeekFrom::Start(0)).map_err(FormatError::Io)?;
    output.read_to_end(&mut bytes).map_err(FormatError::Io)?;
    Ok(bytes)
}

/// Formats an archive into `output` (which should be empty:
/// `blast_formatter` writes from where it stands), and returns how many
/// bytes it wrote: for what may be too large to hold in memory, such as a
/// download streamed from an unnamed temporary file.
pub(crate) fn format_file<'a>(
    archive: impl Into<Archive<'a>>,
    format: &Format,
    options: &Options,
    output: &File,
) -> Result<u64, FormatError> {
    let stdout = output.try_clone().map_err(FormatError::Io)?;
    let written = || output.metadata().map_or(0, |m| m.len());
    run(
        archive.into(),
        &format.outfmt(),
        *format == Format::Pairwise,
        options,
        (stdout.into(), None),
        &written,
    )?;
    Ok(written())
}

/// The formats written as several files: one that names the others, then
/// one per query (what NCBI's JSON2 and XML2 downloads zip together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// `-outfmt 13`: `BASE` lists `BASE_1.json`, `BASE_2.json`, ...
    Json,
    /// `-outfmt 14`: `BASE` includes `BASE_1.xml`, `BASE_2.xml`, ...
    Xml2,
}

/// Formats an archive as `split` into `dir`, the file naming the others
/// called `base` (which must be a plain file name), and returns the bytes
/// written in all.
pub(crate) fn format_split<'a>(
    archive: impl Into<Archive<'a>>,
    split: Split,
    options: &Options,
    dir: &Path,
    base: &str,
) -> Result<u64, FormatError> {
    let outfmt = match split {
        Split::Json => "13",
        Split::Xml2 => "14",
    };
    let written = || {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(|entry| entry.ok()?.metadata().ok())
                .map(|meta| meta.len())
                .sum()
        })
    };
    let out = dir.join(base);
    run(
        archive.into(),
        outfmt,
        false,
        options,
        (std::process::Stdio::null(), Some(&out)),
        &written,
    )?;
    Ok(written())
}

/// Runs `blast_formatter` over `archive` in its turn, writing to `output`
/// (standard output, or `-out` a path); `written` says how much it has
/// written so far, for the size limit.
fn run(
    archive: Archive<'_>,
    outfmt: &str,
    pairwise: bool,
    options: &Options,
    output: (std::process::Stdio, Option<&Path>),
    written: &dyn Fn() -> u64,
) -> Result<(), FormatError> {
    let archive = archive.open()?;
    let started = Instant::now();
    let _turn = Turn::wait(options.timeout).ok_or(FormatError::TimedOut(options.timeout))?;
    let mut messages = tempfile::tempfile().map_err(FormatError::Io)?;
    let mut command = Command::new(PROGRAM);
    command
        .args(["-archive", "-", "-outfmt", outfmt])
        .stdin(archive)
        .stdout(output.0)
        .stderr(messages.try_clone().map_err(FormatError::Io)?);
    if let Some(path) = output.1 {
        command.arg("-out").arg(path);
    }
    match (pairwise, options.max_hits.map(|hits| hits.min(MOST_HITS))) {
        // The pairwise report counts hits its own way, and cuts at 500 by default.
        (true, hits) => {
            let descriptions = options.max_descriptions.or(hits).unwrap_or(ALL_HITS);
            let descriptions = descriptions.min(MOST_HITS);
            command.args([
                "-num_descriptions",
                &descriptions.to_string(),
                "-num_alignments",
                &hits.unwrap_or(ALL_HITS).to_string(),
            ]);
        }
        (false, Some(hits)) => {
            command.args(["-max_target_seqs", &hits.to_string()]);
        }
        (false, None) => {}
    }
    if let Some(dir) = &options.dir {
        command.current_dir(dir);
    }
    command.envs(options.env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn().map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => FormatError::Missing,
        _ => FormatError::Io(err),
    })?;

    let status = supervise(&mut child, started, options, written)?;
    if status.success() {
        return Ok(());
    }
    let mut said = Vec::new();
    messages.seek(SeekFrom::Start(0)).map_err(FormatError::Io)?;
    messages
        .take(MAX_MESSAGE)
        .read_to_end(&mut said)
        .map_err(FormatError::Io)?;
    Err(FormatError::Failed {
        code: status.code(),
        message: message(&String::from_utf8_lossy(&said)),
    })
}

/// Waits for `child`, a BLAST+ program started at `started`, and stops
/// (kills) it past `options`' time limit, past its size limit (what
/// `written` says it wrote), or when `options.stop` says so.
pub(crate) fn supervise(
    child: &mut std::process::Child,
    started: Instant,
    options: &Options,
    written: &dyn Fn() -> u64,
) -> Result<std::process::ExitStatus, FormatError> {
    let mut pause = Duration::from_millis(2);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(FormatError::Io)? {
            break status;
        }
        let stop = if started.elapsed() > options.timeout {
            Some(FormatError::TimedOut(options.timeout))
        } else if written() > options.max_bytes {
            Some(FormatError::TooLarge(options.max_bytes))
        } else if options.stop.as_ref().is_some_and(|stop| stop()) {
            Some(FormatError::Stopped)
        } else {
            None
        };
        if let Some(err) = stop {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    if written() > options.max_bytes {
        return Err(FormatError::TooLarge(options.max_bytes));
    }
    Ok(status)
}

/// What `blast_formatter` said, in one line: its error lines, without the
/// pointer to the manual it adds to each.
pub(crate) fn message(said: &str) -> String {
    let lines: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty() && !line.starts_with("Please refer to the BLAST+ user manual")
        })
        .take(3)
        .collect();
    lines.join(" ")
}

/// A turn to run `blast_formatter` (or `blastdbcmd` for a download): one
/// of [`MAX_RUNNING`], given back on drop.
pub(crate) struct Turn;

static RUNNING: Mutex<usize> = Mutex::new(0);
static TURN_FREED: Condvar = Condvar::new();

impl Turn {
    /// Waits for a turn, at most `limit`.
    pub(crate) fn wait(limit: Duration) -> Option<Turn> {
        let deadline = Instant::now() + limit;
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_RUNNING {
            let left = deadline.checked_duration_since(Instant::now())?;
            running = TURN_FREED
                .wait_timeout(running, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *running += 1;
        Some(Turn)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        TURN_FREED.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_written_as_outfmt_takes_them() {
        assert_eq!(Format::Xml.outfmt(), "5");
        assert_eq!(Format::Json.outfmt(), "15");
        assert_eq!(
            Format::Tabular(Columns::Named(vec!["qseqid".into(), "stitle".into()])).outfmt(),
            "6 qseqid stitle"
        );
        assert_eq!(
            Format::Tabular(Columns::Standard).outfmt(),
            "6 qaccver saccver pident length mismatch gapopen qstart qend sstart send evalue bitscore"
        );
    }

    #[test]
    fn all_columns_are_every_column_once() {
        let all = Columns::All.specifiers();
        assert!(!all.contains(&"std"));
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
        for name in STANDARD_COLUMNS {
            assert!(all.contains(&name), "{name}");
        }
        assert_eq!(column_label("pident"), Some("% identity"));
        assert_eq!(column_label("nonsense"), None);
    }

    #[test]
    fn blast_formatters_message_is_kept_without_the_manual() {
        assert_eq!(
            message("BLAST query/options error: Invalid input format for BLAST Archive.\nPlease refer to the BLAST+ user manual.\n"),
            "BLAST query/options error: Invalid input format for BLAST Archive."
        );
    }

    #[test]
    fn turns_are_given_back() {
        let turns: Vec<Turn> = (0..MAX_RUNNING)
            .map(|_| Turn::wait(Duration::from_secs(5)).unwrap())
            .collect();
        assert!(Turn::wait(Duration::from_millis(20)).is_none());
        drop(turns);
        assert!(Turn::wait(Duration::from_millis(20)).is_some());
    }
}
