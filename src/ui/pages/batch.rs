//! A batch's page, read as a plate: named after the file it came in, its
//! experiments in submission order (A01 first, H12 last) with each result in
//! a few words, where the batch stands, and its results in one download;
//! above the list, the plate's grid when its records are named as wells.

use std::fmt::Write as _;

use maud::{html, Markup};

use super::layout::{layout, Frame, Script};
use super::wells::grid;
use super::words::{badge, estimate, none};
use crate::app::Progress;
use crate::model::Id;
use crate::results::plate::{Plate, PlatePipeline};
use crate::results::summary::Kind;
use crate::results::thousands;

/// Experiments on one page of a batch: a 96-well plate fits on one.
pub(crate) const BATCH_PAGE: usize = 100;

/// A page of a batch, as its page shows it.
pub(crate) struct Batch<'a> {
    pub plate: &'a Plate,
    /// The page token this page was asked with: `None` on the first page.
    pub page_token: Option<Id>,
    pub limit: usize,
}

impl Batch<'_> {
    /// The JSON route that gives the same page: the script reads it when the
    /// page's events say something changed (or polls it where it cannot
    /// follow them).
    fn source(&self) -> String {
        let mut url = format!("/batches/{}?limit={}", self.plate.batch, self.limit);
        if let Some(token) = self.page_token {
            let _ = write!(url, "&page_token={token}");
        }
        url
    }

    /// The link to another page of the batch (`None`: the first).
    fn link(&self, page_token: Option<Id>) -> String {
        let mut url = format!("/experiments?batch={}", self.plate.batch);
        if self.limit != BATCH_PAGE {
            let _ = write!(url, "&limit={}", self.limit);
        }
        if let Some(token) = page_token {
            let _ = write!(url, "&page_token={token}");
        }
        url
    }
}

/// A batch's page.
pub(crate) fn batch(frame: &Frame, page: &Batch) -> Markup {
    let plate = page.plate;
    let id = plate.batch;
    let progress = Progress::of(&plate.page.counts);
    let upload = plate.page.upload.as_deref();
    let title = match upload {
        Some(name) => name.to_owned(),
        None => format!("Batch {id}"),
    };
    // One column per pipeline that has a result to sum up.
    let columns: Vec<&PlatePipeline> = plate
        .pipelines
        .iter()
        .filter(|pipeline| pipeline.kind != Kind::Nothing)
        .collect();
    let named = columns.len() > 1;
    let main = html! {
        p.crumbs { a href="/" { "← Home" } }
        div.intro {
            h1 { (title) }
            p.lede {
                "Batch " (id) ": " (thousands(progress.total as u64))
                @if progress.total == 1 { " experiment" } @else { " experiments" }
                @match upload {
                    Some(_) => { ", one for each record of the file, in its order." }
                    None => { ", one for each record of the FASTA text, in its order." }
                }
            }
        }
        (progress_card(page, progress))
        @if let Some(wells) = &plate.wells {
            (grid(wells))
        }
        section.experiments aria-labelledby="experiments-heading" {
            div.section-head {
                h2 id="experiments-heading" { "Its experiments" }
            }
            div.table-scroll tabindex="0" role="region" aria-labelledby="experiments-heading" {
                table.list.plate data-batch-source=(page.source()) data-batch-stream={ "/events?batch=" (id) } {
                    thead {
                        tr {
                            th scope="col" { "ID" }
                            th scope="col" { "Name" }
                            th scope="col" { "State" }
                            th scope="col" { "Expected" }
                            @for pipeline in &columns {
                                th scope="col" {
                                    (pipeline.kind.heading())
                                    @if named { " · " (pipeline.title) }
                                }
                            }
                        }
                    }
                    tbody {
                        @for ((record, summary), eta) in plate.page.records.iter().zip(&plate.summaries).zip(&plate.etas) {
                            tr data-id=(record.id) {
                                td.id { (record.id) }
                                td.name { a href={ "/experiments/" (record.id) } { (record.query_name) } }
                                td data-cell="state" { (badge(record.state)) }
                                td.expected data-cell="expected" {
                                    @match estimate(eta, true) {
                                        Some(words) => { (words) }
                                        None => { (none()) }
                                    }
                                }
                                @for pipeline in &columns {
                                    @let own = record.pipeline == pipeline.name;
                                    td.summary data-summary=(pipeline.name) title=[summary.detail.as_deref().filter(|_| own)] {
                                        @if own && !summary.text.is_empty() {
                                            (summary.text)
                                        } @else {
                                            (none())
                                        }
                                    }
                                }
                            }
                        }
                        @if plate.page.records.is_empty() {
                            tr.empty { td colspan=(4 + columns.len()) { "No experiments on this page." } }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if page.page_token.is_some() {
                    a href=(page.link(None)) { "← First" }
                }
                @if let Some(next) = plate.page.next {
                    a href=(page.link(Some(next))) data-older { "Next →" }
                }
            }
            noscript {
                p.hint {
                    "This page does not update by itself without JavaScript: \
                     reload it to see the latest states."
                }
            }
        }
        script src="/ui/batch.js" defer {}
    };
    layout(frame, &title, Script::Still, main)
}

/// Where the batch stands, as counts and a bar, and its downloads.
fn progress_card(page: &Batch, progress: Progress) -> Markup {
    let id = page.plate.batch;
    let finished = progress.finished();
    let count = |key: &str, class: &str, label: &str, n: usize, hide_zero: bool| {
        html! {
            p.count.(class).zero[n == 0] hidden[hide_zero && n == 0] data-hide-zero[hide_zero] {
                span.number data-batch-count=(key) { (n) }
                " "
                span.label { (label) }
            }
        }
    };
    html! {
        section.card.batch-progress aria-labelledby="progress-heading" {
            h2 id="progress-heading" { "Progress" }
            p.progress-line {
                progress data-progress max=(progress.total.max(1)) value=(finished) {
                    (finished) " of " (progress.total)
                }
                span { span data-finished { (finished) } " of " (progress.total) " finished" }
            }
            div.counts aria-live="polite" {
                (count("complete", "complete", "done", progress.complete, false))
                (count("running", "running", "running", progress.running, false))
                (count("queued", "queued", "queued", progress.queued, false))
                (count("failed", "failed", "failed", progress.failed, false))
                (count("canceled", "canceled", "canceled", progress.canceled, true))
            }
            p.actions.downloads {
                a.button href={ "/batches/" (id) ".zip" } download { "Download all results (zip)" }
                a.button href={ "/batches/" (id) ".tsv" } download { "Summary table (TSV)" }
            }
            p.hint {
                "The zip holds a folder per experiment (its input, record, logs and results, \
                 as far as they exist now); the table, one row per experiment with its result \
                 in a few words."
            }
        }
    }
}
