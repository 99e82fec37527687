//! The results section of an experiment's page: each result in a card,
//! drawn from what [`crate::results`] read (a table, a BLAST report with its
//! overview, the built-in analysis, text, a picture, a file to download),
//! with its download links.
//!
//! Everything is rendered on the server and works without JavaScript
//! (`results.js` only sorts tables, copies sequences, and shows the results
//! of an experiment that ends while its page is open). Every file was
//! written by a processing command: its text is only ever spliced into the
//! templates as text (maud escapes it), and its name into a link
//! percent-encoded.

mod analysis;
mod overview;
mod report;
mod table;

use maud::{html, Markup};

use crate::http::percent::encode_segment;
use crate::model::{FileInfo, Id, Record, State};
use crate::pipeline::{ResultFile, View};
use crate::results::{Download, Prepared, Section, Shown};
use crate::ui::pages::words::{size, verbatim};

/// The results section of an experiment's page: above its record, each
/// result in a card. Empty (and hidden) when there is nothing to show yet,
/// so the script can fill it in when the experiment ends.
pub(crate) fn section(record: &Record, section: &Section) -> Markup {
    match section {
        Section::Waiting(wanted) => waiting(wanted),
        Section::Finished(shown) => render(record, shown),
    }
}

/// Where one result is on the page, and its addresses.
pub(super) struct Context {
    id: Id,
    /// Its place among the experiment's results, from 1: its ids are its own.
    index: usize,
    file: String,
}

impl Context {
    fn new(id: Id, index: usize, file: &str) -> Context {
        Context {
            id,
            index,
            file: file.to_owned(),
        }
    }

    /// What the ids of its elements start with.
    fn id_prefix(&self) -> String {
        format!("result-{}", self.index)
    }

    fn heading_id(&self) -> String {
        format!("result-{}-heading", self.index)
    }

    /// The file, as the files route serves it (shown inline if it is safe to).
    fn file_url(&self) -> String {
        format!(
            "/experiments/{}/files/{}",
            self.id,
            encode_segment(&self.file)
        )
    }

    /// The file, downloaded.
    fn download_url(&self) -> String {
        format!(
            "/experiments/{}/results/{}",
            self.id,
            encode_segment(&self.file)
        )
    }

    #[cfg(test)]
    pub(crate) fn for_test() -> Context {
        Context::new(Id(7), 1, "hits <1>.asn")
    }
}

/// The section of an experiment that has not finished: what it will show.
fn waiting(wanted: &[ResultFile]) -> Markup {
    html! {
        section.results aria-labelledby="results-heading" data-results data-waiting hidden[wanted.is_empty()] {
            h2 id="results-heading" { "Results" }
            p.hint {
                "They appear here once it has finished: "
                @for (i, result) in wanted.iter().enumerate() {
                    @if i > 0 { ", " }
                    (result.title.as_deref().unwrap_or(view_word(result.view)))
                    " (" code { (result.file) } ")"
                }
                "."
            }
        }
    }
}

fn render(record: &Record, shown: &[(ResultFile, Option<FileInfo>, Shown)]) -> Markup {
    let none_written = shown.iter().all(|(_, _, s)| matches!(s, Shown::Missing));
    let pending = shown
        .iter()
        .any(|(_, _, s)| matches!(s, Shown::Blast(Prepared::Pending)));
    html! {
        section.results aria-labelledby="results-heading" data-results data-pending[pending] hidden[shown.is_empty()] {
            h2 id="results-heading" { "Results" }
            @if none_written && !shown.is_empty() {
                p.hint {
                    @if record.state == State::Complete { "It wrote none of its results: " } @else { "No results were written: " }
                    @for (i, (result, _, _)) in shown.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (result.file) }
                    }
                    "."
                }
            } @else {
                @for (index, (result, info, what)) in shown.iter().enumerate() {
                    (card(record.id, index + 1, result, info.as_ref(), what))
                }
            }
        }
    }
}

fn card(
    id: Id,
    index: usize,
    result: &ResultFile,
    info: Option<&FileInfo>,
    shown: &Shown,
) -> Markup {
    let context = Context::new(id, index, &result.file);
    let title = result.title.as_deref().unwrap_or(&result.file);
    // No empty download, and none of what a failed search left.
    let offered = info.is_some_and(|info| info.size > 0)
        && !matches!(shown, Shown::Blast(Prepared::SearchFailed(_)));
    html! {
        article.card.result id=(context.id_prefix()) data-view=(view_name(result.view))
            aria-labelledby=(context.heading_id()) {
            div.result-head {
                h3 id=(context.heading_id()) { (title) }
                p.result-file {
                    code { (result.file) }
                    @if let Some(info) = info {
                        " · " (size(info.size))
                        @if offered {
                            " · " a href=(context.download_url()) download { "Download" }
                        }
                    }
                }
            }
            @match shown {
                Shown::Missing => { p.hint { "Not written." } }
                Shown::Unreadable(why) => { p.result-problem { (why) } }
                Shown::File => {}
                Shown::Image => {
                    figure.result-image {
                        a href=(context.file_url()) {
                            img src=(context.file_url()) alt=(title) loading="lazy";
                        }
                    }
                }
                Shown::Text { text, cut } => {
                    p.result-note {
                        @if text.is_empty() { "Empty." }
                        @else if *cut { "The first lines; download it for the rest." }
                        @else { "All of it." }
                    }
                    @if !text.is_empty() {
                        pre.result-text tabindex="0" aria-labelledby=(context.heading_id()) { (verbatim(text)) }
                    }
                }
                Shown::Table(table) => { (table::render(table, &context)) }
                Shown::Analysis(summary) => { (analysis::render(summary, &context)) }
                Shown::Blast(prepared) => { (blast_card(prepared, &context)) }
            }
        }
    }
}

fn blast_card(prepared: &Prepared, context: &Context) -> Markup {
    html! {
        @if !matches!(prepared, Prepared::SearchFailed(_)) {
            ul.downloads aria-label="Download the report" {
                @for download in Download::ALL {
                    li {
                        a href={ (context.download_url()) "?format=" (download.word()) } download {
                            (download.label())
                        }
                    }
                }
            }
        }
        @match prepared {
            Prepared::SearchFailed(why) => {
                p.result-problem {
                    "No report: " (why) ", so its archive holds no results to show or download. "
                    "What it printed is under its status above."
                }
            }
            Prepared::Ready(report) => { (report::render(report, context)) }
            Prepared::Pending => {
                p.result-note data-report-pending {
                    "The report is being made from the search's archive; it appears here in a moment."
                    noscript { " Reload the page to see it." }
                }
            }
            Prepared::NoBlast(why) => {
                p.result-problem {
                    "The report cannot be shown: " (why) ". "
                    "Download the archive and format it where BLAST+ is installed ("
                    code { "blast_formatter -archive " (context.file) " -outfmt 0" } ")."
                }
            }
            Prepared::Failed(why) => {
                p.result-problem { "The report could not be made: " (why) }
            }
        }
    }
}

/// A view as the configuration names it.
fn view_name(view: View) -> &'static str {
    match view {
        View::Table => "table",
        View::Blast => "blast",
        View::Analysis => "analysis",
        View::Text => "text",
        View::Image => "image",
        View::File => "file",
    }
}

/// A view in words, for a result without a title.
fn view_word(view: View) -> &'static str {
    match view {
        View::Table => "Table",
        View::Blast => "BLAST report",
        View::Analysis => "Analysis",
        View::Text => "Text",
        View::Image => "Image",
        View::File => "File",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Definition;
    use crate::results::table::{self, Delimiter};
    use crate::results::tests::info;

    #[test]
    fn names_titles_and_cells_from_files_are_escaped() {
        let hostile = r#"<img src=x onerror="alert(1)">&"#;
        let escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;";
        let result = ResultFile {
            file: format!("{hostile}.tsv"),
            view: View::Table,
            title: Some(format!("title {hostile}")),
        };
        let text = format!("name\tscore\n{hostile}\t1\n");
        let table =
            table::read(text.as_bytes(), text.len() as u64, Delimiter::Tab, 1 << 20).unwrap();
        let text_result = ResultFile {
            file: "log.txt".into(),
            view: View::Text,
            title: None,
        };
        let record = Record::for_test(7, State::Complete);
        let page = render(
            &record,
            &[
                (
                    result.clone(),
                    Some(info(&result.file)),
                    Shown::Table(table),
                ),
                (
                    text_result,
                    Some(info("log.txt")),
                    Shown::Text {
                        text: hostile.into(),
                        cut: false,
                    },
                ),
            ],
        )
        .into_string();
        assert!(!page.contains(hostile), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains(&format!("<h3 id=\"result-1-heading\">title {escaped}</h3>")),
            "{page}"
        );
        assert!(
            page.contains(&format!("<code>{escaped}.tsv</code>")),
            "{page}"
        );
        assert!(page.contains(&format!("<td>{escaped}</td>")), "{page}");
        assert!(page.contains(&format!(">{escaped}</pre>")), "{page}");
        // The link to the file is percent-encoded.
        assert!(page.contains(
            "href=\"/experiments/000007/results/%3Cimg%20src%3Dx%20onerror%3D%22alert%281%29%22%3E%26.tsv\""
        ), "{page}");

        let picture = ResultFile {
            file: "a\"b.svg".into(),
            view: View::Image,
            title: Some("<plot>".into()),
        };
        let page = render(
            &record,
            &[(picture.clone(), Some(info(&picture.file)), Shown::Image)],
        )
        .into_string();
        assert!(page.contains(r#"<img src="/experiments/000007/files/a%22b.svg" alt="&lt;plot&gt;" loading="lazy">"#), "{page}");
    }

    #[test]
    fn an_unfinished_experiment_says_what_will_come_and_a_finished_one_what_is_missing() {
        let results = Definition::builtin().results;
        let page = waiting(&results).into_string();
        assert!(page.contains("data-waiting"), "{page}");
        assert!(
            page.contains("Analysis (<code>analysis.json</code>)"),
            "{page}"
        );
        assert!(waiting(&[]).into_string().contains(" hidden"));

        let record = Record::for_test(7, State::ExecutorError);
        let page = render(&record, &[(results[0].clone(), None, Shown::Missing)]).into_string();
        assert!(
            page.contains("No results were written: <code>analysis.json</code>."),
            "{page}"
        );
    }
}
