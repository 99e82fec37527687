//! What a client sent, parsed into [`Query`] values that everything downstream trusts.
//!
//! A `Query` can only be made here, so a name is never empty or full of control
//! characters, and a sequence is always clean upper-case IUPAC letters (plus `*`
//! and `-`) within the configured limits. Sequences arrive the way scientists
//! have them: pasted with a FASTA header, numbered and spaced like a GenBank
//! record, in lower case, with Windows line ends or a byte-order mark.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest `query_name`, in characters: long enough for any sample sheet's
/// naming scheme, short enough to show in a table and a log line.
pub const MAX_NAME_CHARS: usize = 256;

/// The residues a sequence is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Dna,
    Rna,
    Protein,
}

impl Alphabet {
    pub fn is_nucleotide(self) -> bool {
        self != Alphabet::Protein
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alphabet::Dna => "dna",
            Alphabet::Rna => "rna",
            Alphabet::Protein => "protein",
        }
    }
}

/// Which sequences a server takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlphabetPolicy {
    /// Detect DNA, RNA or protein from the letters.
    Auto,
    /// DNA or RNA only: a protein gets 422 (for a server that runs blastn).
    Nucleotide,
    /// Protein only: every sequence is read as amino acids.
    Protein,
}

/// The limits a submission is checked against (the configuration sets them).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_records: usize,
    pub max_residues: usize,
    pub alphabet: AlphabetPolicy,
}

/// One validated sequence query: what an experiment is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    name: String,
    description: Option<String>,
    sequence: String,
    alphabet: Alphabet,
}

impl Query {
    /// The name the scientist gave it (or the FASTA identifier).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rest of the FASTA header line after the identifier, if there was one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The clean sequence: upper-case IUPAC letters, `*` and `-`.
    pub fn sequence(&self) -> &str {
        &self.sequence
    }

    pub fn alphabet(&self) -> Alphabet {
        self.alphabet
    }

    /// The query as the processing command reads it: one FASTA record, 60 residues a line.
    pub fn to_fasta(&self) -> String {
        let mut fasta = String::with_capacity(
            self.sequence.len() + self.sequence.len() / 60 + self.name.len() + 4,
        );
        fasta.push('>');
        fasta.push_str(&self.name);
        if let Some(description) = &self.description {
            fasta.push(' ');
            fasta.push_str(description);
        }
        fasta.push('\n');
        // The sequence is ASCII, so byte chunks are character chunks.
        for line in self.sequence.as_bytes().chunks(60) {
            fasta.push_str(std::str::from_utf8(line).expect("a clean sequence is ASCII"));
            fasta.push('\n');
        }
        fasta
    }
}

/// Parses a form or JSON submission: `query_name` and `query_sequence`.
///
/// A sequence holding several FASTA records is a batch: each record becomes one
/// query named by its header, and `name` is not needed. A single sequence may
/// have one header line; it needs a `name`, or a header to take the name from.
pub fn parse_submission(
    name: Option<&str>,
    text: Option<&str>,
    limits: &Limits,
) -> Result<Vec<Query>, Error> {
    let text = text.map(strip_bom).unwrap_or("");
    if text.trim().is_empty() {
        return Err(invalid(
            "query_sequence",
            "is missing or empty; paste a sequence, with or without a FASTA header".into(),
        ));
    }
    if text
        .lines()
        .filter(|line| line.trim_start().starts_with('>'))
        .count()
        > 1
    {
        return parse_fasta(text, limits);
    }

    let (header, body, body_start) = split_header(text);
    let (header_name, description) = match header {
        Some(header) => split_fasta_header(header),
        None => (None, None),
    };
    let name = match name.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => name,
        None => header_name.ok_or_else(|| {
            invalid(
                "query_name",
                "is missing or empty; give the query a name".into(),
            )
        })?,
    };
    check_name("query_name", name)?;
    let (sequence, alphabet) = clean_sequence(body, body_start, limits)
        .map_err(|problem| invalid("query_sequence", problem))?;
    Ok(vec![Query {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        sequence,
        alphabet,
    }])
}

/// Parses a FASTA text of one or more records, all or nothing.
///
/// Blank lines and `;` comment lines are skipped anywhere. Each record's name is
/// its header up to the first white space; the rest is its description.
pub fn parse_fasta(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
    let text = strip_bom(text);
    let mut queries = Vec::new();
    let mut records = Records {
        text,
        offset: 0,
        line: 1,
        chars: 0,
    };
    while let Some(record) = records.next_record()? {
        let number = queries.len() + 1;
        if number > limits.max_records {
            return Err(Error::TooLarge(format!(
                "the batch holds more than {} records, the most one submission may hold (--max-records)",
                limits.max_records
            )));
        }
        let (name, description) = split_fasta_header(record.header);
        let at = |problem: String| {
            invalid(
                "query_sequence",
                format!("record {number} ({}): {problem}", name.unwrap_or("unnamed")),
            )
        };
        let name = name.ok_or_else(|| {
            at(format!(
                "line {}: the header names no identifier",
                record.line
            ))
        })?;
        check_name("query_sequence", name).map_err(|err| at(err.to_string()))?;
        let (sequence, alphabet) =
            clean_sequence(record.body, record.body_start, limits).map_err(at)?;
        queries.push(Query {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            sequence,
            alphabet,
        });
    }
    if queries.is_empty() {
        return Err(invalid(
            "query_sequence",
            "holds no FASTA record; a record starts with a '>name' line".into(),
        ));
    }
    Ok(queries)
}

/// Where a piece of text starts in what the client sent, for error messages.
#[derive(Clone, Copy, Debug)]
struct Origin {
    /// 1-based character position of the first character.
    position: usize,
    /// 1-based line of the first character.
    line: usize,
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

/// Splits an optional leading header line (after any blank lines) from the sequence text.
fn split_header(text: &str) -> (Option<&str>, &str, Origin) {
    let leading = text.len() - text.trim_start().len();
    let rest = &text[leading..];
    if let Some(after) = rest.strip_prefix('>') {
        let end = after.find('\n').map_or(after.len(), |i| i + 1);
        let body_offset = leading + 1 + end;
        let before = &text[..body_offset];
        let origin = Origin {
            position: before.chars().count() + 1,
            line: before.matches('\n').count() + 1,
        };
        (Some(after[..end].trim()), &text[body_offset..], origin)
    } else {
        (
            None,
            text,
            Origin {
                position: 1,
                line: 1,
            },
        )
    }
}

/// A header's identifier (up to the first white space) and the description after it.
fn split_fasta_header(header: &str) -> (Option<&str>, Option<&str>) {
    let header = header.trim();
    match header.split_once(char::is_whitespace) {
        Some((id, description)) => (Some(id), Some(description.trim()).filter(|d| !d.is_empty())),
        None => (Some(header).filter(|id| !id.is_empty()), None),
    }
}

fn check_name(field: &'static str, name: &str) -> Result<(), Error> {
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(invalid(
            field,
            format!("the name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(invalid(
            field,
            format!(
                "the name holds the control character {}; use printable characters",
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// Cleans a sequence text into upper-case residues and detects its alphabet.
///
/// White space and digits are dropped, as in GenBank and EMBL flat files, and
/// so are `;` comment lines; a trailing `*` (a protein's stop) is dropped.
/// Returns a message naming the first offending character and where it stands.
fn clean_sequence(
    text: &str,
    origin: Origin,
    limits: &Limits,
) -> Result<(String, Alphabet), String> {
    let mut sequence = String::with_capacity(text.len());
    let (mut line, mut column) = (origin.line, 0);
    // A line whose first printed character is ';' is a comment, wherever it stands.
    let (mut line_start, mut comment) = (true, false);
    for (index, c) in text.chars().enumerate() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            (line_start, comment) = (true, false);
            continue;
        }
        if comment || c.is_whitespace() {
            continue;
        }
        if c == ';' && line_start {
            comment = true;
            continue;
        }
        line_start = false;
        if c.is_ascii_digit() {
            continue;
        }
        if c.is_ascii_alphabetic() || c == '*' || c == '-' {
            if sequence.len() == limits.max_residues {
                return Err(format!(
                    "the sequence holds more than {} residues, the most one sequence may hold (--max-residues)",
                    limits.max_residues
                ));
            }
            sequence.push(c.to_ascii_uppercase());
            continue;
        }
        return Err(format!(
            "invalid character '{}' at position {} (line {line}, column {column}); a sequence holds IUPAC nucleotide or amino-acid letters, '*' and '-'",
            c.escape_debug(),
            origin.position + index,
        ));
    }
    let alphabet = match limits.alphabet {
        AlphabetPolicy::Protein => Alphabet::Protein,
        AlphabetPolicy::Auto | AlphabetPolicy::Nucleotide => detect_alphabet(&sequence),
    };
    if alphabet == Alphabet::Protein {
        sequence.truncate(sequence.trim_end_matches('*').len());
    }
    if !sequence.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err("holds no residues, only gaps or stops".into());
    }
    if limits.alphabet == AlphabetPolicy::Nucleotide && alphabet == Alphabet::Protein {
        return Err("reads as a protein, and this server takes nucleotide sequences only (--alphabet nucleotide)".into());
    }
    Ok((sequence, alphabet))
}

/// IUPAC nucleotide codes: the four bases, U, and the ambiguity letters.
const NUCLEOTIDE_CODES: &[u8] = b"ACGTURYSWKMBDHVN";

/// Reads a clean sequence as nucleotides when every letter is a nucleotide code
/// and at least 90% are A, C, G, T, U or N (so a peptide such as `MKV`, whose
/// letters happen to be ambiguity codes, is a protein), as BLAST's guess does.
fn detect_alphabet(sequence: &str) -> Alphabet {
    let (mut letters, mut plain, mut t, mut u) = (0usize, 0usize, 0usize, 0usize);
    for b in sequence.bytes().filter(u8::is_ascii_alphabetic) {
        if !NUCLEOTIDE_CODES.contains(&b) {
            return Alphabet::Protein;
        }
        letters += 1;
        match b {
            b'T' => t += 1,
            b'U' => u += 1,
            _ => {}
        }
        if matches!(b, b'A' | b'C' | b'G' | b'T' | b'U' | b'N') {
            plain += 1;
        }
    }
    if plain * 10 < letters * 9 {
        Alphabet::Protein
    } else if u > 0 && t == 0 {
        Alphabet::Rna
    } else {
        Alphabet::Dna
    }
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn invalid(field: &'static str, msg: String) -> Error {
    Error::Invalid { field, msg }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_records: 10,
        max_residues: 1000,
        alphabet: AlphabetPolicy::Auto,
    };

    fn one(name: &str, text: &str) -> Result<Query, Error> {
        parse_submission(Some(name), Some(text), &LIMITS).map(|mut queries| queries.remove(0))
    }

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_plain_sequence_is_cleaned_and_detected() {
        let query = one("q1", "acgt ACGT\r\nacgt").unwrap();
        assert_eq!(query.sequence(), "ACGTACGTACGT");
        assert_eq!(query.alphabet(), Alphabet::Dna);
        assert_eq!(one("r", "ACGUACGU").unwrap().alphabet(), Alphabet::Rna);
        assert_eq!(one("p", "MKVLAAGIVG*").unwrap().sequence(), "MKVLAAGIVG");
        assert_eq!(one("p", "MKV").unwrap().alphabet(), Alphabet::Protein);
    }

    #[test]
    fn genbank_numbering_and_spacing_are_dropped() {
        let text = "        1 gatcctccat atacaacggt\n       21 ccgacatgag\n";
        assert_eq!(
            one("gb", text).unwrap().sequence(),
            "GATCCTCCATATACAACGGTCCGACATGAG"
        );
    }

    #[test]
    fn one_header_line_is_accepted_and_can_name_the_query() {
        let query = parse_submission(None, Some("\u{feff}>seq7 a test read\nACGT\n"), &LIMITS)
            .unwrap()
            .remove(0);
        assert_eq!(
            (query.name(), query.description(), query.sequence()),
            ("seq7", Some("a test read"), "ACGT")
        );
        assert_eq!(one("given", ">seq7\nACGT").unwrap().name(), "given");
    }

    #[test]
    fn the_first_bad_character_is_named_with_its_position() {
        assert_eq!(
            message(one("q", "ACGT\nAC!T")),
            "query_sequence: invalid character '!' at position 8 (line 2, column 3); \
             a sequence holds IUPAC nucleotide or amino-acid letters, '*' and '-'"
        );
        assert!(message(one("q", ">h\nAC.T")).contains("'.' at position 6 (line 2, column 3)"));
        assert!(message(one("q", "ACGT é")).contains("'é' at position 6"));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            message(one(" ", "ACGT")),
            "query_name: is missing or empty; give the query a name"
        );
        assert!(message(one("a\u{7}b", "ACGT")).contains("control character \\u{7}"));
        assert!(message(one(&"x".repeat(257), "ACGT")).contains("at most 256"));
        assert_eq!(
            one("$(touch pwned); `id`", "ACGT").unwrap().name(),
            "$(touch pwned); `id`"
        );
    }

    #[test]
    fn empty_and_gap_only_sequences_are_refused() {
        assert!(message(one("q", " \n ")).starts_with("query_sequence: is missing or empty"));
        assert!(message(one("q", "12 34")).contains("holds no residues"));
        assert!(message(one("q", "---")).contains("holds no residues"));
    }

    #[test]
    fn limits_are_enforced() {
        let small = Limits {
            max_residues: 4,
            ..LIMITS
        };
        assert!(parse_submission(Some("q"), Some("ACGT"), &small).is_ok());
        let err = parse_submission(Some("q"), Some("ACGTA"), &small).unwrap_err();
        assert!(err.to_string().contains("more than 4 residues"), "{err}");
        let nucleotide_only = Limits {
            alphabet: AlphabetPolicy::Nucleotide,
            ..LIMITS
        };
        assert!(parse_submission(Some("q"), Some("MKVLAAGIVG"), &nucleotide_only).is_err());
        assert!(parse_submission(Some("q"), Some("ACGT"), &nucleotide_only).is_ok());
        let protein = Limits {
            alphabet: AlphabetPolicy::Protein,
            ..LIMITS
        };
        assert_eq!(
            parse_submission(Some("q"), Some("ACGT"), &protein).unwrap()[0].alphabet(),
            Alphabet::Protein
        );
    }

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
            err.to_string()
                .contains("record 2 (b): invalid character '@' at position 14 (line 4, column 3)"),
            "{err}"
        );
        assert!(message(parse_fasta("ACGT\n>a\nACGT", &LIMITS))
            .contains("line 1: sequence text before the first header"));
        assert!(message(parse_fasta(">a\nAC;GT\n", &LIMITS))
            .contains("record 1 (a): invalid character ';' at position 6 (line 2, column 3)"));
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
    fn fasta_output_wraps_at_60() {
        let query = one("q", &"A".repeat(130)).unwrap();
        let fasta = query.to_fasta();
        let lines: Vec<_> = fasta.lines().collect();
        assert_eq!(lines[0], ">q");
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [2, 60, 60, 10]
        );
    }
}
