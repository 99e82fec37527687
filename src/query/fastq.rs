//! FASTQ: reads as sequencers write them, four lines each (`@name`, the
//! sequence, `+`, the qualities), the qualities kept beside the sequence, one
//! per residue; all or nothing, every error naming the record and its line.

use super::header::{in_record, shown_name, Header};
use super::sequence::{clean_sequence, Origin};
use super::{invalid, strip_bom, Limits, Query};
use crate::error::Error;

/// The quality characters FASTQ writes: Phred scores plus 33, `!` (0) to `~` (93).
const QUALITY_CHARS: std::ops::RangeInclusive<char> = '!'..='~';

/// Whether a text is FASTQ: its first line that is not blank starts with `@`
/// (which no FASTA text does, nor any sequence).
pub(super) fn is_fastq(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty())
        .is_some_and(|line| line.starts_with('@'))
}

/// Parses a FASTQ text of one or more reads, all or nothing.
///
/// Each record is four lines, as sequencers write them: `@name description`,
/// the sequence on one line, `+` (with the header's text again, or nothing),
/// and the qualities, one character from `!` to `~` per residue. Blank lines
/// between records are skipped. A sequence wrapped over several lines (rare,
/// and ambiguous where a quality line starts with `@`) is refused, naming the
/// record, rather than guessed at. The sequence is letters only: a quality
/// stands for each character, so none may be dropped as FASTA's digits and
/// spaces are.
pub(super) fn parse_fastq(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
    let text = strip_bom(text);
    let mut lines = text.lines().zip(1usize..);
    let mut queries = Vec::new();
    while let Some((header, header_line)) = lines.find(|(line, _)| !line.trim().is_empty()) {
        let number = queries.len() + 1;
        let Some(title) = header.trim_start().strip_prefix('@').map(str::trim) else {
            return Err(in_record(number, None, format!(
                "line {header_line}: expected a FASTQ record's '@name' line; each record is four lines: @name, the sequence, '+', the qualities"
            )));
        };
        let header = Header::read(number, title, header_line, limits)?;
        let at = |problem: String| header.error(problem);
        let mut next = |what: &str| {
            lines.next().ok_or_else(|| {
                at(format!(
                    "the file ends before its {what} line; each FASTQ record is four lines: @name, the sequence, '+', the qualities"
                ))
            })
        };
        let (sequence, sequence_line) = next("sequence")?;
        let (plus, plus_line) = next("'+'")?;
        let (quality, quality_line) = next("quality")?;
        let Some(repeated) = plus.strip_prefix('+') else {
            return Err(at(format!(
                "line {plus_line}: expected the '+' line after the sequence line; each FASTQ record is four lines, \
                 and a sequence wrapped over several lines is not read here (write one sequence line and one quality line per read)"
            )));
        };
        let repeated = repeated.trim();
        if !repeated.is_empty() && repeated != title {
            return Err(at(format!(
                "line {plus_line}: the '+' line repeats '{}', not its record's header",
                shown_name(repeated)
            )));
        }
        let sequence = sequence.trim_end();
        if let Some((index, c)) = sequence
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_alphabetic())
        {
            return Err(at(format!(
                "invalid character '{}' at position {column} of its sequence (line 2 of the record, column {column}; line {sequence_line} of the file); \
                 a FASTQ sequence holds IUPAC letters only, one per quality character",
                c.escape_debug(),
                column = index + 1
            )));
        }
        let quality = quality.trim_end();
        let (residues, qualities) = (sequence.len(), quality.chars().count());
        if qualities != residues {
            return Err(at(format!(
                "line {quality_line}: {qualities} quality characters for {residues} residues; a FASTQ record has one per residue"
            )));
        }
        if let Some((index, c)) = quality
            .chars()
            .enumerate()
            .find(|(_, c)| !QUALITY_CHARS.contains(c))
        {
            return Err(at(format!(
                "line {quality_line}: the quality character '{}' at position {} is not one of '!' to '~' (Phred + 33)",
                c.escape_debug(),
                index + 1
            )));
        }
        let origin = Origin {
            position: 1,
            line: sequence_line,
            header_line: Some(header_line),
        };
        let mut query = clean_sequence(sequence, origin, limits)
            .map_err(at)?
            .into_query(header.name, header.description);
        query.quality = Some(quality.to_owned());
        queries.push(query);
    }
    if queries.is_empty() {
        return Err(invalid(
            "query_sequence",
            "holds no FASTQ record; a record starts with an '@name' line".into(),
        ));
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::tests::{message, LIMITS};
    use crate::query::*;

    #[test]
    fn fastq_reads_keep_their_qualities_one_per_residue() {
        let text = "@r1 run 7 lane 2\r\nacgtn\r\n+\r\nII#!~\r\n\n@r2\nGGCC\n+r2\n@@@@\n";
        let reads = parse_records(text, &LIMITS).unwrap();
        assert_eq!(reads.len(), 2);
        assert_eq!(
            (reads[0].name(), reads[0].description(), reads[0].sequence()),
            ("r1", Some("run 7 lane 2"), "ACGTN")
        );
        assert_eq!(reads[0].quality.as_deref(), Some("II#!~"));
        assert_eq!(reads[0].to_fasta(), ">r1 run 7 lane 2\nACGTN\n");
        assert_eq!(
            reads[0].to_fastq().as_deref(),
            Some("@r1 run 7 lane 2\nACGTN\n+\nII#!~\n")
        );
        // A quality line may start with '@': it is the fourth line, whatever it holds.
        assert_eq!(reads[1].quality.as_deref(), Some("@@@@"));
        // A form's text reads the same, and names one read as it says.
        let one = parse_submission(Some("mine"), Some("@r1\nACGT\n+\nIIII\n"), &LIMITS).unwrap();
        assert_eq!(
            (one[0].name(), one[0].quality.as_deref()),
            ("mine", Some("IIII"))
        );
        assert_eq!(
            parse_submission(None, Some(text), &LIMITS).unwrap().len(),
            2
        );
        // FASTA has no qualities.
        assert_eq!(
            parse_records(">a\nACGT\n", &LIMITS).unwrap()[0].to_fastq(),
            None
        );
    }

    #[test]
    fn a_bad_fastq_record_is_named_with_what_is_wrong() {
        let fails = |text: &str| message(parse_fastq(text, &LIMITS));
        let good = "@r1\nACGT\n+\nIIII\n";
        for (text, says) in [
            (
                format!("{good}@r2\nACGT\n+\nIII\n"),
                "record 2 (r2): line 8: 3 quality characters for 4 residues",
            ),
            (
                format!("{good}@r2\nACG\nT\n+\nIIII\n"),
                "record 2 (r2): line 7: expected the '+' line after the sequence line",
            ),
            (
                format!("{good}@r2\nAC1T\n+\nIIII\n"),
                "record 2 (r2): invalid character '1' at position 3 of its sequence \
                 (line 2 of the record, column 3; line 6 of the file)",
            ),
            (
                format!("{good}@r2\nACGT\n+r3\nIIII\n"),
                "record 2 (r2): line 7: the '+' line repeats 'r3', not its record's header",
            ),
            (
                format!("{good}@r2\nACGT\n+\nII I\n"),
                "record 2 (r2): line 8: the quality character ' ' at position 3",
            ),
            (
                format!("{good}@r2\nACGT\n"),
                "record 2 (r2): the file ends before its '+' line",
            ),
            (
                format!("{good}ACGT\n"),
                "record 2 (unnamed): line 5: expected a FASTQ record's '@name' line",
            ),
            (
                format!("{good}@\nA\n+\nI\n"),
                "record 2 (unnamed): line 5: the header names no identifier",
            ),
            (
                format!("{good}@r2\n\n+\n\n"),
                "record 2 (r2): holds no residues",
            ),
        ] {
            let err = fails(&text);
            assert!(err.starts_with("query_sequence: "), "{err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
        let many = "@r\nA\n+\nI\n".repeat(11);
        assert!(matches!(
            parse_fastq(&many, &LIMITS),
            Err(Error::TooLarge(_))
        ));
        let long = format!("@r\n{}\n+\n{}\n", "A".repeat(1001), "I".repeat(1001));
        assert!(fails(&long).contains("more than 1000 residues"));
    }
}
