//! The built-in analysis on the page, in words and a chart: length,
//! composition, GC content, molecular weight with its unit, the longest ORF
//! and its translation, and the reverse complement ready to copy. What the
//! file says is read by [`crate::results::analysis`].

use maud::{html, Markup};

use super::Context;
use crate::results::analysis::Summary;
use crate::results::thousands;
use crate::ui::pages::words::alphabet_word;

/// Residues of a long sequence (reverse complement, translation) put on the
/// page; the whole is in the file.
pub(super) const MAX_SEQUENCE: usize = 100_000;

/// A mass as a chemist writes it: `1,234.5 Da` below 10 kDa, `45.67 kDa`,
/// `12.3 MDa` for a chromosome's worth.
pub(super) fn weight(daltons: f64) -> String {
    if daltons < 10_000.0 {
        let whole = daltons.trunc() as u64;
        let tenth = ((daltons - daltons.trunc()) * 10.0).round() as u64;
        // 999.96 rounds up to the next whole number, not to "999.10".
        let (whole, tenth) = if tenth == 10 {
            (whole + 1, 0)
        } else {
            (whole, tenth)
        };
        format!("{}.{tenth} Da", thousands(whole))
    } else if daltons < 10_000_000.0 {
        format!("{:.2} kDa", daltons / 1000.0)
    } else {
        format!("{:.2} MDa", daltons / 1_000_000.0)
    }
}

/// The summary on the page.
pub(super) fn render(summary: &Summary, context: &Context) -> Markup {
    let prefix = context.id_prefix();
    let unit = if summary.nucleotide() { "nt" } else { "aa" };
    let composition = summary.composition();
    let top = composition
        .iter()
        .map(|(_, _, share)| *share)
        .fold(0.0, f64::max);
    html! {
        dl.stats {
            @if let Some(alphabet) = &summary.alphabet {
                div { dt { "Alphabet" } dd { (alphabet_word(alphabet)) } }
            }
            @if let Some(length) = summary.length {
                div { dt { "Length" } dd { (thousands(length)) " " (unit) } }
            }
            @if let Some(gc) = summary.gc_fraction {
                div { dt { "GC content" } dd { (format!("{:.1} %", gc * 100.0)) } }
            }
            @if let Some(da) = summary.molecular_weight {
                div {
                    dt { "Molecular weight" }
                    dd title={ (format!("{da:.2}")) " Da, average mass of the linear single strand" } {
                        (weight(da))
                    }
                }
            }
        }
        @if !composition.is_empty() {
            h4 id={ (prefix) "-composition" } { "Composition" }
            div.table-scroll {
                table.composition aria-labelledby={ (prefix) "-composition" } {
                    thead {
                        tr {
                            th scope="col" { "Residue" }
                            th.num scope="col" { "Count" }
                            th.num scope="col" { "Share" }
                            th scope="col" { span.visually-hidden { "Bar" } }
                        }
                    }
                    tbody {
                        @for (residue, count, share) in &composition {
                            tr {
                                th scope="row" { code { (residue) } }
                                td.num { (thousands(*count)) }
                                td.num { (format!("{share:.1} %")) }
                                td.bar-cell {
                                    svg.bar width="160" height="12" viewBox="0 0 160 12" aria-hidden="true" {
                                        rect x="0" y="1" height="10" rx="2"
                                            width=(format!("{:.1}", if top > 0.0 { share / top * 160.0 } else { 0.0 })) {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if summary.nucleotide() {
            h4 { "Longest open reading frame" }
            @match &summary.longest_orf {
                None => { p { "None: the sequence holds no ATG on either strand." } }
                Some(orf) => {
                    dl.stats {
                        div { dt { "Frame" } dd { (orf.strand) (orf.frame) " (" (strand_word(&orf.strand)) ")" } }
                        div { dt { "Positions" } dd { (thousands(orf.start)) "–" (thousands(orf.end)) } }
                        div {
                            dt { "Length" }
                            dd { (thousands(orf.length_nt)) " nt, " (thousands(orf.protein.chars().count() as u64)) " aa" }
                        }
                        div {
                            dt { "Stop codon" }
                            dd { @if orf.complete { "yes" } @else { "none: it runs to the end of the sequence" } }
                        }
                    }
                    (sequence_block(&format!("{prefix}-orf"), "Translation", &orf.protein, context))
                }
            }
            @if let Some(reverse) = &summary.reverse_complement {
                (sequence_block(&format!("{prefix}-revcomp"), "Reverse complement", reverse, context))
            }
        }
        @if !summary.notes.is_empty() {
            ul.notes { @for note in &summary.notes { li { (note) } } }
        }
    }
}

/// A sequence to read and copy: a read-only box (select it all with a
/// click and copy, with or without JavaScript) and a Copy button the script shows.
fn sequence_block(id: &str, label: &str, sequence: &str, context: &Context) -> Markup {
    let length = sequence.chars().count();
    let shown: String = sequence.chars().take(MAX_SEQUENCE).collect();
    html! {
        div.sequence-block {
            div.sequence-head {
                label for=(id) { (label) }
                button.copy type="button" data-copy=(id) hidden { "Copy" }
            }
            // About a hundred residues a line on a laptop: the box fits the sequence, up to eight lines.
            textarea.sequence id=(id) readonly rows=((length / 100 + 1).clamp(2, 8)) spellcheck="false" autocomplete="off" {
                (shown)
            }
            @if length > MAX_SEQUENCE {
                p.hint {
                    "The first " (thousands(MAX_SEQUENCE as u64)) " of " (thousands(length as u64))
                    " residues; " a href=(context.download_url()) { "the file" } " holds the whole."
                }
            }
        }
    }
}

fn strand_word(strand: &str) -> &str {
    match strand {
        "+" => "forward",
        "-" => "reverse",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::builtin::analyze;
    use crate::query::Alphabet;

    #[test]
    fn the_builtin_analysis_reads_back_and_is_shown_in_words() {
        let analysis = analyze("ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG", Alphabet::Dna);
        let json = serde_json::to_vec(&analysis).unwrap();
        let summary = Summary::read(&json).unwrap();
        assert_eq!(summary.length, Some(39));
        assert_eq!(summary.residue_counts["G"], 14);
        let page = render(&summary, &Context::for_test()).into_string();
        assert!(page.contains("<dd>39 nt</dd>"), "{page}");
        // 22 G or C of 39.
        assert!(page.contains("<dd>56.4 %</dd>"), "{page}");
        assert!(page.contains(" kDa</dd>"), "{page}");
        assert!(page.contains("<dd>+1 (forward)</dd>"), "{page}");
        assert!(page.contains("<dd>1–24</dd>"), "{page}");
        assert!(page.contains("<dd>24 nt, 7 aa</dd>"), "{page}");
        assert!(page.contains(">MAIVMGR</textarea>"), "{page}");
        assert!(page.contains(&format!(
            ">{}</textarea>",
            analysis.reverse_complement.unwrap()
        )));
        // Composition: A C G T in order, the largest share the longest bar.
        let a = page.find("<code>A</code>").unwrap();
        let c = page.find("<code>C</code>").unwrap();
        let g = page.find("<code>G</code>").unwrap();
        let t = page.find("<code>T</code>").unwrap();
        assert!(a < c && c < g && g < t);
        assert!(page.contains("width=\"160.0\""), "{page}");
    }

    #[test]
    fn masses_carry_their_unit() {
        assert_eq!(weight(1234.54), "1,234.5 Da");
        assert_eq!(weight(999.96), "1,000.0 Da");
        assert_eq!(weight(45_671.2), "45.67 kDa");
        assert_eq!(weight(309_000_000.0), "309.00 MDa");
    }

    #[test]
    fn a_protein_has_no_orf_and_a_partial_file_shows_what_it_has() {
        let analysis = analyze("MKTAYIAKQR", Alphabet::Protein);
        let summary = Summary::read(&serde_json::to_vec(&analysis).unwrap()).unwrap();
        let page = render(&summary, &Context::for_test()).into_string();
        assert!(page.contains("<dd>10 aa</dd>"), "{page}");
        assert!(!page.contains("open reading frame"));
        let partial = Summary::read(br#"{"length": 5, "notes": ["<b>odd</b>"]}"#).unwrap();
        let page = render(&partial, &Context::for_test()).into_string();
        assert!(page.contains("&lt;b&gt;odd&lt;/b&gt;"), "{page}");
        assert!(Summary::read(b"[1, 2]").is_err());
    }
}
