//! Results: the files an experiment's command writes, shown on its page as
//! a scientist reads them, and downloaded as scripts want them.
//!
//! A pipeline declares its result files and how each is shown (a table, a
//! BLAST report, the built-in analysis, text, a picture, or just a file to
//! download); without a declaration a file is shown as its name says
//! ([`default_view`]). Everything is rendered on the server, from bounded
//! reads of the files, and works without JavaScript (`ui/results.js` only
//! sorts tables, copies sequences, and shows the results of an experiment
//! that ends while its page is open). A BLAST report is made from the
//! search's archive by `blast_formatter` ([`crate::blast`]) off the async
//! threads, and kept in the experiment's directory, so it runs once.
//!
//! Every file here was written by a processing command: its text is only
//! ever spliced into the templates as text (maud escapes it), files are
//! opened through the store (no link is followed, nothing outside the
//! directory is reached), and downloads carry the headers of
//! [`respond::untrusted_file`].

pub mod analysis;
mod cache;
pub mod overview;
pub mod plate;
pub mod report;
pub mod summary;
pub mod table;

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use hyper::Response;
use maud::{html, Markup};
use serde::Deserialize;

use crate::app::{blocking, App};
use crate::blast::{self, Columns, FormatError};
use crate::error::Error;
use crate::http::percent::{self, encode_segment};
use crate::http::{body, respond, Body};
use crate::model::{FileInfo, Id, Record, State};
use crate::pipeline::{Definition, ResultFile, View};
use crate::queue::View as Experiment;
use crate::store::{Store, QUERY_FILE, RECORD_FILE};

use analysis::Summary;
use report::Report;
use table::{Delimiter, Table};

/// Result files found by their names when a pipeline declares none: a
/// directory of thousands of files is not a page of thousands of results.
pub const MAX_FOUND: usize = 12;
/// Lines of a text result shown.
pub const TEXT_LINES: usize = 200;
/// Bytes of a text result read for them.
pub const TEXT_BYTES: u64 = 64 * 1024;
/// How long a page waits for a BLAST report being made before it says it
/// is on its way (it goes on being made, and the next view shows it).
const PAGE_WAIT: Duration = Duration::from_secs(8);
/// How long `blast_formatter` may take to make a page's report.
const REPORT_TIME: Duration = Duration::from_secs(300);
/// The largest BLAST JSON read for a page's report (of [`report::MAX_HITS`] hits).
const REPORT_BYTES: u64 = 128 * 1024 * 1024;
/// How long `blast_formatter` may take to make a download.
const DOWNLOAD_TIME: Duration = Duration::from_secs(600);
/// The largest download made (it is written to an unnamed file on the
/// experiments' disk, then streamed).
const DOWNLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// How a file is shown when its pipeline says nothing of it, by its name;
/// `None` for a file that is no result (the query, the record, the logs).
pub fn default_view(name: &str) -> Option<View> {
    if matches!(name, QUERY_FILE | RECORD_FILE | "stdout.txt" | "stderr.txt")
        || name.starts_with('.')
    {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let extension = lower.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
    match extension {
        _ if lower == "analysis.json" => Some(View::Analysis),
        "asn" => Some(View::Blast),
        "tsv" | "csv" => Some(View::Table),
        "png" | "jpg" | "jpeg" | "svg" => Some(View::Image),
        "txt" | "log" => Some(View::Text),
        _ => None,
    }
}

/// An experiment's results: those its pipeline declared, or, if it declared
/// none, the files of `files` [`default_view`] knows, the first [`MAX_FOUND`].
pub fn wanted(definition: &Definition, files: &[FileInfo]) -> Vec<ResultFile> {
    if !definition.results.is_empty() {
        return definition.results.clone();
    }
    files
        .iter()
        .filter_map(|file| {
            default_view(&file.name).map(|view| ResultFile {
                file: file.name.clone(),
                view,
                title: None,
            })
        })
        .take(MAX_FOUND)
        .collect()
}

/// Where one result is on the page, and its addresses.
pub struct Context {
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

/// What one result shows.
enum Shown {
    Table(Table),
    Text {
        text: String,
        cut: bool,
    },
    Analysis(Summary),
    Blast(Prepared),
    Image,
    File,
    /// The file is not there.
    Missing,
    /// It is there, but cannot be shown: why.
    Unreadable(String),
}

/// A BLAST report, as far as it is made.
#[derive(Clone)]
enum Prepared {
    Ready(Arc<Report>),
    /// Being made still.
    Pending,
    /// BLAST+ is not installed: the words to say so.
    NoBlast(String),
    Failed(String),
    /// The search did not complete: whatever its archive holds (the request
    /// alone, or a piece), it is no report; why, in words.
    SearchFailed(String),
}

/// The results section of an experiment's page: above its record, each
/// result in a card. Empty (and hidden) when there is nothing to show yet,
/// so the script can fill it in when the experiment ends.
pub async fn section(app: &App, experiment: &Experiment, files: &[FileInfo]) -> Markup {
    let record = &experiment.record;
    let definition = record.definition();
    let wanted = wanted(&definition, files);
    if !record.state.is_finished() {
        return waiting(&wanted);
    }
    let mut shown = Vec::with_capacity(wanted.len());
    for result in &wanted {
        let info = files.iter().find(|f| f.name == result.file).cloned();
        let what = match (&info, result.view) {
            (None, _) => Shown::Missing,
            (Some(_), View::Blast) if record.state != State::Complete => {
                Shown::Blast(Prepared::SearchFailed(search_failed(record)))
            }
            (Some(_), View::Blast) => Shown::Blast(prepare(app, record, &result.file).await),
            (Some(_), View::Image) => Shown::Image,
            (Some(_), View::File) => Shown::File,
            (Some(_), view) => {
                let store = app.store.clone();
                let (id, name) = (record.id, result.file.clone());
                blocking(move || Ok(read(&store, id, &name, view)))
                    .await
                    .unwrap_or_else(|err| Shown::Unreadable(err.to_string()))
            }
        };
        shown.push((result, info, what));
    }
    render(record, &shown)
}

/// Reads what a table, text or analysis result shows.
fn read(store: &Store, id: Id, name: &str, view: View) -> Shown {
    let (file, length) = match store.open_file(id, name) {
        Ok(opened) => opened,
        Err(_) => return Shown::Missing,
    };
    let unreadable = |err: std::io::Error| Shown::Unreadable(format!("reading {name}: {err}"));
    match view {
        View::Table => {
            match table::read(file, length, Delimiter::for_name(name), table::MAX_READ) {
                Ok(table) => Shown::Table(table),
                Err(err) => unreadable(err),
            }
        }
        View::Text => {
            let mut bytes = Vec::new();
            if let Err(err) = file.take(TEXT_BYTES).read_to_end(&mut bytes) {
                return unreadable(err);
            }
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let shown = lines.len().min(TEXT_LINES);
            // Cut by the line count, or by the bytes read (the last line may be a piece).
            let cut = lines.len() > TEXT_LINES || length > TEXT_BYTES;
            let shown = if length > TEXT_BYTES && shown == lines.len() && shown > 1 {
                shown - 1
            } else {
                shown
            };
            Shown::Text {
                text: lines[..shown].join("\n"),
                cut,
            }
        }
        View::Analysis => {
            if length > analysis::MAX_BYTES {
                return Shown::Unreadable(format!(
                    "{name} is {}, too large to summarise here",
                    crate::store::bytes(length)
                ));
            }
            let mut bytes = Vec::new();
            if let Err(err) = file.take(analysis::MAX_BYTES).read_to_end(&mut bytes) {
                return unreadable(err);
            }
            match Summary::read(&bytes) {
                Ok(summary) => Shown::Analysis(summary),
                Err(err) => Shown::Unreadable(err),
            }
        }
        View::Blast | View::Image | View::File => Shown::File,
    }
}

/// Why a search that finished without completing has no report.
fn search_failed(record: &Record) -> String {
    match (record.state, record.error.as_deref()) {
        (State::Canceled, _) => "the search was canceled before it completed".to_owned(),
        (state, Some(error)) => format!("the search failed ({}: {error})", state.as_str()),
        (state, None) => format!("the search failed ({})", state.as_str()),
    }
}

// ---- BLAST reports: made once, off the async threads ---------------------------

/// Reports being made, by archive: a second view of the page waits for the
/// same run instead of starting another.
type Jobs = Mutex<HashMap<PathBuf, tokio::sync::watch::Receiver<Option<Prepared>>>>;
static JOBS: LazyLock<Jobs> = LazyLock::new(Default::default);

/// The report of the archive `name`: cached, or made now (waiting at most
/// [`PAGE_WAIT`] for it).
async fn prepare(app: &App, record: &Record, name: &str) -> Prepared {
    let store = app.store.clone();
    let (id, archive) = (record.id, name.to_owned());
    let cached = blocking(move || {
        let (file, _) = store.open_file(id, &archive)?;
        let key = cache::Key::of(&file).map_err(|e| Error::io("reading", &archive, e))?;
        let dir = cache::Dir::open(store.root(), id).ok();
        Ok(dir.and_then(|dir| dir.report(&archive, key)))
    })
    .await;
    match cached {
        Ok(Some(report)) => return Prepared::Ready(Arc::new(report)),
        Ok(None) => {}
        Err(err) => return Prepared::Failed(err.to_string()),
    }
    let mut made = start(app, record, name);
    let waited = tokio::time::timeout(PAGE_WAIT, made.wait_for(Option::is_some)).await;
    match waited {
        Ok(Ok(prepared)) => prepared.clone().unwrap_or(Prepared::Pending),
        _ => Prepared::Pending,
    }
}

/// Starts making the report of `name`, unless it is being made already;
/// the receiver says when it is done, and how it went.
fn start(app: &App, record: &Record, name: &str) -> tokio::sync::watch::Receiver<Option<Prepared>> {
    let path = app.store.dir(record.id).join(name);
    let mut jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(made) = jobs.get(&path) {
        return made.clone();
    }
    let (done, made) = tokio::sync::watch::channel(None);
    jobs.insert(path.clone(), made.clone());
    drop(jobs);
    let store = app.store.clone();
    let queue = app.queue.clone();
    let definition = record.definition();
    let (id, name) = (record.id, name.to_owned());
    tokio::task::spawn_blocking(move || {
        let stop: Arc<dyn Fn() -> bool + Send + Sync> = Arc::new(move || queue.is_closing());
        let prepared = make_report(&store, id, &name, &definition, stop);
        if let Prepared::Failed(why) = &prepared {
            log::warn!("experiment {id}: no report from {name}: {why}");
        }
        JOBS.lock().unwrap_or_else(|e| e.into_inner()).remove(&path);
        let _ = done.send(Some(prepared));
    });
    made
}

/// Makes the page's report of the archive `name` and keeps it beside it.
fn make_report(
    store: &Store,
    id: Id,
    name: &str,
    definition: &Definition,
    stop: Arc<dyn Fn() -> bool + Send + Sync>,
) -> Prepared {
    let failed = |why: String| Prepared::Failed(why);
    let (archive, _) = match store.open_file(id, name) {
        Ok(opened) => opened,
        Err(err) => return failed(err.to_string()),
    };
    let key = match cache::Key::of(&archive) {
        Ok(key) => key,
        Err(err) => return failed(format!("reading {name}: {err}")),
    };
    let mut options = blast::Options::new(REPORT_TIME, REPORT_BYTES);
    // One more than kept, to know whether the search found more.
    options.max_hits = Some(report::MAX_HITS as u32 + 1);
    options.dir = Some(store.dir(id));
    options.env = definition
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    options.stop = Some(stop);
    let started = std::time::Instant::now();
    let json = match blast::format(archive, &blast::Format::Json, &options) {
        Ok(json) => json,
        Err(FormatError::Missing) => return Prepared::NoBlast(FormatError::Missing.to_string()),
        Err(err) => return failed(err.to_string()),
    };
    // The bit scores as BLAST's tables write them (see `report`); without
    // them, the page writes the JSON's as BLAST would.
    let bitscore = blast::Format::Tabular(Columns::Named(vec!["bitscore".into()]));
    let tabular = store
        .open_file(id, name)
        .map_err(|err| err.to_string())
        .and_then(|(archive, _)| {
            blast::format(archive, &bitscore, &options).map_err(|err| err.to_string())
        });
    let tabular = match tabular {
        Ok(text) => String::from_utf8(text).ok(),
        Err(why) => {
            log::debug!("experiment {id}: no tabular bit scores of {name}: {why}");
            None
        }
    };
    let report = match Report::from_json(&json, tabular.as_deref()) {
        Ok(report) => report,
        Err(why) => return failed(why),
    };
    log::debug!(
        "experiment {id}: made the report of {name} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let kept = cache::Dir::open(store.root(), id).and_then(|dir| dir.keep(name, key, &report));
    if let Err(err) = kept {
        log::warn!("experiment {id}: could not keep the report of {name}: {err}");
    }
    Prepared::Ready(Arc::new(report))
}

// ---- downloads ------------------------------------------------------------------

/// A BLAST format a report downloads in, as `?format=` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Download {
    /// BLAST XML (`-outfmt 5`).
    Xml,
    /// The standard twelve tab-separated columns (`-outfmt 6`).
    Tabular,
    /// Every column, with BLAST's comment lines naming them (`-outfmt 7`).
    TabularAll,
    /// The pairwise text report (`-outfmt 0`).
    Pairwise,
    /// BLAST JSON (`-outfmt 15`).
    Json,
}

impl Download {
    pub const ALL: [Download; 5] = [
        Download::Xml,
        Download::Tabular,
        Download::TabularAll,
        Download::Pairwise,
        Download::Json,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Download::Xml => "xml",
            Download::Tabular => "tabular",
            Download::TabularAll => "tabular-all",
            Download::Pairwise => "pairwise",
            Download::Json => "json",
        }
    }

    /// Whether it is a table, tab-separated, that a spreadsheet may open.
    fn is_table(self) -> bool {
        matches!(self, Download::Tabular | Download::TabularAll)
    }

    /// What a link to it says.
    fn label(self) -> &'static str {
        match self {
            Download::Xml => "XML",
            Download::Tabular => "Tabular (12 columns)",
            Download::TabularAll => "Tabular, all columns",
            Download::Pairwise => "Pairwise text",
            Download::Json => "JSON",
        }
    }

    pub fn format(self) -> blast::Format {
        match self {
            Download::Xml => blast::Format::Xml,
            Download::Tabular => blast::Format::Tabular(Columns::Standard),
            Download::TabularAll => blast::Format::CommentedTabular(Columns::All),
            Download::Pairwise => blast::Format::Pairwise,
            Download::Json => blast::Format::Json,
        }
    }

    /// The name it downloads as: the experiment, the archive's name, the format.
    pub fn file_name(self, id: Id, archive: &str) -> String {
        let stem = archive.rsplit_once('.').map_or(archive, |(stem, _)| stem);
        let tail = match self {
            Download::TabularAll => "-all-columns",
            _ => "",
        };
        format!("{id}-{stem}{tail}.{}", self.format().extension())
    }
}

/// `GET /experiments/{id}/results/{file}`: the result file as a download;
/// with `?format=xml|tabular|tabular-all|pairwise|json`, a BLAST archive
/// formatted so, made on demand.
pub async fn download(
    app: &App,
    id: Id,
    name: &str,
    query_string: Option<&str>,
) -> Result<Response<Body>, Error> {
    let experiment = app.experiment(id)?;
    let name = percent::decode(name)
        .ok_or_else(|| Error::NotFound(format!("experiment {id} has no file named '{name}'")))?;
    #[derive(Deserialize)]
    struct Params {
        format: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let wanted_format = match params.format.as_deref() {
        None | Some("") => None,
        Some(word) => Some(
            Download::ALL
                .into_iter()
                .find(|d| d.word() == word)
                .ok_or_else(|| {
                    let words: Vec<&str> = Download::ALL.iter().map(|d| d.word()).collect();
                    Error::Malformed(format!(
                        "format '{word}' is not one of {}",
                        words.join(", ")
                    ))
                })?,
        ),
    };
    let store = app.store.clone();
    let opened = name.clone();
    let (file, length) = blocking(move || store.open_file(id, &opened)).await?;
    let record = &experiment.record;
    // A search that has not completed left nothing to download as a report:
    // an empty or partial archive formats as nothing at all.
    let unfinished = || match record.state {
        State::Complete => None,
        State::Queued | State::Running => Some(format!(
            "experiment {id} is {}; its results can be downloaded once it has completed",
            record.state.as_str()
        )),
        _ => Some(format!(
            "experiment {id}: {}, so {name} holds no report to download; its stderr.txt says why",
            search_failed(record)
        )),
    };
    if wanted_format.is_some() || length == 0 {
        if let Some(why) = unfinished() {
            return Err(Error::WrongState(why));
        }
    }
    let Some(download) = wanted_format else {
        return Ok(respond::untrusted_file(
            &name,
            body::file(file, length),
            length,
            true,
        ));
    };
    let files = app.files(id).await;
    let definition = experiment.record.definition();
    let is_archive = wanted(&definition, &files)
        .iter()
        .any(|result| result.file == name && result.view == View::Blast);
    if !is_archive {
        return Err(Error::NotFound(format!(
            "{name} of experiment {id} is not a BLAST archive; format= applies to a BLAST report's archive"
        )));
    }
    let mut options = blast::Options::new(DOWNLOAD_TIME, DOWNLOAD_BYTES);
    options.dir = Some(app.store.dir(id));
    options.env = definition
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let queue = app.queue.clone();
    options.stop = Some(Arc::new(move || queue.is_closing()));
    let root = app.store.root().to_owned();
    let (output, length) = blocking(move || {
        // Unnamed, on the experiments' disk: gone when the answer is sent.
        let made =
            || tempfile::tempfile_in(&root).map_err(|e| Error::io("creating a file in", &root, e));
        let rewound = |mut file: std::fs::File| {
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io("reading a formatted report in", &root, e))
                .map(|_| file)
        };
        let output = made()?;
        let length = blast::format_file(file, &download.format(), &options, &output)?;
        let output = rewound(output)?;
        if !download.is_table() {
            return Ok((output, length));
        }
        // A table opens in a spreadsheet: a query's name must not run there as a formula.
        let guarded = made()?;
        let length = table::copy_for_spreadsheet(std::io::BufReader::new(output), &guarded)
            .map_err(|e| Error::io("guarding a formatted report in", &root, e))?;
        Ok((rewound(guarded)?, length))
    })
    .await?;
    if length == 0 {
        return Err(Error::Internal(format!(
            "experiment {id}: {} wrote nothing from {name}",
            blast::PROGRAM
        )));
    }
    log::info!(
        "experiment {id}: {name} formatted as {} ({})",
        download.word(),
        crate::store::bytes(length)
    );
    Ok(respond::untrusted_file(
        &download.file_name(id, &name),
        body::file(output, length),
        length,
        true,
    ))
}

// ---- the page's section ------------------------------------------------------------

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

fn render(record: &Record, shown: &[(&ResultFile, Option<FileInfo>, Shown)]) -> Markup {
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

// ---- small helpers the templates share ------------------------------------------------

/// `1234567` as `1,234,567` (the pages' and summaries' way with numbers).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A file size: `532 B`, `12.4 KB`, `3.1 MB` (powers of 1024), as the pages show sizes.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Text as the content of a `<pre>`: the parser drops a newline right after
/// the start tag, so a text that starts with one gets one more.
fn verbatim(text: &str) -> Markup {
    html! {
        @if text.starts_with('\n') { "\n" }
        (text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> FileInfo {
        FileInfo {
            name: name.into(),
            size: 10,
        }
    }

    #[test]
    fn files_are_results_by_their_names_when_a_pipeline_declares_none() {
        assert_eq!(default_view("analysis.json"), Some(View::Analysis));
        assert_eq!(default_view("hits.asn"), Some(View::Blast));
        assert_eq!(default_view("hits.TSV"), Some(View::Table));
        assert_eq!(default_view("counts.csv"), Some(View::Table));
        assert_eq!(default_view("plot.svg"), Some(View::Image));
        assert_eq!(default_view("tree.jpeg"), Some(View::Image));
        assert_eq!(default_view("run.log"), Some(View::Text));
        assert_eq!(default_view("notes.txt"), Some(View::Text));
        for not_one in [
            "stdout.txt",
            "stderr.txt",
            "query.fasta",
            "experiment.json",
            "other.json",
            "model.pdb",
            ".hidden.tsv",
        ] {
            assert_eq!(default_view(not_one), None, "{not_one}");
        }
        let files: Vec<FileInfo> = [
            "experiment.json",
            "hits.asn",
            "hits.tsv",
            "query.fasta",
            "stderr.txt",
        ]
        .into_iter()
        .map(info)
        .collect();
        let found = wanted(&Definition::legacy("x"), &files);
        let found: Vec<(&str, View)> = found.iter().map(|r| (r.file.as_str(), r.view)).collect();
        assert_eq!(
            found,
            [("hits.asn", View::Blast), ("hits.tsv", View::Table)]
        );
        // A declaration wins, whatever the files.
        let builtin = wanted(&Definition::builtin(), &files);
        assert_eq!(builtin.len(), 1);
        assert_eq!(builtin[0].file, "analysis.json");
        let many: Vec<FileInfo> = (0..50).map(|i| info(&format!("{i}.txt"))).collect();
        assert_eq!(wanted(&Definition::legacy("x"), &many).len(), MAX_FOUND);
    }

    #[test]
    fn downloads_are_named_for_the_experiment_and_the_format() {
        assert_eq!(
            Download::Xml.file_name(Id(42), "hits.asn"),
            "000042-hits.xml"
        );
        assert_eq!(
            Download::Tabular.file_name(Id(42), "hits.asn"),
            "000042-hits.tsv"
        );
        assert_eq!(
            Download::TabularAll.file_name(Id(42), "hits.asn"),
            "000042-hits-all-columns.tsv"
        );
        assert_eq!(
            Download::Pairwise.file_name(Id(42), "search"),
            "000042-search.txt"
        );
        assert_eq!(Download::Tabular.format().outfmt().split(' ').count(), 13);
    }

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
                (&result, Some(info(&result.file)), Shown::Table(table)),
                (
                    &text_result,
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
            &[(&picture, Some(info(&picture.file)), Shown::Image)],
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
        let page = render(&record, &[(&results[0], None, Shown::Missing)]).into_string();
        assert!(
            page.contains("No results were written: <code>analysis.json</code>."),
            "{page}"
        );
    }

    #[test]
    fn numbers_and_sizes_read_as_people_write_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(size(12_700), "12.4 KB");
    }
}
