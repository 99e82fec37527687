//! What a client sent, parsed into [`Query`] values that everything downstream trusts.
//!
//! A `Query` can only be made here, so a name is never empty, a name and a
//! description are short and hold no control or invisible formatting
//! characters, and a sequence is always clean upper-case IUPAC letters (plus
//! `*` and `-`) within the configured limits. Sequences arrive the way
//! scientists have them: pasted with a FASTA header (and comment lines before
//! it), numbered and spaced like a GenBank record, in lower case, with Windows
//! line ends or a byte-order mark; reads come as FASTQ from a sequencer,
//! their qualities kept beside the sequence.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest `query_name`, in characters: long enough for any sample sheet's
/// naming scheme, short enough to show in a table and a log line.
pub const MAX_NAME_CHARS: usize = 256;

/// Longest description (the FASTA header after the identifier), in characters:
/// NCBI's and UniProt's headers run to a few hundred. A record keeps it in
/// memory and shows it in every listing, so it must stay small whatever is sent.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Characters of a name shown in an error message: enough to recognise the
/// record, whatever length the name was sent with.
const NAME_SHOWN_CHARS: usize = 40;

/// The quality characters FASTQ writes: Phred scores plus 33, `!` (0) to `~` (93).
const QUALITY_CHARS: std::ops::RangeInclusive<char> = '!'..='~';

/// Stray letters a note names one by one: enough to correct a typo or two by
/// hand; past it the note only counts them, so a note stays short.
const STRAY_LETTERS_NAMED: usize = 5;

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

    /// The alphabet as a sentence names it: `DNA`, `RNA`, `protein`.
    pub fn word(self) -> &'static str {
        match self {
            Alphabet::Dna => "DNA",
            Alphabet::Rna => "RNA",
            Alphabet::Protein => "protein",
        }
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

impl AlphabetPolicy {
    /// Whether a sequence read as `alphabet` may be taken under this policy.
    pub fn allows(self, alphabet: Alphabet) -> bool {
        match self {
            AlphabetPolicy::Auto => true,
            AlphabetPolicy::Nucleotide => alphabet.is_nucleotide(),
            AlphabetPolicy::Protein => !alphabet.is_nucleotide(),
        }
    }

    /// As the option and the configuration file write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlphabetPolicy::Auto => "auto",
            AlphabetPolicy::Nucleotide => "nucleotide",
            AlphabetPolicy::Protein => "protein",
        }
    }
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
    notes: Vec<String>,
    /// A FASTQ read's qualities, one character per residue.
    quality: Option<String>,
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

    /// What the scientist should know about how the query was read, e.g. that
    /// one stray letter made a DNA read a protein.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Adds something the scientist should know about how the submission was
    /// read, e.g. a setting of NCBI's API that the pipeline does not take.
    pub fn add_note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// A FASTQ read's qualities (Phred + 33), one character per residue of
    /// [`Query::sequence`]; `None` for a sequence that came without them.
    pub fn quality(&self) -> Option<&str> {
        self.quality.as_deref()
    }

    /// A FASTQ read as it came, four lines (the sequence cleaned, as in
    /// `query.fasta`); `None` for a sequence without qualities.
    pub fn to_fastq(&self) -> Option<String> {
        let quality = self.quality.as_deref()?;
        let mut header = self.name.clone();
        if let Some(description) = &self.description {
            header.push(' ');
            header.push_str(description);
        }
        Some(format!("@{header}\n{}\n+\n{quality}\n", self.sequence))
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
    if is_fastq(text) {
        let mut queries = parse_fastq(text, limits)?;
        // One read, named in the form: the name given wins, as over a FASTA header.
        if let (Some(name), [query]) = (
            name.map(str::trim).filter(|name| !name.is_empty()),
            queries.as_mut_slice(),
        ) {
            check_name(name).map_err(|problem| invalid("query_name", problem))?;
            query.name = name.to_owned();
        }
        return Ok(queries);
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
    let (name, name_field) = match name.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => (name, "query_name"),
        None => (
            header_name.ok_or_else(|| {
                invalid(
                    "query_name",
                    "is missing or empty; give the query a name".into(),
                )
            })?,
            "query_sequence",
        ),
    };
    check_name(name).map_err(|problem| invalid(name_field, problem))?;
    if let Some(description) = description {
        check_description(description).map_err(|problem| invalid("query_sequence", problem))?;
    }
    let cleaned = clean_sequence(body, body_start, limits)
        .map_err(|problem| invalid("query_sequence", problem))?;
    Ok(vec![cleaned.into_query(name, description)])
}

/// Parses a sequence file of one or more records, all or nothing: FASTQ
/// when its first line that is not blank starts with `@`, FASTA otherwise.
pub fn parse_records(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
    if is_fastq(strip_bom(text)) {
        parse_fastq(text, limits)
    } else {
        parse_fasta(text, limits)
    }
}

/// Whether a text is FASTQ: its first line that is not blank starts with `@`
/// (which no FASTA text does, nor any sequence).
fn is_fastq(text: &str) -> bool {
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
pub fn parse_fastq(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
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

/// A record's header, read: its name and description checked.
struct Header<'a> {
    /// The record's place in the file, from 1.
    number: usize,
    name: &'a str,
    description: Option<&'a str>,
}

impl<'a> Header<'a> {
    /// Reads the header of a file's record `number`, `text` (after its `>`
    /// or `@`) on the file's line `line`: one record more than the limit, a
    /// header without a name, or a bad name or description are refused.
    fn read(
        number: usize,
        text: &'a str,
        line: usize,
        limits: &Limits,
    ) -> Result<Header<'a>, Error> {
        if number > limits.max_records {
            return Err(Error::TooLarge(format!(
                "the batch holds more than {} records, the most one submission may hold (--max-records)",
                limits.max_records
            )));
        }
        let (name, description) = split_fasta_header(text);
        let at = |problem: String| in_record(number, name, problem);
        let name =
            name.ok_or_else(|| at(format!("line {line}: the header names no identifier")))?;
        check_name(name).map_err(at)?;
        if let Some(description) = description {
            check_description(description).map_err(at)?;
        }
        Ok(Header {
            number,
            name,
            description,
        })
    }

    /// A problem of this record.
    fn error(&self, problem: String) -> Error {
        in_record(self.number, Some(self.name), problem)
    }
}

/// A problem of a file's record `number`, named `name` (shortened and
/// escaped for showing).
fn in_record(number: usize, name: Option<&str>, problem: String) -> Error {
    let shown = name.map_or_else(|| "unnamed".into(), shown_name);
    invalid(
        "query_sequence",
        format!("record {number} ({shown}): {problem}"),
    )
}

/// Where a piece of text starts in what the client sent, for error messages.
#[derive(Clone, Copy, Debug)]
struct Origin {
    /// 1-based character position of the first character.
    position: usize,
    /// 1-based line of the first character.
    line: usize,
    /// The 1-based line of its record's header, when it is one record of a
    /// file: a place is then told in the record first (a scientist finds
    /// record 41 in the file, then the letter in it), and in the file after.
    header_line: Option<usize>,
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
fn split_header(text: &str) -> (Option<&str>, &str, Origin) {
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

/// A header's identifier (up to the first white space) and the description after it.
fn split_fasta_header(header: &str) -> (Option<&str>, Option<&str>) {
    let header = header.trim();
    match header.split_once(char::is_whitespace) {
        Some((id, description)) => (Some(id), Some(description.trim()).filter(|d| !d.is_empty())),
        None => (Some(header).filter(|id| !id.is_empty()), None),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    check_text("name", name, MAX_NAME_CHARS, "shorten it")
}

fn check_description(description: &str) -> Result<(), String> {
    check_text(
        "description",
        description,
        MAX_DESCRIPTION_CHARS,
        "shorten the header line",
    )
}

/// Checks a name or a description (`what`): at most `max` characters (else
/// `shorten` says what to do), and none that is a control character or an
/// invisible formatting one, which could forge a log line, a terminal's
/// screen or the order text reads in.
fn check_text(what: &str, text: &str, max: usize, shorten: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max {
        return Err(format!(
            "the {what} is {chars} characters long; at most {max} are allowed, {shorten}"
        ));
    }
    // A tab is how some tools separate the fields of a FASTA description; it
    // forges nothing there (a name holds none: it would not read as one).
    let tab_allowed = what == "description";
    let unprintable = text
        .chars()
        .enumerate()
        .find(|&(_, c)| (c.is_control() && !(tab_allowed && c == '\t')) || is_invisible(c));
    if let Some((index, c)) = unprintable {
        let kind = if c.is_control() {
            "a control character"
        } else {
            "an invisible formatting or direction character"
        };
        return Err(format!(
            "the {what} holds U+{:04X}, {kind}, at character {}; use printable characters",
            u32::from(c),
            index + 1
        ));
    }
    Ok(())
}

/// Characters that print nothing yet change how the text around them reads:
/// Unicode's format characters (general category Cf: direction marks,
/// overrides and isolates, zero-width spaces and joiners, the byte-order mark,
/// tags, ...) and the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{600}'..='\u{605}'
        | '\u{61C}'
        | '\u{6DD}'
        | '\u{70F}'
        | '\u{890}'..='\u{891}'
        | '\u{8E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// A record's name as an error message shows it: its start only, and any
/// unprintable character written as its escape.
fn shown_name(name: &str) -> String {
    let mut shown = String::new();
    for c in name.chars().take(NAME_SHOWN_CHARS) {
        if c.is_control() || is_invisible(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    if name.chars().nth(NAME_SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

/// A sequence as [`clean_sequence`] makes it: all of a query but its name and description.
struct Cleaned {
    sequence: String,
    alphabet: Alphabet,
    notes: Vec<String>,
}

impl Cleaned {
    fn into_query(self, name: &str, description: Option<&str>) -> Query {
        Query {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            sequence: self.sequence,
            alphabet: self.alphabet,
            notes: self.notes,
            quality: None,
        }
    }
}

/// Cleans a sequence text into upper-case residues and detects its alphabet.
///
/// White space and digits are dropped, as in GenBank and EMBL flat files, and
/// so are `;` comment lines; a trailing `*` (a protein's stop) is dropped.
/// Returns a message naming the first offending character and where it stands.
fn clean_sequence(text: &str, origin: Origin, limits: &Limits) -> Result<Cleaned, String> {
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
        let place = match origin.header_line {
            // Where the residue would stand in the record's sequence, gaps counted.
            Some(header) => format!(
                "at position {} of its sequence (line {} of the record, column {column}; line {line} of the file)",
                sequence.len() + 1,
                line - header + 1
            ),
            None => format!(
                "at position {} (line {line}, column {column})",
                origin.position + index
            ),
        };
        return Err(format!(
            "invalid character '{}' {place}; a sequence holds IUPAC nucleotide or amino-acid letters, '*' and '-'",
            c.escape_debug(),
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
    // Detection said protein, yet the letters are nearly all nucleotides: a
    // typo in a read, most likely. The reading stands; the scientist is told.
    let stray = match (limits.alphabet, alphabet) {
        (AlphabetPolicy::Protein, _) | (_, Alphabet::Dna | Alphabet::Rna) => None,
        (AlphabetPolicy::Auto | AlphabetPolicy::Nucleotide, Alphabet::Protein) => {
            stray_letters(&sequence)
        }
    };
    if limits.alphabet == AlphabetPolicy::Nucleotide && alphabet == Alphabet::Protein {
        let because = stray
            .map(|(letters, _)| format!(" because of {letters}"))
            .unwrap_or_default();
        return Err(format!("reads as a protein{because}, and this server takes nucleotide sequences only (--alphabet nucleotide)"));
    }
    let notes = stray
        .map(|(letters, several)| {
            let (that, letter) = if several {
                ("those", "letters")
            } else {
                ("that", "letter")
            };
            format!("read as protein because of {letters}; if this is DNA, correct {that} {letter}")
        })
        .into_iter()
        .collect();
    Ok(Cleaned {
        sequence,
        alphabet,
        notes,
    })
}

/// The letters that are no nucleotide code in a sequence whose letters are
/// otherwise nucleotides (as [`detect_alphabet`] counts them), named with
/// their positions in the sequence, and whether there are several; `None`
/// when the sequence reads as a protein on its own merits.
fn stray_letters(sequence: &str) -> Option<(String, bool)> {
    let (mut letters, mut plain, mut count) = (0usize, 0usize, 0usize);
    let mut named = Vec::new();
    for (index, b) in sequence.bytes().enumerate() {
        if !b.is_ascii_alphabetic() {
            continue;
        }
        letters += 1;
        if PLAIN_NUCLEOTIDES.contains(&b) {
            plain += 1;
        } else if !NUCLEOTIDE_CODES.contains(&b) {
            count += 1;
            if named.len() < STRAY_LETTERS_NAMED {
                named.push(format!("'{}' at position {}", b as char, index + 1));
            }
        }
    }
    if count == 0 || !mostly_plain(plain, letters) {
        return None;
    }
    let mut list = match named.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) if count == named.len() => format!("{} and {last}", rest.join(", ")),
        _ => named.join(", "),
    };
    if count > named.len() {
        list.push_str(&format!(" and {} more", count - named.len()));
    }
    Some((list, count > 1))
}

/// IUPAC nucleotide codes: the four bases, U, and the ambiguity letters.
const NUCLEOTIDE_CODES: &[u8] = b"ACGTURYSWKMBDHVN";

/// The letters most of a nucleotide sequence is written in: the bases, U and N.
const PLAIN_NUCLEOTIDES: &[u8] = b"ACGTUN";

/// Whether at least 90% of `letters` are `plain` nucleotides (BLAST's guess).
fn mostly_plain(plain: usize, letters: usize) -> bool {
    plain * 10 >= letters * 9
}

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
        if PLAIN_NUCLEOTIDES.contains(&b) {
            plain += 1;
        }
    }
    if !mostly_plain(plain, letters) {
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
    Error::Invalid {
        field: field.into(),
        msg,
    }
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
        assert_eq!(
            message(one("a\u{7}b", "ACGT")),
            "query_name: the name holds U+0007, a control character, at character 2; \
             use printable characters"
        );
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
    fn fastq_reads_keep_their_qualities_one_per_residue() {
        let text = "@r1 run 7 lane 2\r\nacgtn\r\n+\r\nII#!~\r\n\n@r2\nGGCC\n+r2\n@@@@\n";
        let reads = parse_records(text, &LIMITS).unwrap();
        assert_eq!(reads.len(), 2);
        assert_eq!(
            (reads[0].name(), reads[0].description(), reads[0].sequence()),
            ("r1", Some("run 7 lane 2"), "ACGTN")
        );
        assert_eq!(reads[0].quality(), Some("II#!~"));
        assert_eq!(reads[0].to_fasta(), ">r1 run 7 lane 2\nACGTN\n");
        assert_eq!(
            reads[0].to_fastq().as_deref(),
            Some("@r1 run 7 lane 2\nACGTN\n+\nII#!~\n")
        );
        // A quality line may start with '@': it is the fourth line, whatever it holds.
        assert_eq!(reads[1].quality(), Some("@@@@"));
        // A form's text reads the same, and names one read as it says.
        let one = parse_submission(Some("mine"), Some("@r1\nACGT\n+\nIIII\n"), &LIMITS).unwrap();
        assert_eq!((one[0].name(), one[0].quality()), ("mine", Some("IIII")));
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

    #[test]
    fn descriptions_are_bounded() {
        let longest = "d".repeat(MAX_DESCRIPTION_CHARS);
        let query = one("q", &format!(">h {longest}\nACGT")).unwrap();
        assert_eq!(query.description(), Some(longest.as_str()));
        let err = one("q", &format!(">h {longest}é\nACGT")).unwrap_err();
        assert_eq!(err.field(), Some("query_sequence"));
        assert_eq!(
            err.to_string(),
            "query_sequence: the description is 1001 characters long; at most 1000 are allowed, \
             shorten the header line"
        );
        let batch = format!(">a\nACGT\n>b {longest}d\nACGT\n");
        assert!(message(parse_fasta(&batch, &LIMITS))
            .starts_with("query_sequence: record 2 (b): the description is 1001 characters long"));
    }

    #[test]
    fn control_and_invisible_characters_are_named_in_names_and_descriptions() {
        for (c, kind) in [
            ('\0', "a control character"),
            ('\u{1b}', "a control character"),
            ('\r', "a control character"),
            ('\u{85}', "a control character"),
            ('\u{202e}', "an invisible formatting or direction character"),
            ('\u{200b}', "an invisible formatting or direction character"),
            ('\u{2067}', "an invisible formatting or direction character"),
            ('\u{feff}', "an invisible formatting or direction character"),
            ('\u{2028}', "an invisible formatting or direction character"),
            (
                '\u{e0041}',
                "an invisible formatting or direction character",
            ),
        ] {
            let code = format!("U+{:04X}, {kind}, at character 3", u32::from(c));
            let name = format!("ab{c}c");
            let err = one(&name, "ACGT").unwrap_err();
            assert_eq!(err.field(), Some("query_name"));
            assert!(
                err.to_string().contains(&format!("the name holds {code}")),
                "{err}"
            );

            // In a header, white space (U+0085 and U+2028 are) ends the name.
            if !c.is_whitespace() {
                let header = format!(">{name}\nACGT");
                let err = parse_submission(None, Some(&header), &LIMITS).unwrap_err();
                assert_eq!(err.field(), Some("query_sequence"), "a name from a header");
                assert!(
                    err.to_string().contains(&format!("the name holds {code}")),
                    "{err}"
                );
            }

            let err = one("q", &format!(">h ab{c}c\nACGT")).unwrap_err();
            assert_eq!(err.field(), Some("query_sequence"));
            assert!(
                err.to_string()
                    .contains(&format!("the description holds {code}")),
                "{err}"
            );

            let err = parse_fasta(&format!(">ok\nA\n>h ab{c}c\nACGT"), &LIMITS).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("record 2 (h): the description holds {code}")),
                "{err}"
            );
        }
        // Printable text of any script is kept as it came.
        let query = one("α-globin", ">h 5′ end — ünïcödé, 日本\r\nACGT").unwrap();
        assert_eq!(query.description(), Some("5′ end — ünïcödé, 日本"));
    }

    #[test]
    fn an_error_shows_only_the_start_of_a_long_or_unprintable_name() {
        let huge = "n".repeat(1_000_000);
        let err = message(parse_fasta(&format!(">{huge}\nACGT\n"), &LIMITS));
        assert!(err.len() < 300, "{} bytes", err.len());
        assert!(
            err.contains(&format!("record 1 ({}…)", "n".repeat(40))),
            "{err}"
        );
        assert!(
            err.contains("the name is 1000000 characters long; at most 256"),
            "{err}"
        );
        let err = message(parse_fasta(">a\u{1b}[2J b\nACGT\n", &LIMITS));
        assert!(err.contains("record 1 (a\\u{1b}[2J)"), "{err}");
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

    #[test]
    fn a_nucleotide_read_made_protein_by_stray_letters_gets_a_note() {
        let read = "ACGTTGCAACGTTGCAEGTACGTTGCAACGTTGCA";
        let query = one("r", read).unwrap();
        assert_eq!(query.alphabet(), Alphabet::Protein);
        assert_eq!(
            query.notes(),
            ["read as protein because of 'E' at position 17; if this is DNA, correct that letter"]
        );
        let two = one("r", &read.replacen("GTTG", "GTFG", 1)).unwrap();
        assert_eq!(
            two.notes(),
            [
                "read as protein because of 'F' at position 5 and 'E' at position 17; \
              if this is DNA, correct those letters"
            ]
        );
        // Gaps count in the position, as query.fasta holds them.
        let gapped = one("r", &format!("--{read}")).unwrap();
        assert!(
            gapped.notes()[0].contains("'E' at position 19"),
            "{:?}",
            gapped.notes()
        );
        let many = one("r", &format!("{}{}", "ACGT".repeat(60), "EFIJLOPQ")).unwrap();
        assert!(
            many.notes()[0].contains(
                "'E' at position 241, 'F' at position 242, 'I' at position 243, \
                 'J' at position 244, 'L' at position 245 and 3 more;"
            ),
            "{:?}",
            many.notes()
        );
        // A protein, a clean read, and a protein rich in A, C, G and T get none.
        for text in [
            "KVFGRCELAAAMKRHGLDNYRGYSLGNWVCAAKFESNFNTQA",
            "ACGTACGT",
            "ACGTACGTE",
        ] {
            assert!(one("q", text).unwrap().notes().is_empty(), "{text}");
        }
        // A protein-only server reads every sequence as one: nothing to note.
        let protein = Limits {
            alphabet: AlphabetPolicy::Protein,
            ..LIMITS
        };
        assert!(
            parse_submission(Some("q"), Some(read), &protein).unwrap()[0]
                .notes()
                .is_empty()
        );
        // A nucleotide-only server says which letter it took for an amino acid.
        let nucleotide = Limits {
            alphabet: AlphabetPolicy::Nucleotide,
            ..LIMITS
        };
        let err = parse_submission(Some("q"), Some(read), &nucleotide).unwrap_err();
        assert!(
            err.to_string()
                .contains("reads as a protein because of 'E' at position 17, and this server"),
            "{err}"
        );
    }
}
