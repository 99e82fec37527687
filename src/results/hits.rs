//! Hits to take away: the FASTA of a BLAST search's hits, all of them or
//! those chosen (`hits=ID,ID`), as their whole sequences fetched from the
//! databases it searched (`?format=fasta`), or as the aligned parts its
//! report holds, each HSP's query and hit segments as aligned, gaps and all
//! (`?format=fasta-aligned`).
//!
//! Both start from the archive, formatted by `blast_formatter` as a
//! commented table of every HSP (`-outfmt 7`): its comments name the
//! database, its rows the hits and their aligned segments. So every hit
//! counts, not only the hundred a page shows, and an id is checked against
//! the search's own before anything is fetched.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};

use crate::blast::format::{self as blast, Columns, Options};
use crate::blast::searched;
use crate::error::Error;

/// Residues on a line of the FASTA written, as BLAST's own FASTA has them.
const LINE: usize = 60;

/// The most ids `hits=` may name: a report's page keeps a hundred hits a
/// query, and a plate's search asks for a few hundred at most.
pub(crate) const MAX_CHOSEN: usize = 5000;

/// The columns read from the archive, in this order.
const COLUMNS: [&str; 10] = [
    "qseqid", "sseqid", "qstart", "qend", "sstart", "send", "evalue", "bitscore", "qseq", "sseq",
];

/// What a FASTA download of hits takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Each hit's whole sequence, from the database.
    Whole,
    /// Each HSP's aligned segments, from the report.
    Aligned,
}

impl Take {
    pub(crate) const ALL: [Take; 2] = [Take::Whole, Take::Aligned];

    /// How `?format=` names it.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Take::Whole => "fasta",
            Take::Aligned => "fasta-aligned",
        }
    }

    /// What a link or button to it says.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Take::Whole => "FASTA of the hits' sequences",
            Take::Aligned => "FASTA of the aligned parts",
        }
    }

    /// The name it downloads as: the experiment, the archive's name, what it holds.
    pub(crate) fn file_name(self, id: crate::model::Id, archive: &str) -> String {
        let stem = archive.rsplit_once('.').map_or(archive, |(stem, _)| stem);
        match self {
            Take::Whole => format!("{id}-{stem}-sequences.fasta"),
            Take::Aligned => format!("{id}-{stem}-aligned.fasta"),
        }
    }
}

/// The ids `hits=` names: each value split at its commas, trimmed, in
/// order, each once; `None` when none is given (every hit).
pub(crate) fn chosen<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Vec<String>>, Error> {
    let mut ids: Vec<String> = Vec::new();
    for id in values.into_iter().flat_map(|value| value.split(',')) {
        let id = id.trim();
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    if ids.len() > MAX_CHOSEN {
        return Err(Error::Invalid {
            field: "hits".into(),
            msg: format!("at most {MAX_CHOSEN} hits may be chosen, not {}", ids.len()),
        });
    }
    Ok((!ids.is_empty()).then_some(ids))
}

/// One HSP, a line of the archive's table.
struct Row<'a> {
    fields: Vec<&'a str>,
}

impl<'a> Row<'a> {
    /// A line of the table, or `None` for a comment or a blank line.
    fn read(line: &'a str) -> Option<Row<'a>> {
        (!line.starts_with('#') && !line.trim().is_empty()).then(|| Row {
            fields: line.split('\t').collect(),
        })
    }

    fn get(&self, column: &str) -> &'a str {
        COLUMNS
            .iter()
            .position(|name| *name == column)
            .and_then(|at| self.fields.get(at).copied())
            .unwrap_or("")
    }
}

/// The archive's hits as a table of every HSP, in an unnamed file (read a
/// line at a time, never whole: a search may align thousands of long hits),
/// with the database searched and the hits' ids, in the order they come.
struct Found {
    table: File,
    database: Option<String>,
    ids: Vec<String>,
}

impl Found {
    /// Each line of the table, from its start.
    fn lines(&self) -> Result<impl Iterator<Item = std::io::Result<String>>, Error> {
        let mut table = self
            .table
            .try_clone()
            .map_err(|e| Error::io("reading", "a table of hits", e))?;
        table
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("reading", "a table of hits", e))?;
        Ok(BufReader::new(table).lines())
    }
}

/// Formats `archive` as the table of its hits and reads their ids and the
/// database from it.
fn find(archive: File, options: &Options) -> Result<Found, Error> {
    let columns = Columns::Named(COLUMNS.iter().map(|c| (*c).to_owned()).collect());
    let table =
        tempfile::tempfile().map_err(|e| Error::io("making room for", "a table of hits", e))?;
    blast::format_file(
        archive,
        &blast::Format::CommentedTabular(columns),
        options,
        &table,
    )?;
    let mut found = Found {
        table,
        database: None,
        ids: Vec::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for line in found.lines()? {
        let line = line.map_err(|e| Error::io("reading", "a table of hits", e))?;
        if let Some(database) = line.strip_prefix("# Database:") {
            found
                .database
                .get_or_insert_with(|| database.trim().to_owned());
        }
        if let Some(row) = Row::read(&line) {
            let id = row.get("sseqid");
            if seen.insert(id.to_owned()) {
                found.ids.push(id.to_owned());
            }
        }
    }
    Ok(found)
}

/// Writes the FASTA `take` asks for, of the hits `chosen` (every hit when
/// `None`) of the search `archive` holds, into `output`; returns the bytes
/// written. An id that is none of the search's hits is refused (422,
/// naming it) before anything is fetched.
pub(crate) fn write(
    take: Take,
    archive: File,
    chosen: Option<&[String]>,
    options: &Options,
    output: &File,
) -> Result<u64, Error> {
    let found = find(archive, options)?;
    let ids: Vec<&str> = found.ids.iter().map(String::as_str).collect();
    if let Some(chosen) = chosen {
        let unknown: Vec<&str> = chosen
            .iter()
            .map(String::as_str)
            .filter(|id| !ids.contains(id))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::Invalid {
                field: "hits".into(),
                msg: format!(
                    "{} {} none of this search's hits",
                    unknown.join(", "),
                    if unknown.len() == 1 { "is" } else { "are" }
                ),
            });
        }
    }
    let wanted: HashSet<&str> = match chosen {
        Some(chosen) => chosen.iter().map(String::as_str).collect(),
        None => ids.iter().copied().collect(),
    };
    match take {
        Take::Whole => {
            let ids: Vec<String> = ids
                .iter()
                .filter(|id| wanted.contains(*id))
                .map(|id| (*id).to_owned())
                .collect();
            if ids.is_empty() {
                return Ok(0);
            }
            let database = found.database.as_deref().ok_or_else(|| {
                Error::Internal("the archive names no database to fetch the hits from".into())
            })?;
            searched::fetch(database, &ids, options, output)
        }
        Take::Aligned => aligned(&found, &wanted, output),
    }
}

/// Each HSP of the `wanted` hits as two records, the query's segment then
/// the hit's, as aligned (with their gaps), so that each pair reads as the
/// alignment it is.
fn aligned(found: &Found, wanted: &HashSet<&str>, output: &File) -> Result<u64, Error> {
    let failed = |e| Error::io("writing", "the aligned parts", e);
    let mut out = std::io::BufWriter::new(output);
    let mut written = 0u64;
    // Each hit's HSPs are counted for each query, from 1.
    let mut hsps: HashMap<(String, String), usize> = HashMap::new();
    for line in found.lines()? {
        let line = line.map_err(|e| Error::io("reading", "a table of hits", e))?;
        let Some(row) = Row::read(&line) else {
            continue;
        };
        let (query, hit) = (row.get("qseqid"), row.get("sseqid"));
        if !wanted.contains(hit) {
            continue;
        }
        let n = hsps.entry((query.to_owned(), hit.to_owned())).or_default();
        *n += 1;
        let n = *n;
        let (qstart, qend, sstart, send) = (
            row.get("qstart"),
            row.get("qend"),
            row.get("sstart"),
            row.get("send"),
        );
        let text = format!(
            ">{query}:{qstart}-{qend} query, aligned with {hit}:{sstart}-{send}\n{}\
             >{hit}:{sstart}-{send} HSP {n} with {query}, E = {}, {} bits\n{}",
            wrapped(row.get("qseq")),
            row.get("evalue"),
            row.get("bitscore"),
            wrapped(row.get("sseq")),
        );
        out.write_all(text.as_bytes()).map_err(failed)?;
        written += text.len() as u64;
    }
    out.flush().map_err(failed)?;
    Ok(written)
}

/// `sequence` in lines of [`LINE`], each ending in a line break.
fn wrapped(sequence: &str) -> String {
    let mut text = String::with_capacity(sequence.len() + sequence.len() / LINE + 1);
    for line in sequence.as_bytes().chunks(LINE) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_are_named_once_each_separated_by_commas_or_repeated() {
        assert_eq!(chosen([]).unwrap(), None);
        assert_eq!(chosen(["", " , "]).unwrap(), None);
        assert_eq!(
            chosen(["ref03,ref05", "ref03", " sp|P69905|HBA_HUMAN "]).unwrap(),
            Some(vec![
                "ref03".into(),
                "ref05".into(),
                "sp|P69905|HBA_HUMAN".into()
            ])
        );
        let many = (0..=MAX_CHOSEN)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(chosen([many.as_str()]).is_err());
    }

    #[test]
    fn a_sequence_is_wrapped_as_blasts_fasta_is() {
        assert_eq!(wrapped(""), "");
        assert_eq!(wrapped("AC-GT"), "AC-GT\n");
        let long = "A".repeat(LINE + 1);
        assert_eq!(wrapped(&long), format!("{}\nA\n", "A".repeat(LINE)));
    }
}
