//! FASTA: a text of one or more records, each a `>name description` line and
//! its sequence, blank and `;` comment lines skipped anywhere; read record by
//! record, all or nothing, every error naming the record and its line.

use super::header::Header;
use super::sequence::{clean_sequence, Origin};
use super::{invalid, strip_bom, Limits, Query};
use crate::error::Error;

/// Parses a FASTA text of one or more records, all or nothing.
///
/// Blank lines and `;` comment lines are skipped anywhere. Each record's name is
/// its header up to the first white space; the rest is its description.
pub(super) fn parse_fasta(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
    let text = strip_bom(text);
    let mut queries = Vec::new();
    let mut records = Records {
        text,
        offset: 0,
        line: 1,
        chars: 0,
    };
    while let Some(record) = records.next_record()? {
        let header = Header::read(queries.len() + 1, record.header, record.line, limits)?;
        let cleaned = clean_sequence(record.body, record.body_start, limits)
            .map_err(|problem| header.error(problem))?;
        queries.push(cleaned.into_query(header.name, header.description));
    }
    if queries.is_empty() {
        return Err(invalid(
            "query_sequence",
            "holds no FASTA record; a record starts with a '>name' line".into(),
        ));
    }
    Ok(queries)
}

struct Record<'a> {
    header: &'a str,
    line: usize,
    body: &'a str,
    body_start: Origin,
}

/// Walks a FASTA text record by record.
struct Records<'a> {
    text: &'a str,
    /// Byte offset of the next unread line.
    offset: usize,
    /// 1-based number of the next unread line.
    line: usize,
    /// Characters before the next unread line (kept as it goes: counting
    /// from the start at each record made a large batch quadratic).
    chars: usize,
}

impl<'a> Records<'a> {
    fn next_record(&mut self) -> Result<Option<Record<'a>>, Error> {
        // Find the header, skipping blank and comment lines.
        let (header, header_line) = loop {
            let Some(line) = self.next_line() else {
                return Ok(None);
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with(';') {
                continue;
            }
            if let Some(header) = trimmed.strip_prefix('>') {
                break (header, self.line - 1);
            }
            return Err(invalid(
                "query_sequence",
                format!("line {}: sequence text before the first header; each FASTA record starts with a '>name' line", self.line - 1),
            ));
        };
        let body_offset = self.offset;
        let body_start = Origin {
            position: self.chars + 1,
            line: self.line,
            header_line: Some(header_line),
        };
        while let Some(rest) = self.text.get(self.offset..) {
            if rest.is_empty() || rest.trim_start_matches([' ', '\t']).starts_with('>') {
                break;
            }
            self.next_line();
        }
        Ok(Some(Record {
            header,
            line: header_line,
            body: &self.text[body_offset..self.offset],
            body_start,
        }))
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let rest = self
            .text
            .get(self.offset..)
            .filter(|rest| !rest.is_empty())?;
        let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        self.offset += end;
        self.line += 1;
        self.chars += line.chars().count();
        Some(line)
    }
}

/// Splits an optional leading header line (after any blank and `;` comment
/// lines, as [`parse_fasta`] skips them) from the sequence text.
pub(super) fn split_header(text: &str) -> (Option<&str>, &str, Origin) {
    let mut leading = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with(';') {
            leading += line.len() - line.trim_start().len();
            break;
        }
        leading += line.len();
    }
    let rest = &text[leading..];
    if let Some(after) = rest.strip_prefix('>') {
        let end = after.find('\n').map_or(after.len(), |i| i + 1);
        let body_offset = leading + 1 + end;
        let before = &text[..body_offset];
        let origin = Origin {
            position: before.chars().count() + 1,
            line: before.matches('\n').count() + 1,
            header_line: None,
        };
        (Some(after[..end].trim()), &text[body_offset..], origin)
    } else {
        (
            None,
            text,
            Origin {
                position: 1,
                line: 1,
                header_line: None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tests::{message, one, LIMITS};
    use crate::query::*;

    #[test]
    fn a_batch_keeps_file_order_names_and_descriptions() {
        let text = "; exported\r\n>a first one\r\nACGT\r\n\r\n ;note\r\nAC\r\n; a's end\r\n>b\r\nMKVL*\r\n\r\n>c\nacgu\n";
        let queries = parse_fasta(text, &LIMITS).unwrap();
        let names: Vec<_> = queries.iter().map(Query::name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(queries[0].description(), Some("first one"));
        assert_eq!(queries[0].sequence(), "ACGTAC");
        assert_eq!(queries[1].sequence(), "MKVL");
        assert_eq!(queries[2].alphabet(), Alphabet::Rna);
        // Several records in a form field are a batch too.
        assert_eq!(
            parse_submission(None, Some(text), &LIMITS).unwrap().len(),
            3
        );
    }

    #[test]
    fn a_bad_record_names_its_number_and_line() {
        let err = parse_fasta(">a\nACGT\n>b\nAC@T\n", &LIMITS).unwrap_err();
        assert_eq!(err.field(), Some("query_sequence"));
        assert!(
            err.to_string().contains(
                "record 2 (b): invalid character '@' at position 3 of its sequence \
                 (line 2 of the record, column 3; line 4 of the file)"
            ),
            "{err}"
        );
        // Deep in a plate: the place in the record, then the file's line.
        let plate = format!(
            "{}>D05 well\n{}\n{}@\n",
            ">r\nACGT\n".repeat(40),
            "A".repeat(60),
            "C".repeat(26)
        );
        let many = Limits {
            max_records: 100,
            ..LIMITS
        };
        assert!(
            message(parse_fasta(&plate, &many)).contains(
                "record 41 (D05): invalid character '@' at position 87 of its sequence \
                 (line 3 of the record, column 27; line 83 of the file)"
            ),
            "{}",
            message(parse_fasta(&plate, &many))
        );
        assert!(message(parse_fasta("ACGT\n>a\nACGT", &LIMITS))
            .contains("line 1: sequence text before the first header"));
        assert!(message(parse_fasta(">a\nAC;GT\n", &LIMITS)).contains(
            "record 1 (a): invalid character ';' at position 3 of its sequence (line 2 of the record, column 3"
        ));
        assert!(message(parse_fasta(">a\n>b\nACGT", &LIMITS))
            .contains("record 1 (a): holds no residues"));
        assert!(message(parse_fasta(">\nACGT", &LIMITS))
            .contains("record 1 (unnamed): line 1: the header names no identifier"));
        let many = ">r\nA\n".repeat(11);
        assert!(matches!(
            parse_fasta(&many, &LIMITS),
            Err(Error::TooLarge(_))
        ));
    }

    #[test]
    fn comment_lines_may_come_before_a_single_header() {
        let text = "; exported by SnapGene\r\n\r\n ;2024\r\n>gfp start codon\r\nATG;x\r\nAAA\r\n";
        let err = message(parse_submission(None, Some(text), &LIMITS));
        // The header was found: the complaint is about the sequence, at its place.
        assert!(
            err.contains("';' at position 56 (line 5, column 4)"),
            "{err}"
        );
        let text = text.replace("ATG;x", "ATG");
        let query = parse_submission(None, Some(&text), &LIMITS)
            .unwrap()
            .remove(0);
        assert_eq!(
            (query.name(), query.description(), query.sequence()),
            ("gfp", Some("start codon"), "ATGAAA")
        );
        // Without a header, comment lines are the sequence's, as before.
        assert_eq!(one("q", "; note\nACGT\n").unwrap().sequence(), "ACGT");
    }
}
