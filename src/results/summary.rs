//! One experiment's result in a few words, for a batch's page and its merged
//! TSV: a BLAST search's top hit and its e-value, the built-in analysis's
//! length and GC content, or the first row of another pipeline's table.
//!
//! What to read follows from the results the pipeline declares ([`Kind`]), so
//! every experiment of a batch is summed up in the same columns. Each read is
//! bounded: a summary of a plate reads ninety-six small pieces of files,
//! however large the files are.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufReader, Read};

use serde::de::{self, Deserializer as _, IgnoredAny, MapAccess, Visitor};

use crate::model::{Record, State};
use crate::pipeline::{Definition, View};
use crate::store::Store;

use super::thousands;

/// Bytes read from the start of a table for its header and first row: a
/// BLAST hit's line with a long title is a few hundred.
pub(crate) const TABLE_HEAD_BYTES: u64 = 64 * 1024;

/// Bytes of `analysis.json` read at most: its length and GC content come
/// first, before the reverse complement of up to a million residues, and
/// reading stops once they are found.
pub(crate) const ANALYSIS_BYTES: u64 = 4 * 1024 * 1024;

/// The longest text a summary shows in a table cell, in characters.
pub(crate) const TEXT_CHARS: usize = 80;

/// How a pipeline's experiments are summed up, by the results it declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The built-in analysis: its `analysis.json`.
    Analysis { file: String },
    /// A BLAST search (a `blast` view) with a tabular report (a `table` view):
    /// the report's first hit.
    Blast { table: String },
    /// Another table: its first row.
    Table { table: String },
    /// Nothing to read: the state says it all.
    Nothing,
}

impl Kind {
    pub(crate) fn of(definition: &Definition) -> Kind {
        let file = |view: View| {
            definition
                .results
                .iter()
                .find(|result| result.view == view)
                .map(|result| result.file.clone())
        };
        if let Some(file) = file(View::Analysis) {
            return Kind::Analysis { file };
        }
        match (file(View::Table), file(View::Blast)) {
            (Some(table), Some(_)) => Kind::Blast { table },
            (Some(table), None) => Kind::Table { table },
            (None, _) => Kind::Nothing,
        }
    }

    /// The file a summary reads, if any.
    pub(crate) fn file(&self) -> Option<&str> {
        match self {
            Kind::Analysis { file } => Some(file),
            Kind::Blast { table } | Kind::Table { table } => Some(table),
            Kind::Nothing => None,
        }
    }

    /// The names of its values, as the merged TSV's columns.
    pub(crate) fn columns(&self) -> &'static [&'static str] {
        match self {
            Kind::Analysis { .. } => &["length", "gc_percent"],
            Kind::Blast { .. } => &["hit", "hit_title", "identity", "evalue", "bitscore"],
            Kind::Table { .. } => &["first_row"],
            Kind::Nothing => &[],
        }
    }

    /// What a column of results of this kind is headed on a page.
    pub(crate) fn heading(&self) -> &'static str {
        match self {
            Kind::Analysis { .. } => "Length, GC",
            Kind::Blast { .. } => "Top hit (e-value)",
            Kind::Table { .. } => "First row",
            Kind::Nothing => "Result",
        }
    }
}

/// One experiment's result in a few words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// For a table cell: `ref03 (E = 2e-31)`, `1,234 nt, GC 46.7 %`, the
    /// error of a failed run; empty while there is nothing to say.
    pub text: String,
    /// A longer line for a tooltip, when there is one: the hit's title.
    pub detail: Option<String>,
    /// Its [`Kind::columns`] values, in order; empty when nothing was read.
    pub values: Vec<String>,
    /// Whether a search found something: for a BLAST report, whether it has
    /// a hit; `None` where the result says neither (another kind, a run that
    /// did not complete, a table that is not BLAST's).
    pub hit: Option<bool>,
}

impl Summary {
    fn text(text: impl Into<String>) -> Summary {
        Summary {
            text: shorten(&text.into(), TEXT_CHARS),
            ..Summary::default()
        }
    }
}

/// Sums up an experiment: reads its result, as its pipeline declares it,
/// through `open` (which opens a file of its directory by name, or gives
/// `None`). Only a complete experiment's result is read; one that failed is
/// summed up by its error, one still to finish by nothing.
pub(crate) fn summarize<R: Read>(record: &Record, open: impl FnOnce(&str) -> Option<R>) -> Summary {
    match record.state {
        State::Queued | State::Running => return Summary::default(),
        State::Canceled => return Summary::text("canceled"),
        State::ExecutorError | State::SystemError => {
            return Summary::text(record.error.as_deref().unwrap_or("failed"))
        }
        State::Complete => {}
    }
    let kind = Kind::of(&record.definition());
    let Some(name) = kind.file() else {
        return Summary::default();
    };
    let Some(file) = open(name) else {
        return Summary::text(format!("no {name}"));
    };
    let read = match &kind {
        Kind::Analysis { .. } => read_analysis(file, record),
        Kind::Blast { .. } => read_table(file, delimiter(name)).map(|head| blast_hit(&head)),
        Kind::Table { .. } => read_table(file, delimiter(name)).map(|head| first_row(&head)),
        Kind::Nothing => unreachable!("a kind without a file returned above"),
    };
    read.unwrap_or_else(|err| Summary::text(format!("{name} unreadable: {err}")))
}

/// Sums up an experiment from its directory in `store`, which opens nothing
/// through a link.
pub(crate) fn summarize_in(store: &Store, record: &Record) -> Summary {
    summarize(record, |name| {
        store.open_file(record.id, name).ok().map(|(file, _)| file)
    })
}

/// The delimiter of a table, by its file name.
fn delimiter(name: &str) -> char {
    if name.to_ascii_lowercase().ends_with(".csv") {
        ','
    } else {
        '\t'
    }
}

/// The start of a table: its header, if it has one, and its first row.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TableHead {
    pub header: Option<Vec<String>>,
    pub row: Option<Vec<String>>,
}

/// Reads the header and first row of a table from at most
/// [`TABLE_HEAD_BYTES`] of `reader`. Blank lines and `#` comments (BLAST's
/// `-outfmt 7`) are skipped. The first line is a header when none of its
/// cells is a number and the line after it, if any, has one: `qseqid
/// sseqid ...` over `q1 ref03 98.7 ...`, `kmer count` over `AAA 5` (or
/// over a row the bound cut).
pub(crate) fn read_table(reader: impl Read, delimiter: char) -> io::Result<TableHead> {
    let mut bytes = Vec::new();
    reader.take(TABLE_HEAD_BYTES).read_to_end(&mut bytes)?;
    // A line the bound cut is a piece of a row, whatever it looks like.
    let cut = bytes.len() as u64 == TABLE_HEAD_BYTES && !bytes.ends_with(b"\n");
    let text = String::from_utf8_lossy(&bytes);
    let last = text.split('\n').count() - 1;
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(n, line)| (cut && n == last, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(partial, line)| {
            let cells = line.split(delimiter).map(|cell| cell.trim().to_owned());
            (partial, cells.collect::<Vec<_>>())
        });
    let Some((_, first)) = lines.next() else {
        return Ok(TableHead::default());
    };
    let second = lines.next();
    let numeric = |cells: &[String]| cells.iter().any(|cell| is_number(cell));
    let is_header = !numeric(&first)
        && second
            .as_ref()
            .is_none_or(|(partial, cells)| *partial || numeric(cells));
    let second = second.map(|(_, cells)| cells);
    Ok(if is_header {
        TableHead {
            header: Some(first),
            row: second,
        }
    } else {
        TableHead {
            header: None,
            row: Some(first),
        }
    })
}

/// Whether a cell reads as a number (`98.7`, `2e-31`, `-3`; not `inf` or `NaN`).
fn is_number(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && cell.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The columns of BLAST's tabular report, in `-outfmt 6`'s standard order.
const BLAST_STANDARD: [&str; 12] = [
    "qseqid", "sseqid", "pident", "length", "mismatch", "gapopen", "qstart", "qend", "sstart",
    "send", "evalue", "bitscore",
];

/// The top hit of a BLAST tabular report: its first row, read by the
/// header's names, or by the standard columns (then `stitle`) without one.
fn blast_hit(head: &TableHead) -> Summary {
    let Some(row) = &head.row else {
        return Summary {
            text: "no hits".into(),
            detail: None,
            values: vec![String::new(); 5],
            hit: Some(false),
        };
    };
    let column = |name: &str| -> Option<&str> {
        let at = match &head.header {
            Some(header) => header.iter().position(|h| h == name)?,
            None if name == "stitle" => BLAST_STANDARD.len(),
            None => BLAST_STANDARD.iter().position(|h| *h == name)?,
        };
        row.get(at).map(String::as_str).filter(|v| !v.is_empty())
    };
    let (Some(hit), Some(evalue)) = (column("sseqid"), column("evalue")) else {
        // Not the columns of a BLAST report after all.
        let Summary { text, detail, .. } = first_row(head);
        return Summary {
            text,
            detail,
            values: vec![String::new(); 5],
            hit: None,
        };
    };
    let title = column("stitle");
    Summary {
        text: shorten(&format!("{hit} (E = {evalue})"), TEXT_CHARS),
        detail: title.map(str::to_owned),
        values: [
            Some(hit),
            title,
            column("pident"),
            Some(evalue),
            column("bitscore"),
        ]
        .iter()
        .map(|value| value.unwrap_or_default().to_owned())
        .collect(),
        hit: Some(true),
    }
}

/// A table's first row, its cells joined and shortened.
fn first_row(head: &TableHead) -> Summary {
    match &head.row {
        None => Summary {
            text: "no rows".into(),
            detail: None,
            values: vec![String::new()],
            hit: None,
        },
        Some(row) => {
            let whole = row.join(" · ");
            let text = shorten(&whole, TEXT_CHARS);
            Summary {
                detail: (text != whole).then(|| shorten(&whole, 500)),
                values: vec![text.clone()],
                text,
                hit: None,
            }
        }
    }
}

/// What the summary takes from `analysis.json`.
#[derive(Default)]
struct Analysis {
    length: Option<u64>,
    gc_fraction: Option<Option<f64>>,
}

/// Reads the length and GC fraction of `analysis.json`, stopping as soon as
/// both are found (they come before the long fields), within [`ANALYSIS_BYTES`].
fn read_analysis(reader: impl Read, record: &Record) -> io::Result<Summary> {
    /// The visitor's way to stop reading once it has what it wants.
    const ENOUGH: &str = "enough";
    struct Fields<'a>(&'a mut Analysis);
    impl<'de> Visitor<'de> for Fields<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the built-in analysis, an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Cow<str>>()? {
                match &*key {
                    "length" => self.0.length = Some(map.next_value()?),
                    "gc_fraction" => self.0.gc_fraction = Some(map.next_value()?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                if self.0.length.is_some() && self.0.gc_fraction.is_some() {
                    return Err(de::Error::custom(ENOUGH));
                }
            }
            Ok(())
        }
    }
    let mut found = Analysis::default();
    let reader = BufReader::new(reader.take(ANALYSIS_BYTES));
    let read = serde_json::Deserializer::from_reader(reader).deserialize_map(Fields(&mut found));
    let Some(length) = found.length else {
        let why = match read {
            Err(err) => err.to_string(),
            Ok(()) => "it has no length".into(),
        };
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    };
    let gc = found.gc_fraction.flatten();
    let unit = if record.alphabet.is_nucleotide() {
        "nt"
    } else {
        "aa"
    };
    let text = match gc {
        Some(gc) => format!("{} {unit}, GC {:.1} %", thousands(length), gc * 100.0),
        None => format!("{} {unit}", thousands(length)),
    };
    Ok(Summary {
        text,
        detail: None,
        values: vec![
            length.to_string(),
            gc.map_or(String::new(), |gc| format!("{:.2}", gc * 100.0)),
        ],
        hit: None,
    })
}

/// `text` on one line, at most `max` characters, with `…` where it was cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let one_line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Cursor;
    use std::sync::Arc;

    use super::*;
    use crate::pipeline::{ExecutorKind, ResultFile};

    fn with_results(state: State, results: &[(&str, View)]) -> Record {
        let definition = Definition {
            executor: ExecutorKind::Local,
            command: None,
            timeout_ms: None,
            start_timeout_ms: None,
            env: BTreeMap::new(),
            slurm: None,
            group: 1,
            results: results
                .iter()
                .map(|(file, view)| ResultFile {
                    file: (*file).into(),
                    view: *view,
                    title: None,
                })
                .collect(),
        };
        Record {
            definition: Some(Arc::new(definition)),
            ..Record::for_test(1, state)
        }
    }

    fn blast() -> Record {
        with_results(
            State::Complete,
            &[("hits.asn", View::Blast), ("hits.tsv", View::Table)],
        )
    }

    /// Summarizes `record` with `files` as its directory.
    fn summary(record: &Record, files: &[(&str, &str)]) -> Summary {
        summarize(record, |name| {
            files
                .iter()
                .find(|(file, _)| *file == name)
                .map(|(_, text)| Cursor::new(text.as_bytes().to_vec()))
        })
    }

    const BLAST_HEADER: &str = "qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\tstitle\n";

    #[test]
    fn a_blast_report_is_summed_up_by_its_top_hit_with_or_without_a_header() {
        let rows = "A01\tref03\t98.667\t75\t1\t0\t1\t75\t101\t175\t2.1e-31\t134\tref03 synthetic kinase, plate 7\n\
                    A01\tref05\t80.0\t40\t8\t0\t1\t40\t1\t40\t1e-5\t50.1\tref05 other\n";
        let with_header = summary(&blast(), &[("hits.tsv", &format!("{BLAST_HEADER}{rows}"))]);
        assert_eq!(with_header.text, "ref03 (E = 2.1e-31)");
        assert_eq!(with_header.hit, Some(true));
        assert_eq!(
            with_header.detail.as_deref(),
            Some("ref03 synthetic kinase, plate 7")
        );
        assert_eq!(
            with_header.values,
            [
                "ref03",
                "ref03 synthetic kinase, plate 7",
                "98.667",
                "2.1e-31",
                "134"
            ]
        );
        // Plain -outfmt 6: no header, the standard columns (then stitle).
        assert_eq!(summary(&blast(), &[("hits.tsv", rows)]), with_header);
        // -outfmt 7's comment lines are skipped.
        let commented = format!("# BLASTN 2.12.0+\n# Query: A01\n\n{rows}");
        assert_eq!(summary(&blast(), &[("hits.tsv", &commented)]), with_header);
        // Columns in another order, as a lab's script may ask for them.
        let reordered = "sseqid\tevalue\tbitscore\nref08\t0.0\t1020\n";
        let summed = summary(&blast(), &[("hits.tsv", reordered)]);
        assert_eq!(summed.text, "ref08 (E = 0.0)");
        assert_eq!(summed.values, ["ref08", "", "", "0.0", "1020"]);
    }

    #[test]
    fn a_blast_report_with_only_its_header_has_no_hits() {
        let summed = summary(&blast(), &[("hits.tsv", BLAST_HEADER)]);
        assert_eq!(summed.text, "no hits");
        assert_eq!(summed.hit, Some(false));
        assert_eq!(
            summed.values.len(),
            Kind::of(&blast().definition()).columns().len()
        );
        assert_eq!(summary(&blast(), &[("hits.tsv", "")]).text, "no hits");
    }

    #[test]
    fn a_table_is_read_no_further_than_its_bound() {
        // A first row longer than the bound is read as far as the bound, and no further.
        let huge = format!(
            "kmer\tcount\n{}\t1\n",
            "A".repeat(10 * TABLE_HEAD_BYTES as usize)
        );
        let mut reader = Cursor::new(huge.into_bytes());
        let head = read_table(&mut reader, '\t').unwrap();
        assert_eq!(reader.position(), TABLE_HEAD_BYTES);
        assert_eq!(head.header.unwrap(), ["kmer", "count"]);
        let row = head.row.unwrap();
        assert_eq!(row.len(), 1, "the cut line holds no second cell");
        assert!(row[0].len() < TABLE_HEAD_BYTES as usize);
    }

    #[test]
    fn a_header_is_told_from_a_first_row() {
        let head = |text: &str| read_table(text.as_bytes(), '\t').unwrap();
        assert_eq!(
            head("kmer\tcount\nAAA\t5\n"),
            TableHead {
                header: Some(vec!["kmer".into(), "count".into()]),
                row: Some(vec!["AAA".into(), "5".into()]),
            }
        );
        assert_eq!(head("AAA\t5\nCCC\t4\n").header, None);
        assert_eq!(head("name\tscore\r\n").row, None, "a header alone");
        assert_eq!(head("\n\n").row, None);
        // `inf` and `NaN` are words here, not numbers.
        assert!(head("inf\tNaN\n1\t2\n").header.is_some());
        let other = with_results(State::Complete, &[("kmers.tsv", View::Table)]);
        let summed = summary(&other, &[("kmers.tsv", "kmer\tcount\nAAA\t5\nCCC\t4\n")]);
        assert_eq!(
            (summed.text.as_str(), summed.values.as_slice()),
            ("AAA · 5", &["AAA · 5".to_owned()][..])
        );
        assert_eq!(
            summed.hit, None,
            "a table that is not BLAST's says nothing of hits"
        );
        let csv = with_results(State::Complete, &[("scores.csv", View::Table)]);
        assert_eq!(summary(&csv, &[("scores.csv", "a,b\nx,1\n")]).text, "x · 1");
    }

    #[test]
    fn a_long_first_row_is_shortened() {
        let other = with_results(State::Complete, &[("out.tsv", View::Table)]);
        let long = format!("name\tvalue\n{}\t1\n", "word ".repeat(40));
        let summed = summary(&other, &[("out.tsv", &long)]);
        assert_eq!(summed.text.chars().count(), TEXT_CHARS);
        assert!(summed.text.ends_with('…'), "{}", summed.text);
        assert!(summed.detail.is_some());
    }

    #[test]
    fn the_analysis_is_summed_up_by_length_and_gc_without_reading_it_all() {
        let record = Record {
            definition: Some(Arc::new(Definition::builtin())),
            ..Record::for_test(1, State::Complete)
        };
        let json = format!(
            r#"{{"alphabet":"dna","length":1234,"residue_counts":{{"A":1}},"gc_fraction":0.4667,"reverse_complement":"{}"}}"#,
            "ACGT".repeat(2_000_000)
        );
        let mut reader = Cursor::new(json.into_bytes());
        let summed = summarize(&record, |_| Some(&mut reader));
        assert_eq!(summed.text, "1,234 nt, GC 46.7 %");
        assert_eq!(summed.values, ["1234", "46.67"]);
        assert!(
            reader.position() < 64 * 1024,
            "read {} bytes",
            reader.position()
        );

        let protein = Record {
            alphabet: crate::query::Alphabet::Protein,
            ..record.clone()
        };
        let json = r#"{"alphabet":"protein","length":141,"gc_fraction":null,"notes":[]}"#;
        let summed = summary(&protein, &[("analysis.json", json)]);
        assert_eq!(
            (summed.text.as_str(), summed.values[1].as_str()),
            ("141 aa", "")
        );
        assert!(summary(&record, &[("analysis.json", "[1, 2]")])
            .text
            .starts_with("analysis.json unreadable"));
    }

    #[test]
    fn only_a_complete_experiment_is_read() {
        let opened = |record: &Record| {
            let mut asked = false;
            summarize(record, |_| {
                asked = true;
                None::<&[u8]>
            });
            asked
        };
        for state in [
            State::Queued,
            State::Running,
            State::Canceled,
            State::ExecutorError,
        ] {
            assert!(
                !opened(&with_results(state, &[("hits.tsv", View::Table)])),
                "{state:?}"
            );
        }
        let failed = Record {
            error: Some("exit code 2: blastn: database\nnot found".into()),
            ..with_results(State::ExecutorError, &[])
        };
        assert_eq!(
            summary(&failed, &[]).text,
            "exit code 2: blastn: database not found"
        );
        assert_eq!(summary(&blast(), &[]).text, "no hits.tsv");
        let plain = with_results(State::Complete, &[("out.pdb", View::File)]);
        assert_eq!(summary(&plain, &[]), Summary::default());
        assert_eq!(Kind::of(&plain.definition()).columns(), &[] as &[&str]);
    }

    #[test]
    fn shortening_keeps_one_line_within_its_length() {
        assert_eq!(shorten("a\tb\n c", 10), "a b c");
        assert_eq!(shorten("abcdefghij", 5), "abcd…");
        assert_eq!(shorten("ab  cdefgh", 4), "ab…");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
