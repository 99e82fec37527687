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
//!
//! Here: the values and the two ways in (a submission's fields, a file);
//! `fasta` and `fastq` read the formats, `header` checks names and
//! descriptions, `sequence` cleans a sequence and detects its alphabet.

use serde::{Deserialize, Serialize};

use crate::error::Error;

mod fasta;
mod fastq;
mod header;
mod sequence;

use fasta::{parse_fasta, split_header};
use fastq::{is_fastq, parse_fastq};
use header::{check_description, check_name, split_fasta_header};
use sequence::clean_sequence;
pub(crate) use sequence::detect_alphabet;

/// Longest `query_name`, in characters: long enough for any sample sheet's
/// naming scheme, short enough to show in a table and a log line.
pub(crate) const MAX_NAME_CHARS: usize = 256;

/// Longest description (the FASTA header after the identifier), in characters:
/// NCBI's and UniProt's headers run to a few hundred. A record keeps it in
/// memory and shows it in every listing, so it must stay small whatever is sent.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 1000;

/// The residues a sequence is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Dna,
    Rna,
    Protein,
}

impl Alphabet {
    pub(crate) fn is_nucleotide(self) -> bool {
        self != Alphabet::Protein
    }

    /// The alphabet as a sentence names it: `DNA`, `RNA`, `protein`.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Alphabet::Dna => "DNA",
            Alphabet::Rna => "RNA",
            Alphabet::Protein => "protein",
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) fn allows(self, alphabet: Alphabet) -> bool {
        match self {
            AlphabetPolicy::Auto => true,
            AlphabetPolicy::Nucleotide => alphabet.is_nucleotide(),
            AlphabetPolicy::Protein => !alphabet.is_nucleotide(),
        }
    }

    /// As the option and the configuration file write it.
    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) max_records: usize,
    pub(crate) max_residues: usize,
    pub(crate) alphabet: AlphabetPolicy,
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
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The rest of the FASTA header line after the identifier, if there was one.
    pub(crate) fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The clean sequence: upper-case IUPAC letters, `*` and `-`.
    pub(crate) fn sequence(&self) -> &str {
        &self.sequence
    }

    pub(crate) fn alphabet(&self) -> Alphabet {
        self.alphabet
    }

    /// What the scientist should know about how the query was read, e.g. that
    /// one stray letter made a DNA read a protein.
    pub(crate) fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Adds something the scientist should know about how the submission was
    /// read, e.g. a setting of NCBI's API that the pipeline does not take.
    pub(crate) fn add_note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// A FASTQ read as it came, four lines (the sequence cleaned, as in
    /// `query.fasta`); `None` for a sequence without qualities.
    pub(crate) fn to_fastq(&self) -> Option<String> {
        let quality = self.quality.as_deref()?;
        let mut header = self.name.clone();
        if let Some(description) = &self.description {
            header.push(' ');
            header.push_str(description);
        }
        Some(format!("@{header}\n{}\n+\n{quality}\n", self.sequence))
    }

    /// The query as the processing command reads it: one FASTA record, 60 residues a line.
    pub(crate) fn to_fasta(&self) -> String {
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
pub(crate) fn parse_submission(
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
pub(crate) fn parse_records(text: &str, limits: &Limits) -> Result<Vec<Query>, Error> {
    if is_fastq(strip_bom(text)) {
        parse_fastq(text, limits)
    } else {
        parse_fasta(text, limits)
    }
}

pub(super) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

pub(super) fn invalid(field: &'static str, msg: String) -> Error {
    Error::Invalid {
        field: field.into(),
        msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const LIMITS: Limits = Limits {
        max_records: 10,
        max_residues: 1000,
        alphabet: AlphabetPolicy::Auto,
    };

    pub(super) fn one(name: &str, text: &str) -> Result<Query, Error> {
        parse_submission(Some(name), Some(text), &LIMITS).map(|mut queries| queries.remove(0))
    }

    pub(super) fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().to_string()
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
