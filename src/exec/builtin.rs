//! The built-in executor: the analysis an experiment gets when no processing command is configured.
//!
//! It reads the experiment's `query.fasta` and writes `analysis.json` beside it: composition, GC fraction,
//! average molecular weight, reverse complement and longest open reading frame, the first numbers a scientist
//! checks. The masses are Biopython's and the genetic code is NCBI's, so the answers agree with the tools the
//! lab already uses, and no external program is needed for a fresh server to do something useful.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{Control, Executor, Outcome, Recovered, Run, Started};
use crate::error::Error;
use crate::model::Record;
use crate::query::Alphabet;

/// Runs the analysis in process: moments per experiment, nothing to stop,
/// nothing left behind by a crash.
pub struct Builtin;

impl Executor for Builtin {
    fn stoppable(&self) -> bool {
        false
    }

    fn run(&self, run: &Run, _control: Control, started: &mut Started) -> Outcome {
        // RUNNING is on disk before the analysis runs: a crash during it is
        // seen at the restart as an interruption.
        if let Err(err) = started(None) {
            return super::unrecorded(&err);
        }
        match write_analysis(run.dir, run.record.alphabet) {
            Ok(()) => Outcome::Complete { exit_code: None },
            Err(err) => Outcome::SystemError {
                exit_code: None,
                error: format!("the built-in analysis failed: {err}"),
            },
        }
    }

    fn recover(&self, _record: &Record, _dir: &Path) -> Recovered {
        Recovered::Requeue
    }
}

/// Average mass of the water lost at each bond between two residues, in daltons (Biopython's value).
const WATER: f64 = 18.0153;

/// Average masses of the free monomers, in daltons: `Bio.Data.IUPACData.unambiguous_dna_weights`.
const DNA_WEIGHTS: [(char, f64); 4] = [
    ('A', 331.2218),
    ('C', 307.1971),
    ('G', 347.2212),
    ('T', 322.2085),
];

/// Average masses of the free monomers, in daltons: `Bio.Data.IUPACData.unambiguous_rna_weights`.
const RNA_WEIGHTS: [(char, f64); 4] = [
    ('A', 347.2212),
    ('C', 323.1965),
    ('G', 363.2206),
    ('U', 324.1813),
];

/// Average masses of the free amino acids, in daltons: `Bio.Data.IUPACData.protein_weights`.
const PROTEIN_WEIGHTS: [(char, f64); 22] = [
    ('A', 89.0932),
    ('C', 121.1582),
    ('D', 133.1027),
    ('E', 147.1293),
    ('F', 165.1891),
    ('G', 75.0666),
    ('H', 155.1546),
    ('I', 131.1729),
    ('K', 146.1876),
    ('L', 131.1729),
    ('M', 149.2113),
    ('N', 132.1179),
    ('O', 255.3134),
    ('P', 115.1305),
    ('Q', 146.1445),
    ('R', 174.201),
    ('S', 105.0926),
    ('T', 119.1192),
    ('U', 168.0532),
    ('V', 117.1463),
    ('W', 204.2252),
    ('Y', 181.1885),
];

/// The standard genetic code (NCBI translation table 1): the amino acid of each codon, codons in TCAG order,
/// so codon `xyz` is at `16·x + 4·y + z` with T (or U) = 0, C = 1, A = 2, G = 3.
const STANDARD_CODE: &[u8; 64] =
    b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";

/// What the built-in processor found in one sequence; `analysis.json` is this, serialized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub alphabet: Alphabet,
    /// Characters in the sequence, gaps (`-`) and stops (`*`) included.
    pub length: usize,
    /// How many times each character occurs.
    pub residue_counts: BTreeMap<char, usize>,
    /// Nucleotides only: (G + C + S) over the residues that are not `-` or `*`, as Biopython's
    /// `gc_fraction(seq, "ignore")` counts the sequence without its gaps; `None` for proteins or no residues.
    pub gc_fraction: Option<f64>,
    /// Average mass of the single-stranded, linear molecule in daltons, as Biopython's `molecular_weight`
    /// computes it; gaps are left out. `None`, with a note, if a residue has no single mass (N, X, `*`, ...).
    pub molecular_weight: Option<f64>,
    /// Nucleotides only: the IUPAC complement, reversed.
    pub reverse_complement: Option<String>,
    /// Nucleotides only: the longest open reading frame on either strand, `None` if there is no ATG.
    pub longest_orf: Option<Orf>,
    /// Why a value is missing, in words for the scientist; empty when there is nothing to say.
    pub notes: Vec<String>,
}

/// An open reading frame: an ATG and the codons after it, up to and including the first stop codon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Orf {
    pub strand: Strand,
    /// 1, 2 or 3: where the frame begins in the strand's own 5'→3' reading.
    pub frame: u8,
    /// First position, 1-based, on the forward strand (for both strands, so `start < end`).
    pub start: usize,
    /// Last position, 1-based and inclusive, on the forward strand.
    pub end: usize,
    /// Nucleotides in the ORF, stop codon included; whole codons only.
    pub length_nt: usize,
    /// False when the sequence ends before a stop codon.
    pub complete: bool,
    /// The translation (NCBI table 1) without the stop; a codon with an ambiguous letter gives `X`.
    pub protein: String,
}

/// Which strand an ORF is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Strand {
    #[serde(rename = "+")]
    Forward,
    #[serde(rename = "-")]
    Reverse,
}

/// Reads `query.fasta` in `dir`, analyses its one record and writes `analysis.json` beside it.
///
/// Fails if `query.fasta` cannot be read or holds no sequence, or if `analysis.json` cannot be written.
pub fn write_analysis(dir: &Path, alphabet: Alphabet) -> Result<(), Error> {
    let input = dir.join("query.fasta");
    let fasta = std::fs::read_to_string(&input).map_err(|err| Error::io("reading", &input, err))?;
    // seqspool wrote this file: one header line, then the clean sequence on lines of 60.
    let sequence: String = fasta.lines().skip(1).map(str::trim).collect();
    if sequence.is_empty() {
        return Err(Error::Internal(format!(
            "query.fasta in {} holds no sequence",
            dir.display()
        )));
    }
    let analysis = analyze(&sequence, alphabet);
    let mut json = serde_json::to_vec_pretty(&analysis).map_err(|err| {
        Error::Internal(format!(
            "encoding analysis.json in {}: {err}",
            dir.display()
        ))
    })?;
    json.push(b'\n');

    // A reader sees the old file or the whole new one, never a half-written one.
    let output = dir.join("analysis.json");
    let mut file = crate::store::readable_temp_file(dir)?;
    file.write_all(&json)
        .map_err(|err| Error::io("writing", &output, err))?;
    file.persist(&output)
        .map_err(|err| Error::io("writing", &output, err.error))?;
    Ok(())
}

/// The analysis of one clean sequence (upper-case IUPAC letters, `*`, `-`).
pub fn analyze(sequence: &str, alphabet: Alphabet) -> Analysis {
    let mut residue_counts = BTreeMap::new();
    for residue in sequence.chars() {
        *residue_counts.entry(residue).or_insert(0) += 1;
    }
    let mut notes = Vec::new();
    let molecular_weight = match molecular_weight(sequence, alphabet) {
        Ok(weight) => Some(weight),
        Err(why) => {
            notes.push(format!("molecular weight not computed: {why}"));
            None
        }
    };
    let (gc_fraction, reverse_complement, longest_orf) = if alphabet.is_nucleotide() {
        let reverse: String = sequence
            .chars()
            .rev()
            .map(|base| complement(base, alphabet))
            .collect();
        let orf = longest_orf(sequence.as_bytes(), reverse.as_bytes());
        (gc_fraction(&residue_counts), Some(reverse), orf)
    } else {
        (None, None, None)
    };
    Analysis {
        alphabet,
        length: sequence.chars().count(),
        residue_counts,
        gc_fraction,
        molecular_weight,
        reverse_complement,
        longest_orf,
        notes,
    }
}

/// (G + C + S) over every residue that is not a gap or a stop; `None` when there are no such residues.
fn gc_fraction(counts: &BTreeMap<char, usize>) -> Option<f64> {
    let count = |residue| counts.get(&residue).copied().unwrap_or(0);
    let residues: usize = counts.values().sum::<usize>() - count('-') - count('*');
    let gc = count('G') + count('C') + count('S');
    (residues > 0).then(|| gc as f64 / residues as f64)
}

/// The average mass of the linear single strand: the monomers' masses minus one water per bond.
/// The error says why there is no single answer.
fn molecular_weight(sequence: &str, alphabet: Alphabet) -> Result<f64, String> {
    let table: &[(char, f64)] = match alphabet {
        Alphabet::Dna => &DNA_WEIGHTS,
        Alphabet::Rna => &RNA_WEIGHTS,
        Alphabet::Protein => &PROTEIN_WEIGHTS,
    };
    let (mut total, mut monomers) = (0.0, 0usize);
    let mut unknown = BTreeSet::new();
    for residue in sequence.chars().filter(|&residue| residue != '-') {
        match table.iter().find(|&&(letter, _)| letter == residue) {
            Some(&(_, weight)) => {
                total += weight;
                monomers += 1;
            }
            None => {
                unknown.insert(residue);
            }
        }
    }
    if !unknown.is_empty() {
        let unknown: Vec<String> = unknown.iter().map(char::to_string).collect();
        return Err(format!(
            "the sequence holds ambiguous or non-standard residues ({})",
            unknown.join(", ")
        ));
    }
    if monomers == 0 {
        return Err("the sequence holds only gaps".into());
    }
    Ok(total - (monomers - 1) as f64 * WATER)
}

/// The IUPAC complement of one base; S, W, N, gaps and stops are their own complement.
fn complement(base: char, alphabet: Alphabet) -> char {
    match base {
        'A' if alphabet == Alphabet::Rna => 'U',
        'A' => 'T',
        'T' | 'U' => 'A',
        'C' => 'G',
        'G' => 'C',
        'R' => 'Y',
        'Y' => 'R',
        'K' => 'M',
        'M' => 'K',
        'B' => 'V',
        'V' => 'B',
        'D' => 'H',
        'H' => 'D',
        other => other,
    }
}

/// The amino acid of one codon in the standard code, `*` for a stop, `X` if a letter is not T, U, C, A or G.
fn translate(codon: &[u8]) -> u8 {
    let mut index = 0;
    for &base in codon {
        index = index * 4
            + match base {
                b'T' | b'U' => 0,
                b'C' => 1,
                b'A' => 2,
                b'G' => 3,
                _ => return b'X',
            };
    }
    STANDARD_CODE[index]
}

fn is_start(codon: &[u8]) -> bool {
    matches!(codon, [b'A', b'T' | b'U', b'G'])
}

/// The longest ORF over the six frames, given both strands read 5'→3' (`reverse` is the reverse complement).
/// Ties go to the first found: strand +, frames 1 to 3, then strand −, each frame from its lowest start.
fn longest_orf(forward: &[u8], reverse: &[u8]) -> Option<Orf> {
    let len = forward.len();
    let mut best: Option<Orf> = None;
    for (strand, bases) in [(Strand::Forward, forward), (Strand::Reverse, reverse)] {
        for frame in 1..=3u8 {
            scan_frame(bases, usize::from(frame - 1), |from, to, complete| {
                if best
                    .as_ref()
                    .is_some_and(|best| best.length_nt >= to - from)
                {
                    return;
                }
                let mut protein: String = bases[from..to]
                    .chunks(3)
                    .map(|codon| translate(codon) as char)
                    .collect();
                if complete {
                    protein.pop();
                }
                let (start, end) = match strand {
                    Strand::Forward => (from + 1, to),
                    Strand::Reverse => (len - to + 1, len - from),
                };
                best = Some(Orf {
                    strand,
                    frame,
                    start,
                    end,
                    length_nt: to - from,
                    complete,
                    protein,
                });
            });
        }
    }
    best
}

/// Calls `found(from, to, complete)` with the 0-based, end-exclusive span of each ORF in the frame that
/// begins at `offset`, in order. One pass: only the first ATG since the last stop opens an ORF, since any
/// later one lies inside it.
fn scan_frame(bases: &[u8], offset: usize, mut found: impl FnMut(usize, usize, bool)) {
    let mut open = None;
    let mut at = offset;
    while at + 3 <= bases.len() {
        let codon = &bases[at..at + 3];
        if open.is_none() && is_start(codon) {
            open = Some(at);
        } else if translate(codon) == b'*' {
            if let Some(from) = open.take() {
                found(from, at + 3, true);
            }
        }
        at += 3;
    }
    if let Some(from) = open {
        found(from, at, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values come from Biopython 1.88: `Bio.SeqUtils.molecular_weight(seq, seq_type)` and
    // `gc_fraction(seq, "ignore")`, `Seq.reverse_complement()` / `reverse_complement_rna()`, and `Seq.translate()`
    // over the six frames for the ORFs.

    fn dna(sequence: &str) -> Analysis {
        analyze(sequence, Alphabet::Dna)
    }

    fn assert_close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a value");
        assert!(
            (actual - expected).abs() < 0.01,
            "{actual} is not {expected}"
        );
    }

    #[test]
    fn gc_fraction_counts_g_c_and_s_over_residues() {
        assert_eq!(dna("ATGC").gc_fraction, Some(0.5));
        assert_eq!(dna("GGGCCCAT").gc_fraction, Some(0.75));
        // Gaps are not residues: Biopython gives 0.5 for "ACGSNN".
        assert_eq!(dna("ACG-SNN").gc_fraction, Some(0.5));
        assert_eq!(dna("---").gc_fraction, None);
        assert_eq!(analyze("GGCC", Alphabet::Protein).gc_fraction, None);
    }

    #[test]
    fn molecular_weight_matches_biopython() {
        assert_close(dna("ATGC").molecular_weight, 1253.8027);
        assert_close(dna("AT-GC").molecular_weight, 1253.8027);
        assert_close(dna("ATGCATGCAAATTTGGGCCC").molecular_weight, 6196.9523);
        assert_close(
            analyze("AUGCUUAGC", Alphabet::Rna).molecular_weight,
            2895.6981,
        );
        assert_close(
            analyze("MKVLAAGIVG", Alphabet::Protein).molecular_weight,
            958.2192,
        );
        assert!(dna("ATGC").notes.is_empty());
    }

    #[test]
    fn molecular_weight_of_an_ambiguous_sequence_is_null_with_a_note() {
        let analysis = dna("ATGNCX");
        assert_eq!(analysis.molecular_weight, None);
        assert_eq!(
            analysis.notes,
            ["molecular weight not computed: the sequence holds ambiguous or non-standard residues (N, X)"]
        );
        assert_eq!(analyze("MKV*", Alphabet::Protein).molecular_weight, None);
        assert_eq!(analyze("ACGT", Alphabet::Rna).molecular_weight, None);
    }

    #[test]
    fn reverse_complement_follows_iupac() {
        assert_eq!(
            dna("ATGCRYKMSWBVDHN").reverse_complement.as_deref(),
            Some("NDHBVWSKMRYGCAT")
        );
        assert_eq!(
            analyze("AUGCCGUAA", Alphabet::Rna)
                .reverse_complement
                .as_deref(),
            Some("UUACGGCAU")
        );
        assert_eq!(dna("AC-G").reverse_complement.as_deref(), Some("C-GT"));
        assert_eq!(analyze("MKV", Alphabet::Protein).reverse_complement, None);
    }

    #[test]
    fn counts_and_length_include_gaps_and_stops() {
        let analysis = analyze("MK-K*", Alphabet::Protein);
        assert_eq!(analysis.length, 5);
        assert_eq!(
            analysis.residue_counts,
            BTreeMap::from([('*', 1), ('-', 1), ('K', 2), ('M', 1)])
        );
        assert_eq!(
            (analysis.longest_orf, analysis.alphabet),
            (None, Alphabet::Protein)
        );
    }

    fn orf(
        strand: Strand,
        frame: u8,
        start: usize,
        end: usize,
        complete: bool,
        protein: &str,
    ) -> Option<Orf> {
        let length_nt = end - start + 1;
        let protein = protein.to_string();
        Some(Orf {
            strand,
            frame,
            start,
            end,
            length_nt,
            complete,
            protein,
        })
    }

    #[test]
    fn orf_on_the_forward_strand() {
        // The Biopython tutorial's example: translate() gives "MAIVMGR*KGAR*".
        let found = dna("ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG").longest_orf;
        assert_eq!(found, orf(Strand::Forward, 1, 1, 24, true, "MAIVMGR"));
        assert_eq!(
            analyze("AUGCCCUAAGG", Alphabet::Rna).longest_orf,
            orf(Strand::Forward, 1, 1, 9, true, "MP")
        );
    }

    #[test]
    fn orf_on_the_reverse_strand_has_forward_coordinates() {
        // "CC" + reverse_complement("ATGAAACCCGGGTTTTAA") + "GG"
        let found = dna("CCTTAAAACCCGGGTTTCATGG").longest_orf;
        assert_eq!(found, orf(Strand::Reverse, 3, 3, 20, true, "MKPGF"));
    }

    #[test]
    fn orf_without_a_stop_is_incomplete_and_whole_codons() {
        let found = dna("CCATGAAACCCGGG").longest_orf;
        assert_eq!(found, orf(Strand::Forward, 3, 3, 14, false, "MKPG"));
    }

    #[test]
    fn orf_ties_go_to_the_forward_strand_and_ambiguous_codons_are_x() {
        // Both strands hold ATGTAA; Biopython translates "ATGNNNTAA" to "MX*".
        assert_eq!(
            dna("ATGTAACCTTACAT").longest_orf,
            orf(Strand::Forward, 1, 1, 6, true, "M")
        );
        assert_eq!(
            dna("ATGNNNTAA").longest_orf,
            orf(Strand::Forward, 1, 1, 9, true, "MX")
        );
    }

    #[test]
    fn no_atg_means_no_orf() {
        assert_eq!(dna("TTTTTTTT").longest_orf, None);
        assert_eq!(dna("AT").longest_orf, None);
    }

    #[test]
    fn run_writes_analysis_json_beside_the_query() {
        let dir = tempfile::TempDir::new().unwrap();
        let sequence = format!("ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG{}", "A".repeat(30));
        let fasta = format!(">q1 a test\n{}\n{}\n", &sequence[..60], &sequence[60..]);
        std::fs::write(dir.path().join("query.fasta"), fasta).unwrap();

        write_analysis(dir.path(), Alphabet::Dna).unwrap();

        let text = std::fs::read_to_string(dir.path().join("analysis.json")).unwrap();
        assert!(text.ends_with("}\n"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["alphabet"], "dna");
        assert_eq!(json["length"], 69);
        assert_eq!(json["residue_counts"]["A"], 39);
        assert!(json["molecular_weight"].is_f64());
        assert_eq!(json["longest_orf"]["strand"], "+");
        assert_eq!(json["longest_orf"]["protein"], "MAIVMGR");
        assert_eq!(json["notes"], serde_json::json!([]));
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["analysis.json", "query.fasta"]);
    }

    #[test]
    fn run_on_an_empty_query_writes_nothing() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("query.fasta"), ">q1\n\n").unwrap();
        let err = write_analysis(dir.path(), Alphabet::Dna).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("query.fasta in {} holds no sequence", dir.path().display())
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn run_without_a_query_names_the_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let err = write_analysis(dir.path(), Alphabet::Dna).unwrap_err();
        assert!(err.to_string().starts_with(&format!(
            "reading {}",
            dir.path().join("query.fasta").display()
        )));
    }
}
