//! A BLAST report on an experiment's page, as a scientist reads it: what
//! was searched, and for each query a graphical overview of where the hits
//! fall on it ([`super::overview`]), a table of the hits, sortable, and each
//! hit's alignments, the first few open; a checkbox on each hit chooses the
//! hits to take away as FASTA (a form GET: it works without JavaScript,
//! which only adds "all"). The report itself, read from BLAST's JSON, is
//! [`crate::blast::report`]; it is only drawn here.

use maud::{html, Markup};

use super::{overview, Context};
use crate::blast::report::{alignment_text, evalue, percent, QueryHits, Report};
use crate::results::hits::Take;
use crate::results::thousands;

/// Hits whose alignments are open when the page loads; the others open on a click.
const OPEN_HITS: usize = 5;

/// The report on the page: what was searched, and for each query the
/// overview, the hit table and the alignments.
pub(super) fn render(report: &Report, context: &Context) -> Markup {
    let several = report.queries.len() > 1;
    let form = format!("{}-take", context.id_prefix());
    let any = report.queries.iter().any(|query| !query.hits.is_empty());
    html! {
        p.result-note {
            (report.version) " against "
            @let titles = report.database_titles();
            @if titles.is_empty() {
                "its subject sequences"
            } @else {
                @for (i, title) in titles.iter().enumerate() {
                    @if i > 0 { @if i + 1 == titles.len() { " and " } @else { ", " } }
                    strong.database { (title) }
                }
            }
            @if let Some(expect) = report.expect { ", expect threshold " (threshold(expect)) }
            @if let Some(matrix) = &report.matrix { ", " (matrix) }
            "."
        }
        @if any {
            form.take id=(form) method="get" action=(context.download_url()) {
                p {
                    "Hits to take away: tick them in the table (none ticked: every hit), then download "
                    @for (i, take) in Take::ALL.into_iter().enumerate() {
                        @if i > 0 { " or " }
                        button.button type="submit" name="format" value=(take.word()) { (take.label()) }
                    }
                    "."
                }
            }
        }
        @for (q, query) in report.queries.iter().enumerate() {
            @let prefix = format!("{}-q{}", context.id_prefix(), q + 1);
            div.blast-query {
                @if several {
                    h4 { "Query " (q + 1) ": " (query.title) }
                }
                p.query-line {
                    "Query " strong { (query.title) } ", " (thousands(query.len))
                    @if is_protein_query(&report.program) { " aa" } @else { " nt" }
                    ": "
                    @if query.hits.is_empty() {
                        (query.message.as_deref().unwrap_or("No hits found")) "."
                    } @else if query.more {
                        "the best " (query.hits.len()) " hits are shown; the search found more (download the report for all)."
                    } @else {
                        (query.hits.len()) @if query.hits.len() == 1 { " hit." } @else { " hits." }
                    }
                }
                @if !query.hits.is_empty() {
                    (overview::render(query, &prefix, &format!("{}-q{}-overview.svg", context.id, q + 1)))
                    (hit_table(query, &prefix, &context.heading_id(), &form))
                    (alignments(report, query, &prefix))
                }
            }
        }
    }
}

/// Whether the database holds proteins.
fn is_protein_subject(program: &str) -> bool {
    matches!(
        program,
        "blastp" | "blastx" | "psiblast" | "rpsblast" | "deltablast"
    )
}

/// Whether the query is a protein (its length in amino acids).
fn is_protein_query(program: &str) -> bool {
    matches!(
        program,
        "blastp" | "tblastn" | "psiblast" | "rpsblast" | "deltablast"
    )
}

/// The hits, best first, sortable by any column with JavaScript on.
fn hit_table(query: &QueryHits, prefix: &str, heading: &str, form: &str) -> Markup {
    html! {
        div.table-scroll tabindex="0" role="region" aria-labelledby=(heading) {
            table.data.hits data-sortable {
                caption.visually-hidden { "Hits, best first" }
                thead {
                    tr {
                        // Not a heading (nothing to sort by): "all", which results.js shows.
                        td.pick {
                            input type="checkbox" data-pick-all hidden aria-label="Choose every hit of this query";
                        }
                        th.num scope="col" data-type="number" { "#" }
                        th scope="col" { "Subject" }
                        th.num scope="col" data-type="number" { "% identity" }
                        th.num scope="col" data-type="number" { "Alignment length" }
                        th.num scope="col" data-type="number" { "Query coverage" }
                        th.num scope="col" data-type="number" { "E-value" }
                        th.num scope="col" data-type="number" { "Bit score" }
                    }
                }
                tbody {
                    @for hit in &query.hits {
                        @let best = hit.best();
                        tr data-hit=(hit.num) {
                            td.pick {
                                input type="checkbox" name="hits" value=(hit.id) form=(form)
                                    aria-label={ "Choose " (hit.id) };
                            }
                            td.num { (hit.num) }
                            td.subject {
                                a.hit-id href={ "#" (prefix) "-hit-" (hit.num) } { (hit.id) }
                                @if !hit.title.is_empty() {
                                    " " span.hit-title { (hit.title) }
                                }
                                @if let Some(source) = &hit.source {
                                    " " span.hit-source { "in " (source) }
                                }
                            }
                            td.num data-value=[hit.identity()] {
                                @if let Some(identity) = hit.identity() { (format!("{identity:.1} %")) }
                            }
                            td.num { @if let Some(best) = best { (best.align_len) } }
                            td.num data-value=(hit.coverage) { (format!("{:.0} %", hit.coverage)) }
                            td.num data-value=[hit.evalue().map(|e| format!("{e:e}"))] {
                                @if let Some(e) = hit.evalue() { (evalue(e)) }
                            }
                            td.num data-value=[hit.bit_score()] {
                                @if let Some(bits) = hit.bits() { (bits) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Each hit's alignments, the first few open.
fn alignments(report: &Report, query: &QueryHits, prefix: &str) -> Markup {
    let program = report.program.as_str();
    let translated_query = matches!(program, "blastx" | "tblastx");
    let translated_hit = matches!(program, "tblastn" | "tblastx");
    let nucleotide = matches!(program, "blastn" | "megablast" | "dc-megablast");
    html! {
        div.alignments {
            @for (i, hit) in query.hits.iter().enumerate() {
                details.hit id={ (prefix) "-hit-" (hit.num) } data-hit=(hit.num) open[i < OPEN_HITS] {
                    summary {
                        span.hit-num { (hit.num) ". " }
                        strong.hit-id { (hit.id) }
                        @if !hit.title.is_empty() { " " span.hit-title { (hit.title) } }
                        " " span.hit-len {
                            "(" (thousands(hit.len))
                            @if is_protein_subject(program) { " aa)" } @else { " nt)" }
                        }
                        @if let Some(source) = &hit.source {
                            " " span.hit-source { "in " (source) }
                        }
                    }
                    @for (n, hsp) in hit.hsps.iter().enumerate() {
                        div.hsp {
                            p.hsp-stats {
                                @if hit.hsp_count > 1 { strong { "HSP " (n + 1) " of " (hit.hsp_count) } " · " }
                                "Score " (hsp.bits()) " bits (" (hsp.score) ") · "
                                "Expect " (evalue(hsp.evalue)) " · "
                                "Identities " (hsp.identity) "/" (hsp.align_len)
                                " (" (format!("{:.0}", hsp.identity_percent())) " %)"
                                @if let Some(positive) = hsp.positive {
                                    " · Positives " (positive) "/" (hsp.align_len)
                                    " (" (format!("{:.0}", percent(positive, hsp.align_len))) " %)"
                                }
                                " · Gaps " (hsp.gaps) "/" (hsp.align_len)
                                @if nucleotide {
                                    " · Strand "
                                    (hsp.query_strand.as_deref().unwrap_or("Plus")) "/"
                                    (hsp.hit_strand.as_deref().unwrap_or("Plus"))
                                }
                                @if translated_query || translated_hit {
                                    " · Frame "
                                    @if let Some(frame) = hsp.query_frame.filter(|_| translated_query) { (signed(frame)) }
                                    @if translated_query && translated_hit { "/" }
                                    @if let Some(frame) = hsp.hit_frame.filter(|_| translated_hit) { (signed(frame)) }
                                }
                            }
                            pre.alignment tabindex="0" aria-label={ "Alignment of the query with " (hit.id) } {
                                (alignment_text(hsp, program))
                            }
                            @if hsp.cut > 0 {
                                p.hint { (thousands(hsp.cut as u64)) " more columns: download the pairwise report for the whole alignment." }
                            }
                        }
                    }
                    @if hit.hsp_count > hit.hsps.len() {
                        p.hint {
                            (hit.hsp_count - hit.hsps.len()) " more HSPs: download the pairwise report for all of them."
                        }
                    }
                }
            }
        }
    }
}

/// An expect threshold as a scientist sets it: `10`, `0.001`, `1e-5`.
fn threshold(expect: f64) -> String {
    if expect != 0.0 && expect < 1e-3 {
        format!("{expect:e}")
    } else {
        expect.to_string()
    }
}

fn signed(frame: i32) -> String {
    if frame > 0 {
        format!("+{frame}")
    } else {
        frame.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blast::report::tests::report;

    #[test]
    fn text_from_the_archive_is_escaped_on_the_page() {
        let page = render(&report(), &Context::for_test()).into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("Synthetic construct &quot;chiS&quot; &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"), "{page}");
        assert!(page.contains("my_read &lt;i&gt;300&lt;/i&gt; nt"));
        // The database by its name, never its path on the server.
        assert!(
            page.contains("<strong class=\"database\">reference</strong>"),
            "{page}"
        );
        assert!(!page.contains("/data/"), "{page}");
        let mut titled = report();
        titled.databases = vec![crate::blast::searched::Database {
            name: "reference".into(),
            title: "Lab <reference>".into(),
        }];
        let page = render(&titled, &Context::for_test()).into_string();
        assert!(
            page.contains("<strong class=\"database\">Lab &lt;reference&gt;</strong>"),
            "{page}"
        );
        assert!(page.contains(">100.0 %</td>"), "{page}");
        assert!(page.contains(">2.6e-157</td>"), "{page}");
        assert!(page.contains("Strand Plus/Minus"), "{page}");
    }
}
