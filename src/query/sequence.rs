//! A sequence, cleaned: upper-case IUPAC letters (plus `*` and `-`) within
//! the limits, white space, digits and `;` comment lines dropped as GenBank
//! and EMBL flat files have them, the first bad character named with where it
//! stands; and its alphabet, detected as BLAST guesses it, with a note when a
//! few stray letters made a nucleotide read a protein.

use super::{Alphabet, AlphabetPolicy, Limits, Query};

/// Stray letters a note names one by one: enough to correct a typo or two by
/// hand; past it the note only counts them, so a note stays short.
const STRAY_LETTERS_NAMED: usize = 5;

/// Where a piece of text starts in what the client sent, for error messages.
#[derive(Clone, Copy, Debug)]
pub(super) struct Origin {
    /// 1-based character position of the first character.
    pub(super) position: usize,
    /// 1-based line of the first character.
    pub(super) line: usize,
    /// The 1-based line of its record's header, when it is one record of a
    /// file: a place is then told in the record first (a scientist finds
    /// record 41 in the file, then the letter in it), and in the file after.
    pub(super) header_line: Option<usize>,
}

/// A sequence as [`clean_sequence`] makes it: all of a query but its name and description.
pub(super) struct Cleaned {
    sequence: String,
    alphabet: Alphabet,
    notes: Vec<String>,
}

impl Cleaned {
    pub(super) fn into_query(self, name: &str, description: Option<&str>) -> Query {
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
pub(super) fn clean_sequence(
    text: &str,
    origin: Origin,
    limits: &Limits,
) -> Result<Cleaned, String> {
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
pub(crate) fn detect_alphabet(sequence: &str) -> Alphabet {
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

#[cfg(test)]
mod tests {
    use crate::query::tests::{message, one, LIMITS};
    use crate::query::*;

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
    fn empty_and_gap_only_sequences_are_refused() {
        assert!(message(one("q", " \n ")).starts_with("query_sequence: is missing or empty"));
        assert!(message(one("q", "12 34")).contains("holds no residues"));
        assert!(message(one("q", "---")).contains("holds no residues"));
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
