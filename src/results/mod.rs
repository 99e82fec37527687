//! Results: the files an experiment's command writes, read as its page
//! shows them, and downloaded as scripts want them. This room returns data
//! (which results, what each shows, a batch's summaries, a download);
//! `ui::results` renders it.
//!
//! A pipeline declares its result files and how each is shown (a table, a
//! BLAST report, the built-in analysis, text, a picture, or just a file to
//! download); without a declaration a file is shown as its name says
//! ([`default_view`]). Each is read only so far, so a file of any size costs
//! the same to show. A BLAST report is made from the search's archive by
//! `blast_formatter` ([`crate::blast::format`]) off the async threads, and
//! kept in the experiment's directory (`cache`), so it runs once.
//!
//! Every file here was written by a processing command: files are opened
//! through the store (no link is followed, nothing outside the directory is
//! reached), their text reaches a page only as text (maud escapes it), and
//! downloads carry the headers of [`respond::untrusted_file`].

pub(crate) mod analysis;
mod cache;
pub(crate) mod hits;
pub(crate) mod plate;
pub(crate) mod summary;
pub(crate) mod table;
pub(crate) mod wells;

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use hyper::Response;

use crate::app::{blocking, App};
use crate::blast::format::{self as blast, Columns, FormatError};
use crate::blast::report::{self, Report};
use crate::blast::searched;
use crate::error::Error;
use crate::http::percent;
use crate::http::{body, respond, Body};
use crate::model::{FileInfo, Id, Record, State};
use crate::pipeline::{Definition, ResultFile, View};
use crate::queue::View as Experiment;
use crate::store::{Store, QUERY_FILE, RECORD_FILE};

use analysis::Summary;
use table::{Delimiter, Table};

/// Result files found by their names when a pipeline declares none: a
/// directory of thousands of files is not a page of thousands of results.
pub(crate) const MAX_FOUND: usize = 12;
/// Lines of a text result shown.
pub(crate) const TEXT_LINES: usize = 200;
/// Bytes of a text result read for them.
pub(crate) const TEXT_BYTES: u64 = 64 * 1024;
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
pub(crate) fn default_view(name: &str) -> Option<View> {
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
pub(crate) fn wanted(definition: &Definition, files: &[FileInfo]) -> Vec<ResultFile> {
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

/// What an experiment's results section holds.
pub(crate) enum Section {
    /// It has not finished: the results it will show.
    Waiting(Vec<ResultFile>),
    /// It has finished: each result, its file (if it was written), and what
    /// it shows.
    Finished(Vec<(ResultFile, Option<FileInfo>, Shown)>),
}

/// What one result shows.
pub(crate) enum Shown {
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
pub(crate) enum Prepared {
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

/// What the results section of an experiment's page holds: the results it
/// will have, or, once it has finished, each result with what it shows,
/// read from its files (a BLAST report made, or waited for a while).
pub(crate) async fn section(app: &App, experiment: &Experiment, files: &[FileInfo]) -> Section {
    let record = &experiment.record;
    let definition = record.definition();
    let wanted = wanted(&definition, files);
    if !record.state.is_finished() {
        return Section::Waiting(wanted);
    }
    let mut shown = Vec::with_capacity(wanted.len());
    for result in wanted {
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
    Section::Finished(shown)
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
    let mut report = match Report::from_json(&json, tabular.as_deref()) {
        Ok(report) => report,
        Err(why) => return failed(why),
    };
    // Named by their titles on the page, never by their paths.
    if let Some(database) = &report.database {
        report.databases = searched::databases(database, &options);
        // Against several, each hit says which it came from.
        if report.databases.len() > 1 {
            let hits: Vec<(&str, Option<&str>)> = (report.queries.iter())
                .flat_map(|query| &query.hits)
                .map(|hit| (hit.id.as_str(), hit.accession.as_deref()))
                .collect();
            let sources = searched::sources(database, &report.databases, &hits, &options);
            for query in &mut report.queries {
                for hit in &mut query.hits {
                    hit.source = sources.get(&hit.id).cloned();
                }
            }
        }
    }
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
pub(crate) enum Download {
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
    pub(crate) const ALL: [Download; 5] = [
        Download::Xml,
        Download::Tabular,
        Download::TabularAll,
        Download::Pairwise,
        Download::Json,
    ];

    pub(crate) fn word(self) -> &'static str {
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
    pub(crate) fn label(self) -> &'static str {
        match self {
            Download::Xml => "XML",
            Download::Tabular => "Tabular (12 columns)",
            Download::TabularAll => "Tabular, all columns",
            Download::Pairwise => "Pairwise text",
            Download::Json => "JSON",
        }
    }

    pub(crate) fn format(self) -> blast::Format {
        match self {
            Download::Xml => blast::Format::Xml,
            Download::Tabular => blast::Format::Tabular(Columns::Standard),
            Download::TabularAll => blast::Format::CommentedTabular(Columns::All),
            Download::Pairwise => blast::Format::Pairwise,
            Download::Json => blast::Format::Json,
        }
    }

    /// The name it downloads as: the experiment, the archive's name, the format.
    pub(crate) fn file_name(self, id: Id, archive: &str) -> String {
        let stem = archive.rsplit_once('.').map_or(archive, |(stem, _)| stem);
        let tail = match self {
            Download::TabularAll => "-all-columns",
            _ => "",
        };
        format!("{id}-{stem}{tail}.{}", self.format().extension())
    }
}

/// What `?format=` asks of a BLAST archive.
#[derive(Clone, Copy, Debug)]
enum Wanted {
    /// A report, formatted by `blast_formatter`.
    Blast(Download),
    /// The FASTA of its hits ([`hits`]).
    Hits(hits::Take),
}

impl Wanted {
    fn parse(word: &str) -> Result<Wanted, Error> {
        let blast = Download::ALL.into_iter().find(|d| d.word() == word);
        let take = hits::Take::ALL.into_iter().find(|t| t.word() == word);
        match (blast, take) {
            (Some(download), _) => Ok(Wanted::Blast(download)),
            (None, Some(take)) => Ok(Wanted::Hits(take)),
            (None, None) => {
                let words: Vec<&str> = Download::ALL
                    .iter()
                    .map(|d| d.word())
                    .chain(hits::Take::ALL.iter().map(|t| t.word()))
                    .collect();
                Err(Error::Malformed(format!(
                    "format '{word}' is not one of {}",
                    words.join(", ")
                )))
            }
        }
    }
}

/// `GET /experiments/{id}/results/{file}`: the result file as a download;
/// with `?format=xml|tabular|tabular-all|pairwise|json`, a BLAST archive
/// formatted so, made on demand; with `?format=fasta|fasta-aligned` (and
/// `hits=ID,ID`), the FASTA of its hits ([`hits`]).
pub(crate) async fn download(
    app: &App,
    id: Id,
    name: &str,
    query_string: Option<&str>,
) -> Result<Response<Body>, Error> {
    let experiment = app.experiment(id)?;
    let name = percent::decode(name)
        .ok_or_else(|| Error::NotFound(format!("experiment {id} has no file named '{name}'")))?;
    // `hits` may come repeated (a form's checkboxes), so the pairs are read as they come.
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let value = |key: &'static str| {
        params
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let chosen = hits::chosen(value("hits"))?;
    let wanted_format = match value("format").next() {
        None | Some("") => None,
        Some(word) => Some(Wanted::parse(word)?),
    };
    if chosen.is_some() && !matches!(wanted_format, Some(Wanted::Hits(_))) {
        return Err(Error::Malformed(
            "hits= chooses hits for format=fasta or format=fasta-aligned".into(),
        ));
    }
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
    let Some(wanted_format) = wanted_format else {
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
    let download = match wanted_format {
        Wanted::Blast(download) => download,
        Wanted::Hits(take) => {
            let (output, length) = blocking(move || {
                let room = |e| Error::io("creating a file in", &root, e);
                let mut output = tempfile::tempfile_in(&root).map_err(room)?;
                let length = hits::write(take, file, chosen.as_deref(), &options, &output)?;
                output.seek(SeekFrom::Start(0)).map_err(room)?;
                Ok((output, length))
            })
            .await?;
            log::info!(
                "experiment {id}: {name} as {} ({})",
                take.word(),
                crate::store::bytes(length)
            );
            return Ok(respond::untrusted_file(
                &take.file_name(id, &name),
                body::file(output, length),
                length,
                true,
            ));
        }
    };
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
        // Named by name or title, never by their paths on the server.
        let (output, length) = if download.format().names_databases() {
            let named = made()?;
            let length = searched::unpath(std::io::BufReader::new(output), &named, &options)
                .map_err(|e| Error::io("naming the databases of a report in", &root, e))?;
            (rewound(named)?, length)
        } else {
            (output, length)
        };
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

// ---- numbers ---------------------------------------------------------------------

/// `1234567` as `1,234,567` (the pages' and summaries' way with numbers).
pub(crate) fn thousands(n: u64) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file of ten bytes named `name`, as an experiment's listing has it.
    pub(crate) fn info(name: &str) -> FileInfo {
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
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
