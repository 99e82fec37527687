//! The formats a client asks for (`FORMAT_TYPE`), made from a search's BLAST
//! archive (`-outfmt 11`) by [`crate::blast::format`], as NCBI makes them: one file,
//! or for JSON2 and XML2 a zip of the file naming the others and one file per
//! query.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::blast::format::{self as blast, Columns, Split};
use crate::blast::searched;
use crate::error::Error;
use crate::time::Timestamp;
use crate::zipstream::ZipStream;

/// How long one formatting may take (waiting for a turn included): a
/// whole-genome report takes seconds.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// The largest report sent; beyond it the client is told to ask for fewer hits.
const MAX_REPORT: u64 = 1 << 30;

/// The formats of `FORMAT_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
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
    pub(crate) fn parse(text: &str) -> Option<Format> {
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

    pub(crate) const NAMES: &'static str = "XML, Text, Tabular, HTML, JSON2 or XML2";
}

/// How much of the result to report: `ALIGNMENTS` and `DESCRIPTIONS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub alignments: Option<u32>,
    pub descriptions: Option<u32>,
}

/// What to format: the archive, opened without following links, and the
/// environment its search ran in (where the database is found).
pub(crate) struct Job {
    pub archive: std::fs::File,
    pub env: BTreeMap<String, String>,
    /// The RID, which names the files of a zip.
    pub rid: String,
}

/// Formats `job`'s archive as `format`, within `limits`: the report's bytes.
/// A blocking call: run it on the blocking pool.
pub(crate) fn report(job: Job, format: Format, limits: Limits) -> Result<Vec<u8>, Error> {
    let mut options = blast::Options::new(TIME_LIMIT, MAX_REPORT);
    options.env = job.env.into_iter().collect();
    match format {
        Format::Text | Format::Html => {
            options.max_hits = limits.alignments;
            options.max_descriptions = limits.descriptions;
            blast::format(job.archive, &blast::Format::Pairwise, &options).map_err(too_large)
        }
        Format::Xml | Format::Tabular => {
            // Structured reports carry each hit with its alignments.
            options.max_hits = limits.alignments.or(limits.descriptions).map(|n| n.max(1));
            let format = match format {
                Format::Xml => blast::Format::Xml,
                _ => blast::Format::CommentedTabular(Columns::Standard),
            };
            let report = blast::format(job.archive, &format, &options).map_err(too_large)?;
            unpath(&report, &options)
        }
        Format::Json2 | Format::Xml2 => {
            options.max_hits = limits.alignments.or(limits.descriptions).map(|n| n.max(1));
            let dir = tempfile::Builder::new()
                .prefix("seqspool-format-")
                .tempdir()
                .map_err(|err| {
                    Error::io(
                        "making a directory to format a report in",
                        std::env::temp_dir(),
                        err,
                    )
                })?;
            let split = if format == Format::Json2 {
                Split::Json
            } else {
                Split::Xml2
            };
            blast::format_split(job.archive, split, &options, dir.path(), &job.rid)
                .map_err(too_large)?;
            zip_files(dir.path(), &job.rid, format, &options)
        }
    }
}

/// `report` naming the databases searched by name (or title), not by their
/// paths on the server.
fn unpath(report: &[u8], options: &blast::Options) -> Result<Vec<u8>, Error> {
    let mut named = Vec::with_capacity(report.len());
    searched::unpath(report, &mut named, options)
        .map_err(|err| Error::Internal(format!("naming the databases of a report: {err}")))?;
    Ok(named)
}

/// A report too large says what to do about it.
fn too_large(err: blast::FormatError) -> Error {
    match err {
        blast::FormatError::TooLarge(limit) => Error::TooLarge(format!(
            "the report is larger than {}; ask for fewer hits (ALIGNMENTS, DESCRIPTIONS)",
            crate::store::bytes(limit)
        )),
        other => other.into(),
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path)
        .map_err(|err| Error::io("reading a formatted BLAST report", path, err))?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| Error::io("reading a formatted BLAST report", path, err))?;
    if bytes.len() as u64 > MAX_REPORT {
        return Err(too_large(blast::FormatError::TooLarge(MAX_REPORT)));
    }
    Ok(bytes)
}

/// NCBI's zip of a multi-file report: the file that names the others as
/// `RID.json` (or `.xml`), then one file per query, `RID_1.json`, ...
fn zip_files(
    dir: &Path,
    rid: &str,
    format: Format,
    options: &blast::Options,
) -> Result<Vec<u8>, Error> {
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
    let mut zip = ZipStream::new(Vec::new());
    let mut total = 0u64;
    for name in names {
        let path = dir.join(&name);
        let bytes = unpath(&read_capped(&path)?, options)?;
        total += bytes.len() as u64;
        if total > MAX_REPORT {
            return Err(too_large(blast::FormatError::TooLarge(MAX_REPORT)));
        }
        // blast_formatter names the first file as given (no extension).
        let entry = if name == rid {
            format!("{rid}.{extension}")
        } else {
            name
        };
        zip.add(
            &entry,
            bytes.as_slice(),
            bytes.len() as u64,
            Timestamp::now(),
        )
        .map_err(|err| Error::Internal(format!("zipping a BLAST report: {err}")))?;
    }
    zip.finish()
        .map_err(|err| Error::Internal(format!("zipping a BLAST report: {err}")))
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
        let options = blast::Options::new(TIME_LIMIT, MAX_REPORT);
        let bytes = zip_files(dir.path(), "RID", Format::Json2, &options).unwrap();
        assert!(bytes.starts_with(b"PK\x03\x04"));
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().to_owned())
            .collect();
        assert_eq!(names, ["RID.json", "RID_1.json", "RID_2.json"]);
    }
}
