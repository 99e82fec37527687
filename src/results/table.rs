//! A TSV or CSV file as a table: its columns, its first rows, and how many
//! rows it holds, read from at most [`MAX_READ`] bytes of it, so a table of
//! any size costs the same to show.
//!
//! Headings come from what the file says: a header line (the example BLAST
//! scripts write BLAST's column names, `qseqid sseqid pident ...`), BLAST's
//! own `# Fields:` comment line (`-outfmt 7`), or a first line that reads as
//! names above columns of numbers. A file without any whose rows read as
//! BLAST's twelve standard columns (`-outfmt 6`, perhaps with the subject's
//! title after) gets BLAST's names; any other, "Column 1", "Column 2", ....
//!
//! The tables this server writes for download (a batch's summary, a BLAST
//! report as tabular text) pass their cells through [`for_spreadsheet`]: a
//! name a submitter chose, or a title from a database, must not run as a
//! formula in the spreadsheet that opens it.

use std::borrow::Cow;
use std::io::{self, BufRead, Read, Write};

use crate::blast::format::{column_label, STANDARD_COLUMNS};

/// Rows a page shows: a screenful or two, enough to see the best hits.
pub(crate) const MAX_ROWS: usize = 100;
/// Bytes read from a table: its first rows, and enough more to count the
/// rows of any table a page would show whole. Beyond, the count is estimated.
pub(crate) const MAX_READ: u64 = 4 * 1024 * 1024;
/// Columns shown; a wider file is shown cut, with a note.
pub(crate) const MAX_COLUMNS: usize = 60;
/// Characters of one cell shown (an aligned sequence can be long).
pub(crate) const MAX_CELL: usize = 300;
/// Comment lines kept to show above the table (`# Query:`, `# Database:`).
const MAX_COMMENTS: usize = 4;
/// Data rows looked at to decide whether a first line is a header.
const SAMPLE: usize = 20;

/// Whether a spreadsheet would take a cell for a formula: it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return, the characters OWASP's
/// "CSV Injection" lists, and it is not a number. A number (`-5`, `+1.5`,
/// `-2.3e-5`) is read as the number it is, and a score may be negative.
pub(crate) fn is_formula(cell: &[u8]) -> bool {
    matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    ) && !std::str::from_utf8(cell).is_ok_and(is_number)
}

/// A cell of a table this server writes for download, safe to open in a
/// spreadsheet: one it would take for a formula gets a `'` in front, which
/// a spreadsheet reads as "the rest is text", as OWASP advises.
pub(crate) fn for_spreadsheet(cell: &str) -> Cow<'_, str> {
    if is_formula(cell.as_bytes()) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Copies tab-separated text (a BLAST report as `-outfmt 6` or `7` writes
/// it) with every cell made safe as [`for_spreadsheet`] says; returns the
/// bytes written. Lines and tabs stay where they were.
pub(crate) fn copy_for_spreadsheet(mut from: impl BufRead, mut to: impl Write) -> io::Result<u64> {
    let mut line = Vec::new();
    let mut written = 0;
    loop {
        line.clear();
        if from.read_until(b'\n', &mut line)? == 0 {
            return Ok(written);
        }
        let body_end = line.len()
            - line
                .iter()
                .rev()
                .take_while(|b| matches!(b, b'\n' | b'\r'))
                .count();
        let (body, end) = line.split_at(body_end);
        for (at, cell) in body.split(|&b| b == b'\t').enumerate() {
            if at > 0 {
                to.write_all(b"\t")?;
                written += 1;
            }
            if is_formula(cell) {
                to.write_all(b"'")?;
                written += 1;
            }
            to.write_all(cell)?;
            written += cell.len() as u64;
        }
        to.write_all(end)?;
        written += end.len() as u64;
    }
}

/// How the fields of a line are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delimiter {
    /// Tabs, no quoting (BLAST's `-outfmt 6`, IANA's `text/tab-separated-values`).
    Tab,
    /// Commas, with RFC 4180 quoting (`"a, b"`, `""` for a quote, newlines inside quotes).
    Comma,
}

impl Delimiter {
    /// The delimiter a file's name says: `.csv` is commas, anything else tabs.
    pub(crate) fn for_name(name: &str) -> Delimiter {
        if name.to_ascii_lowercase().ends_with(".csv") {
            Delimiter::Comma
        } else {
            Delimiter::Tab
        }
    }
}

/// One column's heading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// What the page says.
    pub label: String,
    /// The name the file gave it, when it differs from the label (a BLAST specifier).
    pub code: Option<String>,
    /// Whether every shown value is a number: right-aligned, sorted as numbers.
    pub numeric: bool,
}

/// How many rows a table holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Total {
    /// Counted: the whole file was read.
    Exact(u64),
    /// Estimated from the rows read and the file's size.
    About(u64),
}

/// Where the headings came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A header line that is not BLAST's, or none.
    Plain,
    /// BLAST tabular output, recognised by its header, its `# Fields:` line or its rows.
    Blast,
}

/// The part of a table a page shows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    /// The first rows, each cut to the columns shown and each cell to [`MAX_CELL`].
    pub rows: Vec<Vec<String>>,
    /// Data rows in the file (header and comments not counted).
    pub total: Total,
    pub kind: Kind,
    /// Columns beyond [`MAX_COLUMNS`], left out.
    pub hidden_columns: usize,
    /// BLAST's comment lines (`# Query: ...`), the first few.
    pub comments: Vec<String>,
}

/// Reads the table from `reader`, a file of `size` bytes, looking at no more
/// than `max_read` bytes of it.
pub(crate) fn read(
    reader: impl Read,
    size: u64,
    delimiter: Delimiter,
    max_read: u64,
) -> io::Result<Table> {
    let mut bytes = Vec::new();
    reader.take(max_read).read_to_end(&mut bytes)?;
    // All of it, unless the limit stopped the read short of the file's end.
    let whole = (bytes.len() as u64) < max_read || bytes.len() as u64 >= size;
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse(&text, delimiter, whole);

    let mut records = parsed.records;
    let mut comments = parsed.comments;
    let mut kind = Kind::Plain;
    let mut names: Option<Vec<(String, Option<String>)>> = None;
    if let Some(fields) = parsed.fields {
        kind = Kind::Blast;
        names = Some(
            fields
                .into_iter()
                .map(|f| (sentence_case(&f), None))
                .collect(),
        );
    } else if let Some(first) = records.first() {
        if is_blast_header(first) {
            kind = Kind::Blast;
            names = Some(blast_names(first));
            records.remove(0);
        } else if looks_like_header(first, &records[1..]) {
            names = Some(first.iter().map(|f| (f.trim().to_owned(), None)).collect());
            records.remove(0);
        } else if reads_as_blast(&records) {
            kind = Kind::Blast;
            let mut standard: Vec<String> =
                STANDARD_COLUMNS.iter().map(|s| s.to_string()).collect();
            if records[0].len() == 13 {
                standard.push("stitle".into());
            }
            names = Some(blast_names(&standard));
        }
    }
    if kind == Kind::Plain {
        comments.clear();
    }
    let data_rows = parsed.data_rows_beyond + records.len() as u64;
    let total = if whole {
        Total::Exact(data_rows)
    } else {
        // The share of the file read, in rows, scaled to its size.
        let read = parsed.consumed.max(1) as u64;
        Total::About((data_rows as f64 * size as f64 / read as f64).round() as u64)
    };

    let width = records
        .iter()
        .take(MAX_ROWS)
        .map(Vec::len)
        .chain(names.as_ref().map(Vec::len))
        .max()
        .unwrap_or(0);
    let shown_width = width.min(MAX_COLUMNS);
    let rows: Vec<Vec<String>> = records
        .into_iter()
        .take(MAX_ROWS)
        .map(|row| {
            row.into_iter()
                .take(shown_width)
                .map(|cell| cut(&cell))
                .collect()
        })
        .collect();
    let columns = (0..shown_width)
        .map(|i| {
            let (label, code) = names
                .as_ref()
                .and_then(|names| names.get(i).cloned())
                .unwrap_or_else(|| (format!("Column {}", i + 1), None));
            let values = rows.iter().filter_map(|row| row.get(i));
            let mut any = false;
            let numeric = values.filter(|v| !v.trim().is_empty()).all(|v| {
                any = true;
                is_number(v)
            });
            Column {
                label,
                code,
                numeric: numeric && any,
            }
        })
        .collect();
    comments.truncate(MAX_COMMENTS);
    Ok(Table {
        columns,
        rows,
        total,
        kind,
        hidden_columns: width - shown_width,
        comments,
    })
}

/// What [`parse`] found in the bytes read.
struct Parsed {
    /// The first records, up to the ones a header decision and the page need.
    records: Vec<Vec<String>>,
    /// Data records found after those kept.
    data_rows_beyond: u64,
    /// The names of BLAST's `# Fields:` line, if there was one.
    fields: Option<Vec<String>>,
    comments: Vec<String>,
    /// Bytes that made whole records.
    consumed: usize,
}

/// Splits `text` into records; `whole` says whether it is all of the file
/// (otherwise its last record may be cut, and is dropped).
fn parse(text: &str, delimiter: Delimiter, whole: bool) -> Parsed {
    let keep = MAX_ROWS + 1;
    let mut parsed = Parsed {
        records: Vec::new(),
        data_rows_beyond: 0,
        fields: None,
        comments: Vec::new(),
        consumed: 0,
    };
    let mut at = 0;
    while at < text.len() {
        let (record, next, complete) = match delimiter {
            Delimiter::Tab => tab_record(text, at),
            Delimiter::Comma => csv_record(text, at),
        };
        if !complete && !whole {
            break;
        }
        let line = &text[at..next];
        at = next;
        parsed.consumed = at;
        if line.trim().is_empty() {
            continue;
        }
        if delimiter == Delimiter::Tab && line.starts_with('#') {
            let comment = line.trim_start_matches('#').trim();
            if let Some(fields) = comment.strip_prefix("Fields:") {
                if parsed.fields.is_none() {
                    parsed.fields = Some(fields.split(',').map(|f| f.trim().to_owned()).collect());
                }
            } else if parsed.comments.len() < MAX_COMMENTS
                && parsed.records.is_empty()
                && parsed.fields.is_none()
            {
                parsed.comments.push(comment.to_owned());
            }
            continue;
        }
        if parsed.records.len() < keep {
            parsed.records.push(record.unwrap_or_default());
        } else {
            parsed.data_rows_beyond += 1;
        }
    }
    parsed
}

/// The tab-separated record at `at`: its fields (split only while records
/// are kept), where the next begins, and whether it ended with a newline.
fn tab_record(text: &str, at: usize) -> (Option<Vec<String>>, usize, bool) {
    let rest = &text[at..];
    let (line, next, complete) = match rest.find('\n') {
        Some(end) => (&rest[..end], at + end + 1, true),
        None => (rest, text.len(), false),
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    (
        Some(line.split('\t').map(str::to_owned).collect()),
        next,
        complete,
    )
}

/// The comma-separated record at `at`, RFC 4180: a field in double quotes
/// may hold commas, newlines and `""` for a quote.
fn csv_record(text: &str, at: usize) -> (Option<Vec<String>>, usize, bool) {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text[at..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek().map(|(_, n)| *n) == Some('"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\n') => {
                if field.ends_with('\r') {
                    field.pop();
                }
                fields.push(field);
                return (Some(fields), at + i + 1, true);
            }
            (false, c) => field.push(c),
        }
    }
    fields.push(field);
    // Cut off by the end of what was read, or the last line of the file without its newline.
    (Some(fields), text.len(), false)
}

/// Whether every field of a first line is a BLAST column's specifier
/// (`qseqid sseqid pident ...`), as the example scripts' header is.
fn is_blast_header(first: &[String]) -> bool {
    const TELLING: [&str; 9] = [
        "qseqid", "sseqid", "qaccver", "saccver", "qacc", "sacc", "pident", "evalue", "bitscore",
    ];
    first.len() >= 2
        && first
            .iter()
            .all(|f| f.trim() != "std" && column_label(f.trim()).is_some())
        && first.iter().any(|f| TELLING.contains(&f.trim()))
}

/// Headings for BLAST specifiers: the label, and the specifier as the code.
fn blast_names(specifiers: &[String]) -> Vec<(String, Option<String>)> {
    specifiers
        .iter()
        .map(|s| {
            let s = s.trim();
            let label = column_label(s).unwrap_or(s);
            (label.to_owned(), Some(s.to_owned()))
        })
        .collect()
}

/// Whether a first line is names above data: none of its fields is empty or
/// a number, and at least one column holds numbers below it (`kmer count`
/// above `ACG 5`).
fn looks_like_header(first: &[String], data: &[Vec<String>]) -> bool {
    if first.iter().any(|f| f.trim().is_empty() || is_number(f)) || data.is_empty() {
        return false;
    }
    let sample = &data[..data.len().min(SAMPLE)];
    (0..first.len()).any(|i| {
        let values: Vec<&str> = sample
            .iter()
            .filter_map(|row| row.get(i))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        !values.is_empty() && values.iter().all(|v| is_number(v))
    })
}

/// Whether headerless rows read as BLAST's standard twelve columns (and
/// perhaps a title after): identity a percentage, lengths, counts and
/// coordinates whole numbers, an e-value and a bit score.
fn reads_as_blast(records: &[Vec<String>]) -> bool {
    let sample = &records[..records.len().min(SAMPLE)];
    !sample.is_empty()
        && sample.iter().all(|row| {
            let whole = |i: usize| row[i].trim().parse::<u64>().is_ok();
            let real = |i: usize| row[i].trim().parse::<f64>().is_ok_and(f64::is_finite);
            matches!(row.len(), 12 | 13)
                && row[2]
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|p| (0.0..=100.0).contains(&p))
                && (3..10).all(whole)
                && real(10)
                && real(11)
        })
}

/// Whether a cell is a number (`12`, `-3.5`, `2.64e-157`).
pub(crate) fn is_number(text: &str) -> bool {
    text.trim().parse::<f64>().is_ok_and(f64::is_finite)
}

/// A cell as shown: at most [`MAX_CELL`] characters.
fn cut(cell: &str) -> String {
    match cell.char_indices().nth(MAX_CELL) {
        Some((end, _)) => format!("{}…", &cell[..end]),
        None => cell.to_owned(),
    }
}

fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod spreadsheet_tests {
    use super::*;

    #[test]
    fn a_cell_that_would_run_as_a_formula_is_text_and_a_number_stays_a_number() {
        for attack in [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "@SUM(1)",
            "-2+3",
            "=1",
            "\tx",
            "\r=1",
            "-",
            "+",
            "-inf",
            "-1e",
            "--1",
        ] {
            assert_eq!(for_spreadsheet(attack), format!("'{attack}"), "{attack:?}");
        }
        for kept in [
            "-5", "+1", "-2.5", "-.5", "+1.5e-3", "-2E+10", "1e-50", "0.0", "ACGT", "", "a=1",
            "x-1", "'=1",
        ] {
            assert_eq!(for_spreadsheet(kept), kept, "{kept:?}");
        }
    }

    #[test]
    fn tabular_text_is_guarded_cell_by_cell_and_keeps_its_lines() {
        let text = "# Query: =cmd|'\n=cmd|'\tref01\t-5\t@x\n+1+1\tb\r\nlast\t-y";
        let mut out = Vec::new();
        let written = copy_for_spreadsheet(text.as_bytes(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "# Query: =cmd|'\n'=cmd|'\tref01\t-5\t'@x\n'+1+1\tb\r\nlast\t'-y"
        );
        assert_eq!(written, out.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str, delimiter: Delimiter) -> Table {
        read(text.as_bytes(), text.len() as u64, delimiter, MAX_READ).unwrap()
    }

    fn labels(table: &Table) -> Vec<&str> {
        table.columns.iter().map(|c| c.label.as_str()).collect()
    }

    #[test]
    fn a_header_of_blast_specifiers_names_the_columns() {
        let text = "qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\tstitle\n\
                    read06\tref06\t100.000\t400\t0\t0\t1\t400\t1101\t1500\t0.0\t739\tSynthetic construct <b>x</b>\n\
                    read06\tref02\t85.5\t20\t3\t0\t5\t24\t7\t26\t2.1e-3\t22.9\tOther\n";
        let t = table(text, Delimiter::Tab);
        assert_eq!(t.kind, Kind::Blast);
        assert_eq!(t.total, Total::Exact(2));
        assert_eq!(labels(&t)[..3], ["Query", "Subject", "% identity"]);
        assert_eq!(labels(&t)[12], "Subject title");
        assert_eq!(t.columns[2].code.as_deref(), Some("pident"));
        assert!(t.columns[2].numeric && t.columns[10].numeric);
        assert!(!t.columns[12].numeric);
        assert_eq!(t.rows[0][12], "Synthetic construct <b>x</b>");
    }

    #[test]
    fn blasts_fields_comment_names_the_columns_and_other_comments_are_kept() {
        let text = "# BLASTN 2.12.0+\n# Query: my_read 300 nt of ref04\n# Database: /db/reference\n\
                    # Fields: query acc.ver, subject acc.ver, % identity, alignment length, mismatches, gap opens, q. start, q. end, s. start, s. end, evalue, bit score\n\
                    # 2 hits found\n\
                    my_read\tref04\t100.000\t300\t0\t0\t1\t300\t701\t1000\t2.64e-157\t542\n\
                    my_read\tref04\t100.000\t12\t0\t0\t42\t53\t753\t742\t0.59\t22.9\n\
                    # BLAST processed 1 queries\n";
        let t = table(text, Delimiter::Tab);
        assert_eq!(t.kind, Kind::Blast);
        assert_eq!(t.total, Total::Exact(2));
        assert_eq!(labels(&t)[0], "Query acc.ver");
        assert_eq!(labels(&t)[11], "Bit score");
        assert_eq!(
            t.comments,
            [
                "BLASTN 2.12.0+",
                "Query: my_read 300 nt of ref04",
                "Database: /db/reference"
            ]
        );
        assert_eq!(t.rows[1][9], "742");
    }

    #[test]
    fn headerless_blast_rows_get_blasts_names_and_other_rows_numbered_columns() {
        let text = "q1\tref04\t100.000\t300\t0\t0\t1\t300\t701\t1000\t2.64e-157\t542\n\
                    q1\tref08\t92.857\t14\t1\t0\t252\t265\t1326\t1313\t2.0\t22.0\n";
        let t = table(text, Delimiter::Tab);
        assert_eq!(t.kind, Kind::Blast);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(labels(&t)[0], "Query");
        assert_eq!(labels(&t)[11], "Bit score");

        let t = table("a\tb\nc\td\n", Delimiter::Tab);
        assert_eq!(t.kind, Kind::Plain);
        assert_eq!(labels(&t), ["Column 1", "Column 2"]);
        assert_eq!(t.total, Total::Exact(2));
    }

    #[test]
    fn a_first_line_of_names_above_numbers_is_a_header() {
        let t = table("kmer\tcount\nACG\t5\nCGT\t4\n", Delimiter::Tab);
        assert_eq!(labels(&t), ["kmer", "count"]);
        assert_eq!(t.rows, [["ACG", "5"], ["CGT", "4"]]);
        assert!(t.columns[1].numeric && !t.columns[0].numeric);
        // A number in the first line: data.
        let t = table("ACG\t5\nCGT\t4\n", Delimiter::Tab);
        assert_eq!(t.rows.len(), 2);
    }

    #[test]
    fn csv_quoting_keeps_commas_quotes_and_newlines_in_a_field() {
        let text =
            "name,note,score\r\n\"Smith, J\",\"said \"\"hi\"\"\",1.5\r\n\"two\nlines\",,2\r\n";
        let t = table(text, Delimiter::Comma);
        assert_eq!(labels(&t), ["name", "note", "score"]);
        assert_eq!(t.total, Total::Exact(2));
        assert_eq!(t.rows[0], ["Smith, J", "said \"hi\"", "1.5"]);
        assert_eq!(t.rows[1], ["two\nlines", "", "2"]);
        assert!(t.columns[2].numeric);
    }

    #[test]
    fn a_large_table_is_read_only_so_far_and_its_rows_estimated() {
        let line = "ACGTACGT\t12345\n"; // 15 bytes
        let file = line.repeat(1_000_000);
        let mut given = 0u64;
        let limit = 64 * 1024;
        let t = read(
            Counted(file.as_bytes(), &mut given),
            file.len() as u64,
            Delimiter::Tab,
            limit,
        )
        .unwrap();
        assert!(given <= limit, "read {given} bytes");
        assert_eq!(t.rows.len(), MAX_ROWS);
        match t.total {
            Total::About(n) => assert!((990_000..=1_010_000).contains(&n), "{n}"),
            other => panic!("{other:?}"),
        }
        // Read whole, it is counted.
        let small = line.repeat(500);
        let t = table(&small, Delimiter::Tab);
        assert_eq!((t.rows.len(), t.total), (MAX_ROWS, Total::Exact(500)));
    }

    #[test]
    fn cells_are_cut_and_wide_tables_narrowed() {
        let long = "A".repeat(1000);
        let wide: Vec<String> = (0..80).map(|i| i.to_string()).collect();
        let text = format!("1\t{long}\n{}\n", wide.join("\t"));
        let t = table(&text, Delimiter::Tab);
        assert_eq!(t.rows[0][1].chars().count(), MAX_CELL + 1);
        assert_eq!(t.columns.len(), MAX_COLUMNS);
        assert_eq!(t.hidden_columns, 20);
    }

    /// A reader that counts the bytes it gives.
    struct Counted<'a, R>(R, &'a mut u64);

    impl<R: Read> Read for Counted<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            *self.1 += n as u64;
            Ok(n)
        }
    }
}
