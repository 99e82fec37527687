//! The built-in analysis (`analysis.json`) as a page reads it: length,
//! composition, GC content, molecular weight, the longest ORF and its
//! translation, and the reverse complement; `ui::results` says it in words
//! and a chart.
//!
//! The file is read as `exec::builtin` writes it, every field optional, so a
//! lab's own command that writes an `analysis.json` of the same shape, or of
//! part of it, is shown as far as it goes.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The largest `analysis.json` read: the analysis of a sequence at the
/// server's largest size (a million residues) is a few megabytes.
pub(crate) const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What `analysis.json` says.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Summary {
    pub alphabet: Option<String>,
    pub length: Option<u64>,
    pub residue_counts: BTreeMap<String, u64>,
    pub gc_fraction: Option<f64>,
    /// Daltons.
    pub molecular_weight: Option<f64>,
    pub reverse_complement: Option<String>,
    pub longest_orf: Option<Orf>,
    pub notes: Vec<String>,
}

/// The longest open reading frame, as `exec::builtin::Orf` writes it.
#[derive(Debug, Deserialize, PartialEq)]
pub(crate) struct Orf {
    /// `+` or `-`.
    pub strand: String,
    pub frame: u8,
    pub start: u64,
    pub end: u64,
    pub length_nt: u64,
    pub complete: bool,
    pub protein: String,
}

impl Summary {
    pub(crate) fn read(json: &[u8]) -> Result<Summary, String> {
        serde_json::from_slice(json).map_err(|err| format!("analysis.json does not read: {err}"))
    }

    /// Whether the sequence is DNA or RNA.
    pub(crate) fn nucleotide(&self) -> bool {
        matches!(self.alphabet.as_deref(), Some("dna" | "rna"))
    }

    /// The composition, most common first in the usual order of the
    /// alphabet (A C G T/U for nucleotides, then the rest alphabetically).
    pub(crate) fn composition(&self) -> Vec<(&str, u64, f64)> {
        let total: u64 = self.residue_counts.values().sum();
        let order = |residue: &str| match residue {
            "A" => 0,
            "C" => 1,
            "G" => 2,
            "T" | "U" => 3,
            _ => 4,
        };
        let mut rows: Vec<(&str, u64, f64)> = self
            .residue_counts
            .iter()
            .map(|(residue, &count)| {
                let share = if total == 0 {
                    0.0
                } else {
                    count as f64 * 100.0 / total as f64
                };
                (residue.as_str(), count, share)
            })
            .collect();
        if self.nucleotide() {
            rows.sort_by_key(|(residue, _, _)| (order(residue), residue.to_string()));
        }
        rows
    }
}
