//! A batch as a whole: where it stands, with each experiment's result summed
//! up (`GET /batches/{id}`), and all its results in one download: every
//! experiment's files as one zip (`GET /batches/{id}.zip`), and the summaries
//! as one table (`GET /batches/{id}.tsv`). Both are of whatever exists now,
//! for a batch still running as for a finished one.
//!
//! A download is written by a thread of its own, a page of records at a
//! time, into a bounded channel the connection drains ([`body::streamed`]):
//! a batch of ten thousand experiments holds a few hundred kilobytes of it in
//! memory, not the archive, and a client that reads slowly slows the writer
//! down rather than filling the server's memory.

use crate::zipstream as zip;

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hyper::{Response, StatusCode};
use serde::Serialize;

use super::call::Call;
use crate::app::{self, no_batch, App, Progress};
use crate::error::Error;
use crate::http::{body, respond, Body};
use crate::model::{Id, Record, State};
use crate::queue::{Queue, Waiting};
use crate::results::summary::{self, Kind};
use crate::results::table::for_spreadsheet;
use crate::store::{Store, QUALITY_FILE, QUERY_FILE, RECORD_FILE};
use crate::time::Timestamp;

/// Experiments on one page of `GET /batches/{id}` unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 100;

/// Records taken from the index at a time while a download is written: the
/// index's lock is held for a moment, not for the whole batch.
const WALK_PAGE: usize = 256;

/// Downloads written at once, across the server: each holds a thread and a
/// few hundred kilobytes; a lab fetches a plate or two at a time.
const MAX_DOWNLOADS: usize = 8;

/// How long a download waits for a client that reads nothing before it is
/// dropped: past any pause of a browser's download, short of holding a
/// thread for ever.
const DOWNLOAD_STALL: Duration = Duration::from_secs(300);

/// The longest part of a zip folder's name taken from its query's name.
const FOLDER_NAME_CHARS: usize = 60;

/// What every experiment's folder in the zip holds besides its pipeline's
/// declared results, when they exist.
const ALWAYS: [&str; 5] = [
    QUERY_FILE,
    QUALITY_FILE,
    RECORD_FILE,
    "stdout.txt",
    "stderr.txt",
];

/// Downloads being written now.
static DOWNLOADS: AtomicUsize = AtomicUsize::new(0);

/// `GET /batches/{name}`: `ID` (JSON), `ID.zip` or `ID.tsv`.
pub async fn get(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, name, query_string, viewer) =
        (call.app, call.param("name"), call.query(), call.viewer);
    if let Some(id) = name.strip_suffix(".zip") {
        return download(app, parse_batch(id)?, Format::Zip);
    }
    if let Some(id) = name.strip_suffix(".tsv") {
        return download(app, parse_batch(id)?, Format::Tsv);
    }
    let batch = parse_batch(name)?;
    // Oldest first: the page token is the last id of the page before.
    let filter = app::listing(query_string, viewer, |_| DEFAULT_PAGE)?;
    let plate = crate::results::plate::plate(app, batch, filter.before, filter.limit).await?;
    Ok(respond::json(StatusCode::OK, &Answer::of(&plate)))
}

/// The id of a batch from a path, or "not found".
fn parse_batch(text: &str) -> Result<Id, Error> {
    text.parse()
        .map_err(|()| Error::NotFound(format!("no batch '{text}'")))
}

/// `GET /batches/{id}` in JSON.
#[derive(Serialize)]
struct Answer<'a> {
    batch: Id,
    /// The name of the file it was submitted in.
    upload: Option<&'a str>,
    progress: Progress,
    /// The columns of each experiment's `result`, by pipeline.
    columns: Vec<Columns<'a>>,
    experiments: Vec<Row<'a>>,
    next_page_token: Option<Id>,
    zip: String,
    tsv: String,
    /// The whole batch in its wells, when its records are named as wells.
    #[serde(skip_serializing_if = "Option::is_none")]
    plate: Option<PlateGrid<'a>>,
}

/// A batch laid out on its plate, for a script and the page's grid.
#[derive(Serialize)]
struct PlateGrid<'a> {
    rows: u8,
    columns: u8,
    /// The wells that hold an experiment, row by row from A01.
    wells: Vec<WellRow<'a>>,
}

#[derive(Serialize)]
struct WellRow<'a> {
    /// Its well as plates print it: `A01`.
    well: String,
    id: Id,
    query_name: &'a str,
    state: State,
    /// Whether its search found a hit: only once it is complete, and only
    /// where its result says (a BLAST report's table).
    #[serde(skip_serializing_if = "Option::is_none")]
    hit: Option<bool>,
    summary: String,
}

#[derive(Serialize)]
struct Columns<'a> {
    pipeline: &'a str,
    columns: &'static [&'static str],
}

#[derive(Serialize)]
struct Row<'a> {
    id: Id,
    query_name: &'a str,
    state: State,
    pipeline: &'a str,
    /// The result in a few words (empty while there is none).
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    /// The result's values, in its pipeline's columns.
    result: serde_json::Map<String, serde_json::Value>,
    /// When it should start and finish, as in its record: only while it is
    /// queued or running, `null` while there is no estimate.
    #[serde(skip_serializing_if = "Waiting::is_done")]
    eta: &'a Waiting,
}

impl<'a> Answer<'a> {
    fn of(plate: &'a crate::results::plate::Plate) -> Answer<'a> {
        let batch = plate.batch;
        let experiments = plate
            .page
            .records
            .iter()
            .zip(&plate.summaries)
            .zip(&plate.etas)
            .map(|((record, summary), eta)| {
                let kind = plate
                    .pipelines
                    .iter()
                    .find(|p| p.name == record.pipeline)
                    .map(|p| &p.kind);
                let columns = kind.map_or(&[][..], Kind::columns);
                Row {
                    id: record.id,
                    query_name: &record.query_name,
                    state: record.state,
                    pipeline: &record.pipeline,
                    summary: &summary.text,
                    detail: summary.detail.as_deref(),
                    result: columns
                        .iter()
                        .zip(&summary.values)
                        .map(|(column, value)| ((*column).to_owned(), value.as_str().into()))
                        .collect(),
                    eta,
                }
            })
            .collect();
        Answer {
            batch,
            upload: plate.page.upload.as_deref(),
            progress: Progress::of(&plate.page.counts),
            columns: plate
                .pipelines
                .iter()
                .map(|p| Columns {
                    pipeline: &p.name,
                    columns: p.kind.columns(),
                })
                .collect(),
            experiments,
            next_page_token: plate.page.next,
            zip: format!("/batches/{batch}.zip"),
            tsv: format!("/batches/{batch}.tsv"),
            plate: plate.wells.as_ref().map(|wells| PlateGrid {
                rows: wells.format.rows,
                columns: wells.format.columns,
                wells: wells
                    .wells
                    .iter()
                    .flatten()
                    .map(|cell| WellRow {
                        well: cell.well.name(),
                        id: cell.record.id,
                        state: cell.record.state,
                        query_name: &cell.record.query_name,
                        hit: cell.summary.hit,
                        summary: cell.summary.text.clone(),
                    })
                    .collect(),
            }),
        }
    }
}

/// What a download is.
#[derive(Clone, Copy, Debug)]
enum Format {
    Zip,
    Tsv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tsv => "tsv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Zip => "application/zip",
            Format::Tsv => "text/tab-separated-values; charset=utf-8",
        }
    }
}

/// A download being written; counted in [`DOWNLOADS`] while it lives.
struct Slot;

impl Slot {
    fn take() -> Result<Slot, Error> {
        let taken = DOWNLOADS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_DOWNLOADS).then_some(n + 1)
        });
        match taken {
            Ok(_) => Ok(Slot),
            Err(_) => Err(Error::Busy(format!(
                "{MAX_DOWNLOADS} batch downloads are being written already; try again shortly"
            ))),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        DOWNLOADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts writing a batch's download on a thread of its own, and answers
/// with its body, which streams as it is written.
fn download(app: &App, batch: Id, format: Format) -> Result<Response<Body>, Error> {
    let first = app
        .queue
        .batch(batch, None, 1)
        .ok_or_else(|| no_batch(batch))?;
    let slot = Slot::take()?;
    let (mut sink, body) = body::streamed(DOWNLOAD_STALL);
    let (store, queue) = (app.store.clone(), app.queue.clone());
    let name = download_name(batch, first.upload.as_deref(), format);
    thread::Builder::new()
        .name(format!("batch-{}", format.extension()))
        .spawn(move || {
            let _slot = slot;
            let started = Instant::now();
            let written = match format {
                Format::Zip => write_zip(&store, &queue, batch, &mut sink),
                Format::Tsv => write_tsv(&store, &queue, batch, &mut sink),
            }
            .and_then(|count| sink.flush().map(|()| count));
            match written {
                Ok(count) => log::info!(
                    "batch {batch}: sent its {} of {count} experiments in {:.1} s",
                    format.extension(),
                    started.elapsed().as_secs_f64()
                ),
                Err(err) => {
                    log::info!(
                        "batch {batch}: its {} was cut short after {:.1} s: {err}",
                        format.extension(),
                        started.elapsed().as_secs_f64()
                    );
                    sink.fail(err);
                }
            }
        })
        .map_err(|err| Error::Internal(format!("starting a download's thread: {err}")))?;
    Ok(respond::download(format.content_type(), &name, body))
}

/// The name a download is saved under: the uploaded file's stem and the
/// batch (`plate7-000001.zip`), or `batch-000001.zip`.
fn download_name(batch: Id, upload: Option<&str>, format: Format) -> String {
    let stem = upload
        .map(|name| name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        .map(|stem| zip::component(stem, FOLDER_NAME_CHARS))
        .filter(|stem| !stem.is_empty())
        .unwrap_or_else(|| "batch".to_owned());
    format!("{stem}-{batch}.{}", format.extension())
}

/// Calls `each` with every record of the batch, in id order, a page at a time.
fn each_record(
    queue: &Queue,
    batch: Id,
    mut each: impl FnMut(&Record) -> io::Result<()>,
) -> io::Result<usize> {
    let mut after = None;
    let mut count = 0;
    while let Some(page) = queue.batch(batch, after, WALK_PAGE) {
        for record in &page.records {
            each(record)?;
            count += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(count)
}

/// The folder of an experiment in the zip: `000042-A01`.
fn folder(record: &Record) -> String {
    match zip::component(&record.query_name, FOLDER_NAME_CHARS) {
        name if name.is_empty() => record.id.to_string(),
        name => format!("{}-{name}", record.id),
    }
}

/// The files of an experiment the zip takes: the input, the record, the
/// logs and the pipeline's declared results, each once.
fn archived(record: &Record) -> Vec<String> {
    let mut names: Vec<String> = ALWAYS.iter().map(|name| (*name).to_owned()).collect();
    for result in &record.definition().results {
        if !names.contains(&result.file) {
            names.push(result.file.clone());
        }
    }
    names
}

/// Writes the zip of a batch: a folder per experiment with the files of
/// [`archived`] that exist now. Returns how many experiments it holds.
fn write_zip(store: &Store, queue: &Queue, batch: Id, out: &mut impl Write) -> io::Result<usize> {
    let mut zip = zip::ZipStream::new(out);
    let count = each_record(queue, batch, |record| {
        let folder = folder(record);
        for name in archived(record) {
            // Not there (yet): a queued experiment has its input and its record only.
            let Ok((file, length)) = store.open_file(record.id, &name) else {
                continue;
            };
            let modified = file
                .metadata()
                .and_then(|meta| meta.modified())
                .map_or_else(|_| Timestamp::now(), Timestamp::from_system);
            zip.add(&format!("{folder}/{name}"), file, length, modified)?;
        }
        Ok(())
    })?;
    zip.finish()?;
    Ok(count)
}

/// Writes the merged summary of a batch: a header, then one row per
/// experiment: id, name, state, pipeline, summary, and the columns of the
/// first experiment's pipeline ([`Kind::columns`]).
fn write_tsv(store: &Store, queue: &Queue, batch: Id, out: &mut impl Write) -> io::Result<usize> {
    let first = queue
        .batch(batch, None, 1)
        .and_then(|page| page.records.into_iter().next());
    let kind = first.map_or(Kind::Nothing, |record| Kind::of(&record.definition()));
    let mut header = vec!["id", "name", "state", "pipeline", "summary"];
    header.extend_from_slice(kind.columns());
    writeln!(out, "{}", header.join("\t"))?;
    let mut line = String::new();
    each_record(queue, batch, |record| {
        let summary = summary::summarize_in(store, record);
        // A record of another pipeline (which one submission cannot make)
        // leaves the columns it does not have empty.
        let same = Kind::of(&record.definition()) == kind;
        line.clear();
        let id = record.id.to_string();
        for cell in [
            id.as_str(),
            record.query_name.as_str(),
            record.state.as_str(),
            &*record.pipeline,
            summary.text.as_str(),
        ] {
            push_cell(&mut line, cell);
        }
        for at in 0..kind.columns().len() {
            let value = summary.values.get(at).filter(|_| same);
            push_cell(&mut line, value.map_or("", String::as_str));
        }
        line.pop(); // the last tab
        line.push('\n');
        out.write_all(line.as_bytes())
    })
}

/// Adds a cell and its tab: guarded first, so that a spreadsheet does not
/// run it as a formula ([`for_spreadsheet`]); a tab or line end inside it
/// becomes a space.
fn push_cell(line: &mut String, cell: &str) {
    line.extend(for_spreadsheet(cell).chars().map(|c| match c {
        '\t' | '\r' | '\n' => ' ',
        c => c,
    }));
    line.push('\t');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_is_named_after_its_file_and_batch() {
        let name = |upload| download_name(Id(7), upload, Format::Zip);
        assert_eq!(name(Some("plate7.fasta")), "plate7-000007.zip");
        assert_eq!(name(Some("../../x y.fa")), "_x_y-000007.zip");
        assert_eq!(name(Some("..")), "batch-000007.zip");
        assert_eq!(name(None), "batch-000007.zip");
        assert_eq!(download_name(Id(7), None, Format::Tsv), "batch-000007.tsv");
    }

    #[test]
    fn a_folder_is_named_by_id_and_a_safe_query_name() {
        let named = |name: &str| {
            folder(&Record {
                query_name: name.to_owned(),
                ..Record::for_test(42, State::Queued)
            })
        };
        assert_eq!(named("A01"), "000042-A01");
        assert_eq!(named("../../../etc"), "000042-_etc");
        assert_eq!(named(".."), "000042");
        assert!(zip::is_safe_name(&format!(
            "{}/query.fasta",
            named("a/b\\c")
        )));
    }

    #[test]
    fn a_cell_stays_in_its_cell() {
        let mut line = String::new();
        push_cell(&mut line, "a\tb\r\nc");
        assert_eq!(line, "a b  c\t");
        line.clear();
        push_cell(&mut line, "\t=1+1");
        push_cell(&mut line, "-5");
        assert_eq!(line, "' =1+1\t-5\t");
    }
}
