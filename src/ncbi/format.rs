//! The formats a client asks for (`FORMAT_TYPE`), made from a search's BLAST
//! archive (`-outfmt 11`) with `blast_formatter`, as NCBI makes them.
//!
//! The archive is copied out of the experiment's directory (read through the
//! store, which follows no links) into a temporary directory, and the
//! formatter runs there: its own process group, niced, within a time limit,
//! never more than [`AT_ONCE`] at a time, so that clients asking for reports
//! cannot take the machine from the search that is running. Its arguments
//! are ours: formats and numbers, never a client's text.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::Error;

/// Formatters that may run at once; more clients wait their turn.
const AT_ONCE: usize = 2;
static RUNNING: Semaphore = Semaphore::const_new(AT_ONCE);

/// How long one formatting may take: a whole-genome report takes seconds.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The largest report sent; beyond it the client is told to ask for fewer hits.
const MAX_REPORT: u64 = 1 << 30;

/// The formats of `FORMAT_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `-outfmt 5`: what Biopython's `NCBIXML` and `Bio.Blast` read.
    Xml,
    /// `-outfmt 0`, the pairwise report, after the status block NCBI puts first.
    Text,
    /// `-outfmt 7`, tab-separated with comment lines, after the status block.
    Tabular,
    /// `-outfmt 0` as a web page.
    Html,
    /// `-outfmt 13` files, zipped: `RID.json` naming `RID_1.json`.
    Json2,
    /// `-outfmt 14` files, zipped: `RID.xml` including `RID_1.xml`.
    Xml2,
}

impl Format {
    /// `FORMAT_TYPE` as clients send it; NCBI takes any case.
    pub fn parse(text: &str) -> Option<Format> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "XML" => Format::Xml,
            "TEXT" => Format::Text,
            "TABULAR" => Format::Tabular,
            "HTML" => Format::Html,
            "JSON2" => Format::Json2,
            "XML2" => Format::Xml2,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "XML, Text, Tabular, HTML, JSON2 or XML2";

    /// Whether the report is a zip archive.
    pub fn is_zip(self) -> bool {
        matches!(self, Format::Json2 | Format::Xml2)
    }

    fn outfmt(self) -> &'static str {
        match self {
            Format::Xml => "5",
            Format::Text | Format::Html => "0",
            Format::Tabular => "7",
            Format::Json2 => "13",
            Format::Xml2 => "14",
        }
    }
}

/// How much of the result to report: `ALIGNMENTS` and `DESCRIPTIONS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub alignments: Option<u32>,
    pub descriptions: Option<u32>,
}

/// What to format: the archive's bytes, the environment its search ran in
/// (where the database is), and the RID that names the files of a zip.
pub struct Job<'a> {
    pub formatter: &'a str,
    pub archive: std::fs::File,
    pub env: BTreeMap<String, String>,
    pub rid: &'a str,
}

/// Formats `job`'s archive as `format`, within `limits`: the report's bytes.
pub async fn report(job: Job<'_>, format: Format, limits: Limits) -> Result<Vec<u8>, Error> {
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|_| Error::Internal("the formatter's turns are closed".into()))?;
    let dir = tempfile::Builder::new()
        .prefix("seqspool-format-")
        .tempdir()
        .map_err(|err| {
            Error::io(
                "making a directory to format a BLAST report in",
                std::env::temp_dir(),
                err,
            )
        })?;
    let archive = dir.path().join("search.asn");
    let copy_to = archive.clone();
    let source = job.archive;
    off_thread(move || copy(source, &copy_to)).await?;

    let base = dir.path().join(job.rid);
    let out = match format {
        Format::Json2 | Format::Xml2 => base.clone(),
        _ => dir.path().join("report"),
    };
    let mut command = tokio::process::Command::new("nice");
    command
        .args(["-n", "10"])
        .arg(job.formatter)
        .arg("-archive")
        .arg(&archive)
        .args(["-outfmt", format.outfmt()])
        .arg("-out")
        .arg(&out);
    if format == Format::Html {
        command.arg("-html");
    }
    match format {
        Format::Text | Format::Html => {
            if let Some(n) = limits.descriptions {
                command.args(["-num_descriptions", &n.to_string()]);
            }
            if let Some(n) = limits.alignments {
                command.args(["-num_alignments", &n.to_string()]);
            }
        }
        _ => {
            // Structured reports carry each hit with its alignments.
            if let Some(n) = limits.alignments.or(limits.descriptions) {
                command.args(["-max_target_seqs", &n.max(1).to_string()]);
            }
        }
    }
    command
        .current_dir(dir.path())
        .envs(&job.env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn().map_err(|err| {
        Error::Internal(format!(
            "could not start nice to run {}: {err}",
            job.formatter
        ))
    })?;
    let output = tokio::time::timeout(TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            Error::Internal(format!(
                "{} took more than {} s to format the report; ask for fewer hits (ALIGNMENTS)",
                job.formatter,
                TIME_LIMIT.as_secs()
            ))
        })?
        .map_err(|err| Error::Internal(format!("waiting for {}: {err}", job.formatter)))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(Error::Internal(match output.status.code() {
            Some(127) => format!(
                "{} was not found; the operator can install BLAST+ or set blast_formatter in the [ncbi] section",
                job.formatter
            ),
            code => format!(
                "{} could not format the report (exit {}): {said}",
                job.formatter,
                code.map_or("by a signal".into(), |c| c.to_string())
            ),
        }));
    }
    let rid = job.rid.to_owned();
    off_thread(move || {
        let dir = dir;
        if format.is_zip() {
            zip_files(dir.path(), &rid, format)
        } else {
            read_capped(&out)
        }
    })
    .await
}

/// Runs file work off the async threads.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Error::Internal(format!("formatting a report: {err}")))?
}

fn copy(mut from: std::fs::File, to: &Path) -> Result<(), Error> {
    let mut file = std::fs::File::create(to)
        .map_err(|err| Error::io("copying a BLAST archive to format it", to, err))?;
    io::copy(&mut from, &mut file)
        .map_err(|err| Error::io("copying a BLAST archive to format it", to, err))?;
    Ok(())
}

fn read_capped(path: &Path) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path)
        .map_err(|err| Error::io("reading a formatted BLAST report", path, err))?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| Error::io("reading a formatted BLAST report", path, err))?;
    if bytes.len() as u64 > MAX_REPORT {
        return Err(Error::TooLarge(format!(
            "the report is larger than {}; ask for fewer hits (ALIGNMENTS, DESCRIPTIONS)",
            crate::store::bytes(MAX_REPORT)
        )));
    }
    Ok(bytes)
}

/// NCBI's zip of a multi-file report: the file that names the others as
/// `RID.json` (or `.xml`), then one file per query, `RID_1.json`, ...
fn zip_files(dir: &Path, rid: &str, format: Format) -> Result<Vec<u8>, Error> {
    let extension = if format == Format::Json2 {
        "json"
    } else {
        "xml"
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|err| Error::io("reading a formatted BLAST report", dir, err))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name == rid || name.starts_with(&format!("{rid}_")))
        .collect();
    // The one that names the others first, then the queries in order.
    names.sort_by_key(|name| {
        let number = name
            .strip_prefix(&format!("{rid}_"))
            .and_then(|rest| rest.split('.').next()?.parse::<u64>().ok());
        (number.is_some(), number)
    });
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut total = 0u64;
    for name in names {
        let path = dir.join(&name);
        let bytes = read_capped(&path)?;
        total += bytes.len() as u64;
        if total > MAX_REPORT {
            return Err(Error::TooLarge(
                "the report is too large; ask for fewer hits (ALIGNMENTS)".into(),
            ));
        }
        // blast_formatter names the first file as given (no extension).
        let entry = if name == rid {
            format!("{rid}.{extension}")
        } else {
            name
        };
        zip.start_file(entry, options)
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|err| Error::Internal(format!("zipping a BLAST report: {err}")))?;
    }
    let cursor = zip
        .finish()
        .map_err(|err| Error::Internal(format!("zipping a BLAST report: {err}")))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_types_are_read_in_any_case() {
        assert_eq!(Format::parse("xml"), Some(Format::Xml));
        assert_eq!(Format::parse("JSON2"), Some(Format::Json2));
        assert_eq!(Format::parse("Tabular"), Some(Format::Tabular));
        assert_eq!(Format::parse("ASN.1"), None);
    }

    #[test]
    fn a_zip_holds_the_index_file_first_then_each_query() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("RID"), "{\"BlastJSON\": []}").unwrap();
        std::fs::write(dir.path().join("RID_2.json"), "two").unwrap();
        std::fs::write(dir.path().join("RID_1.json"), "one").unwrap();
        std::fs::write(dir.path().join("search.asn"), "not zipped").unwrap();
        let bytes = zip_files(dir.path(), "RID", Format::Json2).unwrap();
        assert!(bytes.starts_with(b"PK\x03\x04"));
        let mut archive = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
            .collect();
        assert_eq!(names, ["RID.json", "RID_1.json", "RID_2.json"]);
    }
}
