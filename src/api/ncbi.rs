//! NCBI's BLAST URL API, `/Blast.cgi`: scripts written for NCBI's BLAST
//! (Biopython's `qblast`, NCBI's `web_blast.pl`, R and MATLAB clients) run
//! unchanged against the lab's own pipelines, apart from the address.
//!
//! - `CMD=Put` submits a search: an ordinary experiment of the pipeline the
//!   configuration's `[ncbi]` section maps `PROGRAM` to, with the settings as
//!   its checked parameters. `QUERY` is a sequence, or an identifier whose
//!   sequence the lab's databases hold ([`entry`]); the search is named by
//!   `JOB_TITLE` or the sequence's defline. The answer carries the `RID` and
//!   `RTOE` in the `QBlastInfo` block the clients read.
//! - `CMD=Get` polls it: a waiting page while it is queued or running, its
//!   status with `FORMAT_OBJECT=SearchInfo`, and once complete the report in
//!   `FORMAT_TYPE`, made from the search's archive.
//! - `CMD=Delete` cancels it; `CMD=DisplayRIDs` lists the searches known.
//!
//! Who may do what is decided by the command as parsed here (the router
//! lets anyone who may read through): `Put` needs a user where writing
//! does, whatever the method and however `CMD` is spelled or encoded, and
//! `Delete` the search's submitter or an admin. A refusal for want of a
//! user is a 401 with both challenges, `Basic` being the one NCBI's clients
//! answer with the token as their password.
//!
//! The clients turn NCBI's error page (`<p class="error">`) into an exception
//! with its message, so a refused `Put` answers with that page, and with 200
//! as NCBI does when the request itself is at fault: a client that saw 4xx
//! would throw away the message. Everything the server cannot do now (a full
//! queue, a server stopping) keeps its own status. A poll of a search that
//! failed, was cancelled, or is unknown answers non-2xx, so no client polls
//! forever; a poll is never answered 429 or 503.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::call::Call;
use crate::access::Viewer;
use crate::app::{blocking, App, Cancel, MAX_PAGE};
use crate::blast::ncbi::format::{self, Format, Limits};
use crate::blast::ncbi::{archive_of, entry, setting_of, Rid, Service};
use crate::error::Error;
use crate::http::negotiate::{media_type, same_origin};
use crate::http::{body, respond, Body};
use crate::model::{Record, State};
use crate::queue::{Filter, View};
use crate::submission;
use crate::time::Timestamp;

/// RTOE when the queue has no estimate yet (no run of the pipeline has
/// completed since the start): a poll interval, not a promise.
const RTOE_UNKNOWN_SECS: u64 = 10;

/// The name a bare sequence (no FASTA header, no `JOB_TITLE`) gets, as NCBI names it.
const BARE_QUERY_NAME: &str = "Query_1";

/// Room for a fetched entry's defline, beyond its residues: a name and a
/// description as a query may have them, with some to spare.
const ENTRY_DEFLINE_BYTES: usize = 8 * 1024;

/// Whether `path` is one of the two paths NCBI's clients use.
pub fn is_blast_cgi(path: &str) -> bool {
    matches!(path, "/Blast.cgi" | "/blast/Blast.cgi")
}

/// `GET` or `POST /Blast.cgi`.
pub async fn handle(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(match answer(call.app, call.request, call.viewer).await {
        Ok(response) => response,
        Err(refusal) => refusal.response(),
    })
}

/// Why a request was refused, and with which status.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    msg: String,
    /// `Status=` to tell a client that reads the QBlastInfo block.
    search_status: Option<&'static str>,
    /// The server's error it came from, whose headers the answer carries
    /// (`Retry-After`, `WWW-Authenticate`).
    error: Option<Error>,
}

impl Refusal {
    /// A request at fault, answered as NCBI does.
    fn request(msg: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::OK,
            msg: msg.into(),
            search_status: None,
            error: None,
        }
    }

    fn status(status: StatusCode, msg: impl Into<String>) -> Refusal {
        Refusal {
            status,
            msg: msg.into(),
            search_status: None,
            error: None,
        }
    }

    fn response(self) -> Response<Body> {
        log::info!(
            "Blast.cgi: refused ({}): {}",
            self.status.as_u16(),
            self.msg
        );
        let page = page(
            "NCBI Blast: error",
            html! {
                @if let Some(status) = self.search_status {
                    (info(&[("Status", status)]))
                }
                p class="error" { "Error: " (self.msg) }
                p { "This is seqspool's BLAST URL API; see " a href="/" { "its page" } " for the lab's pipelines." }
            },
        );
        match self.error {
            Some(err) => respond::error(&err, Some(page)),
            None => respond::page(self.status, page),
        }
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Refusal {
        Refusal {
            status: respond::status(&err),
            msg: err.to_string(),
            search_status: None,
            error: Some(err),
        }
    }
}

/// The request's fields by their upper-case names, from the query string
/// and, for a POST, the form body.
type Fields = BTreeMap<String, String>;

async fn answer(
    app: &App,
    request: Request<Incoming>,
    viewer: &Viewer,
) -> Result<Response<Body>, Refusal> {
    let method = request.method().clone();
    let cross_site = is_cross_site(&request);
    let mut fields = Fields::new();
    read_pairs(request.uri().query().unwrap_or(""), &mut fields)?;
    if method == Method::POST {
        let media = media_type(request.headers());
        if !matches!(media.as_str(), "" | "application/x-www-form-urlencoded") {
            return Err(Refusal::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type '{media}' is not taken here; send the fields as a form (application/x-www-form-urlencoded)"
                ),
            ));
        }
        let (bytes, _permit) = body::read(request, app.config.max_body, &app.bodies).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Refusal::status(StatusCode::BAD_REQUEST, "the form is not UTF-8 text"))?;
        read_pairs(text, &mut fields)?;
    }
    let command = fields.get("CMD").cloned().unwrap_or_default();
    match command.trim().to_ascii_lowercase().as_str() {
        "put" => {
            guard(cross_site, "submit a search")?;
            viewer.check_write()?;
            put(app, &fields, viewer).await
        }
        "get" => get(app, &fields).await,
        "delete" => {
            guard(cross_site, "delete a search")?;
            viewer.check_write()?;
            delete(app, &fields, viewer).await
        }
        "displayrids" => Ok(display_rids(app)),
        "" => Err(Refusal::status(
            StatusCode::BAD_REQUEST,
            "CMD is missing; send CMD=Put to search, then CMD=Get with its RID",
        )),
        other => Err(Refusal::status(
            StatusCode::BAD_REQUEST,
            format!(
                "CMD {other} is not offered; this server takes Put, Get, Delete and DisplayRIDs"
            ),
        )),
    }
}

/// Reads `name=value&...` into `fields`; a field given twice is refused.
fn read_pairs(text: &str, fields: &mut Fields) -> Result<(), Refusal> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|err| {
        Refusal::status(StatusCode::BAD_REQUEST, format!("malformed form: {err}"))
    })?;
    for (name, value) in pairs {
        let name = name.trim().to_ascii_uppercase();
        if fields.insert(name.clone(), value).is_some() {
            return Err(Refusal::request(format!(
                "the field {name} is given twice; send each field once"
            )));
        }
    }
    Ok(())
}

/// Whether a browser sent this from a page of another site. `Put` and
/// `Delete` also come as GETs, which the router's check of writes does not
/// cover: a link on another site must not submit or cancel a search.
fn is_cross_site(request: &Request<Incoming>) -> bool {
    let fetch_site = request
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some("cross-site" | "same-site")) || !same_origin(request.headers())
}

fn guard(cross_site: bool, what: &str) -> Result<(), Refusal> {
    if cross_site {
        return Err(Refusal::status(
            StatusCode::FORBIDDEN,
            format!("a page of another site may not {what} here; send it from a script, or from this server's own page"),
        ));
    }
    Ok(())
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map_or("", |value| value.trim())
}

/// `CMD=Put`: the search becomes an experiment; the answer names its RID.
async fn put(app: &App, fields: &Fields, viewer: &Viewer) -> Result<Response<Body>, Refusal> {
    let services = app.shelf.services();
    let database = field(fields, "DATABASE");
    let service = services
        .find(field(fields, "PROGRAM"), database)
        .map_err(Refusal::request)?;
    let pipeline = service.pipeline.clone();
    let put = service.put(database, fields).map_err(Refusal::request)?;

    let text = fields.get("QUERY").map_or("", String::as_str);
    if text.trim().is_empty() {
        return Err(Refusal::request(
            "QUERY is missing: send the sequence, bare or as FASTA, or an identifier of a sequence in the lab's databases",
        ));
    }
    // An identifier is searched with its sequence, as NCBI fetches it.
    let identifier = entry::Identifier::parse(text);
    let (text, fetched_from) = match &identifier {
        Some(id) => {
            let (fasta, database) = look_up(app, service, id).await?;
            (fasta, Some(database))
        }
        None => (text.to_owned(), None),
    };
    // Named by JOB_TITLE, else by its FASTA header (a fetched entry's own
    // defline), else as NCBI names a bare sequence.
    let title = field(fields, "JOB_TITLE");
    let has_header = text.lines().any(|line| line.trim_start().starts_with('>'));
    let name = match (title, has_header) {
        ("", true) => None,
        ("", false) => Some(BARE_QUERY_NAME),
        (title, _) => Some(title),
    };
    // Accepted as every submission is: the pipeline must take the query and the settings.
    let submitted = submission::Fields {
        query_name: name.map(str::to_owned),
        query_sequence: Some(text),
        pipeline: Some(pipeline.name.clone()),
        params: put.params,
        ..submission::Fields::default()
    };
    let mut accepted = app
        .accept(&submitted)
        .map_err(|err| Refusal::request(in_ncbi_terms(&err)))?;
    if accepted.queries.len() > 1 {
        return Err(Refusal::request(format!(
            "QUERY holds {} FASTA records; send one search per record (each search is one experiment here)",
            accepted.queries.len()
        )));
    }
    let query = &mut accepted.queries[0];
    if let (Some(id), Some(database)) = (&identifier, fetched_from) {
        query.add_note(format!(
            "QUERY {id} was fetched from the lab's database {database}"
        ));
    }
    for note in put.notes {
        query.add_note(note);
    }
    let mut views = app.submit(accepted, viewer).await?;
    let view = views.remove(0);
    let rid = Rid::of(&view.record).ok_or_else(|| {
        Refusal::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the experiment's id is beyond what an RID can name",
        )
    })?;
    let rtoe = rtoe(&view);
    log::info!(
        "Blast.cgi: {} search {rid} against {database} is experiment {}",
        service.program,
        view.record.id
    );
    let experiment = format!("/experiments/{}", view.record.id);
    let body = page(
        "NCBI Blast:",
        html! {
            (PreEscaped(format!(
                "<!--QBlastInfoBegin\n    RID = {rid}\n    RTOE = {rtoe}\nQBlastInfoEnd\n-->\n"
            )))
            p { "Search " strong { (rid) } " is experiment " a href=(experiment) { (view.record.id) } "." }
            p { "Ask for its results with CMD=Get&RID=" (rid) "; it should be ready in about " (rtoe) " s." }
        },
    );
    Ok(respond::page(StatusCode::OK, body))
}

/// The sequence of an identifier sent as `QUERY`, as FASTA, from the
/// databases the service looks identifiers up in, and the name of the one
/// that held it; NCBI's error form when none does.
async fn look_up(
    app: &App,
    service: &Service,
    id: &entry::Identifier,
) -> Result<(String, String), Refusal> {
    // Only their names: a client has no business with the server's paths.
    let names: Vec<&str> = service
        .lookup
        .iter()
        .map(|db| db.rsplit('/').next().unwrap_or(db))
        .collect();
    if names.is_empty() {
        return Err(Refusal::request(format!(
            "QUERY {id} is an identifier, and this server looks none up for {}: send the sequence itself",
            service.program
        )));
    }
    // blastdbcmd writes 80 residues a line, after a defline.
    let max_bytes = app.limits.max_residues + app.limits.max_residues / 80 + ENTRY_DEFLINE_BYTES;
    let env = &service.pipeline.definition.env;
    match entry::fetch(id, &service.lookup, env, max_bytes).await {
        Ok(Some((fasta, database))) => {
            let database = database.rsplit('/').next().unwrap_or(database).to_owned();
            log::info!("Blast.cgi: QUERY {id} fetched from {database}");
            Ok((fasta, database))
        }
        Ok(None) => Err(Refusal::request(format!(
            "QUERY {id} cannot be fetched here: the lab's databases ({}) hold no sequence of that identifier, \
             and this server does not fetch from NCBI; send the sequence itself",
            names.join(", ")
        ))),
        Err(entry::FetchError::TooLong(why)) => Err(Refusal::request(format!("QUERY {why}"))),
        Err(entry::FetchError::Failed(why)) => {
            log::warn!("Blast.cgi: QUERY {id} could not be looked up: {why}");
            // Its words name the server's paths: for the log, not the client.
            Err(Refusal::status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("QUERY {id} could not be looked up in the lab's databases just now (the server's log says why); send the sequence itself, or try again later"),
            ))
        }
    }
}

/// An error in the client's terms: `param.evalue` is `EXPECT`,
/// `query_sequence` is `QUERY`, `query_name` is `JOB_TITLE`.
fn in_ncbi_terms(err: &Error) -> String {
    match err {
        Error::Invalid { field, msg } => {
            let name = match field.strip_prefix("param.") {
                Some(param) => setting_of(param).map_or_else(|| param.to_owned(), str::to_owned),
                None if field == "query_name" => "JOB_TITLE".to_owned(),
                None => "QUERY".to_owned(),
            };
            format!("{name}: {msg}")
        }
        other => other.to_string(),
    }
}

/// Seconds until the queue expects the search to finish.
fn rtoe(view: &View) -> u64 {
    match view.eta.eta() {
        Some(eta) => eta.finish.since(Timestamp::now()).as_secs().max(1),
        None => RTOE_UNKNOWN_SECS,
    }
}

/// A search by its `RID`, if the RID is one of ours and its experiment is known.
fn search(app: &App, fields: &Fields) -> Result<Option<View>, Refusal> {
    let rid = field(fields, "RID");
    if rid.is_empty() {
        return Err(Refusal::status(
            StatusCode::BAD_REQUEST,
            "RID is missing; send the RID that CMD=Put answered with",
        ));
    }
    Ok(Rid::id(rid)
        .and_then(|id| app.queue.get(id))
        .filter(|view| Rid::names(rid, &view.record)))
}

fn unknown(rid: &str) -> Refusal {
    Refusal {
        status: StatusCode::NOT_FOUND,
        msg: format!("RID {rid} names no search here: mistyped, or removed"),
        search_status: Some("UNKNOWN"),
        error: None,
    }
}

/// `CMD=Get`: the search's status, or its report.
async fn get(app: &App, fields: &Fields) -> Result<Response<Body>, Refusal> {
    let rid = field(fields, "RID");
    let found = search(app, fields)?;
    if field(fields, "FORMAT_OBJECT").eq_ignore_ascii_case("SearchInfo") {
        return search_info(app, found).await;
    }
    let view = found.ok_or_else(|| unknown(rid))?;
    let record = &view.record;
    match record.state {
        State::Queued | State::Running => return Ok(waiting(&view, rid)),
        State::Complete => {}
        State::Canceled => {
            return Err(Refusal {
                status: StatusCode::GONE,
                msg: format!("the search {rid} was canceled"),
                search_status: Some("FAILED"),
                error: None,
            })
        }
        State::ExecutorError | State::SystemError => {
            return Err(Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                msg: format!(
                    "the search {rid} failed: {}",
                    record
                        .error
                        .as_deref()
                        .unwrap_or("see its experiment's log")
                ),
                search_status: Some("FAILED"),
                error: None,
            })
        }
    }
    let format = match field(fields, "FORMAT_TYPE") {
        // NCBI's own default.
        "" => Format::Html,
        text => Format::parse(text).ok_or_else(|| {
            Refusal::status(
                StatusCode::BAD_REQUEST,
                format!(
                    "FORMAT_TYPE {text} is not offered; ask for {}",
                    Format::NAMES
                ),
            )
        })?,
    };
    let limits = Limits {
        alignments: count(fields, "ALIGNMENTS")?,
        descriptions: count(fields, "DESCRIPTIONS")?,
    };
    let report = report(app, record, format, limits).await?;
    Ok(match format {
        Format::Xml => respond::whole(StatusCode::OK, "application/xml", report),
        Format::Text | Format::Tabular => {
            let mut text = ready_block().into_bytes();
            text.extend_from_slice(b"<PRE>\n");
            text.extend_from_slice(&report);
            text.extend_from_slice(b"</PRE>\n");
            nosniff(respond::whole(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                text,
            ))
        }
        Format::Html => {
            let text = String::from_utf8_lossy(&report);
            let body = page(
                &format!("seqspool BLAST: {}", record.query_name),
                html! { (PreEscaped(ready_block())) pre { (text) } },
            );
            respond::page(StatusCode::OK, body)
        }
        Format::Json2 | Format::Xml2 => {
            let mut response = respond::whole(StatusCode::OK, "application/zip", report);
            let name = format!("attachment; filename=\"{rid}.zip\"");
            if let Ok(value) = HeaderValue::from_str(&name) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
    })
}

fn nosniff(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `ALIGNMENTS` or `DESCRIPTIONS`: a count, if given. One larger than any
/// report holds means all of them, as at NCBI (`blast::format` takes it so).
fn count(fields: &Fields, name: &str) -> Result<Option<u32>, Refusal> {
    match field(fields, name) {
        "" => Ok(None),
        text if text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Some(text.parse().unwrap_or(u32::MAX)))
        }
        text => Err(Refusal::status(
            StatusCode::BAD_REQUEST,
            format!("{name} {text} is not a whole number of hits"),
        )),
    }
}

/// The search's report, made from its archive.
async fn report(
    app: &App,
    record: &Record,
    format: Format,
    limits: Limits,
) -> Result<Vec<u8>, Refusal> {
    let definition = record.definition();
    let archive = archive_of(&definition.results).ok_or_else(|| {
        Refusal::status(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the pipeline {} keeps no BLAST archive for this search, which reports are made from",
                record.pipeline
            ),
        )
    })?;
    let store = app.store.clone();
    let (id, name) = (record.id, archive.to_owned());
    let (file, _) =
        blocking(move || store.open_file(id, &name))
            .await
            .map_err(|err| match err {
                Error::NotFound(_) => Refusal::status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the search completed, but its archive {archive} is missing"),
                ),
                other => other.into(),
            })?;
    let job = format::Job {
        archive: file,
        env: definition.env.clone(),
        rid: Rid::of(record)
            .map(|rid| rid.to_string())
            .unwrap_or_default(),
    };
    Ok(blocking(move || format::report(job, format, limits)).await?)
}

/// `FORMAT_OBJECT=SearchInfo`: the status, and whether there are hits.
async fn search_info(app: &App, found: Option<View>) -> Result<Response<Body>, Refusal> {
    let (status, hits) = match &found {
        None => ("UNKNOWN", None),
        Some(view) => match view.record.state {
            State::Queued | State::Running => ("WAITING", None),
            State::Complete => ("READY", Some(has_hits(app, &view.record).await?)),
            State::Canceled | State::ExecutorError | State::SystemError => ("FAILED", None),
        },
    };
    let body = page(
        "NCBI Blast:",
        html! {
            (info(&[("Status", status)]))
            @if let Some(hits) = hits {
                (info(&[("ThereAreHits", if hits { "yes" } else { "no" })]))
            }
            @if let Some(view) = &found {
                p { "Search " (view.record.id) ": " (view.record.state.as_str()) "." }
            }
        },
    );
    Ok(respond::page(StatusCode::OK, body))
}

/// Whether a completed search found anything: the first line of its tabular report.
async fn has_hits(app: &App, record: &Record) -> Result<bool, Refusal> {
    let limits = Limits {
        alignments: Some(1),
        descriptions: None,
    };
    let report = report(app, record, Format::Tabular, limits).await?;
    Ok(report
        .split(|&b| b == b'\n')
        .any(|line| !line.is_empty() && !line.starts_with(b"#")))
}

/// The page a client polls while the search waits or runs. Clients wait on
/// its first bytes (`<!DOCTYPE html`), its title and `Status=WAITING`.
fn waiting(view: &View, rid: &str) -> Response<Body> {
    let record = &view.record;
    let experiment = format!("/experiments/{}", record.id);
    let body = page(
        "NCBI Blast:",
        html! {
            (info(&[("Status", "WAITING")]))
            p {
                "Search " strong { (rid) } " (experiment " a href=(experiment) { (record.id) } ") is "
                @match view.position {
                    Some(position) if record.state == State::Queued => {
                        "queued, " (position) " in line"
                    }
                    _ => "running",
                }
                "; ask again in a while."
            }
        },
    );
    respond::page(StatusCode::OK, body)
}

/// `CMD=Delete`: cancels the search.
async fn delete(app: &App, fields: &Fields, viewer: &Viewer) -> Result<Response<Body>, Refusal> {
    let rid = field(fields, "RID");
    let view = search(app, fields)?.ok_or_else(|| unknown(rid))?;
    if !viewer.may_change(view.record.submitted_by.as_deref()) {
        return Err(Error::Forbidden(format!(
            "the search {rid} was submitted by {}; only they or an admin may delete it",
            view.record
                .submitted_by
                .as_deref()
                .unwrap_or("somebody else")
        ))
        .into());
    }
    let said = match app.cancel(view.record.id, viewer).await? {
        Cancel::Done(_) => "canceled",
        Cancel::Stopping(_) => "being stopped; it will end canceled",
    };
    log::info!(
        "Blast.cgi: search {rid} (experiment {}) {said}",
        view.record.id
    );
    let body = page(
        "NCBI Blast:",
        html! { p { "Search " (rid) " is " (said) "." } },
    );
    Ok(respond::page(StatusCode::OK, body))
}

/// `CMD=DisplayRIDs`: the searches this server knows, newest first.
fn display_rids(app: &App) -> Response<Body> {
    let services = app.shelf.services();
    let (views, _) = app.queue.list(&Filter {
        state: None,
        batch: None,
        submitted_by: None,
        before: None,
        limit: MAX_PAGE,
    });
    let searches: Vec<(Rid, &View)> = views
        .iter()
        .filter(|view| services.serves(&view.record.pipeline))
        .filter_map(|view| Some((Rid::of(&view.record)?, view)))
        .collect();
    let body = page(
        "NCBI Blast: searches",
        html! {
            h1 { "BLAST searches" }
            @if searches.is_empty() {
                p { "No searches yet." }
            } @else {
                table {
                    thead { tr { th { "RID" } th { "Status" } th { "Query" } th { "Pipeline" } th { "Submitted" } } }
                    tbody {
                        @for (rid, view) in &searches {
                            tr {
                                td { a href={ "/experiments/" (view.record.id) } { (rid) } }
                                td { (status_word(view.record.state)) }
                                td { (view.record.query_name) }
                                td { (view.record.pipeline) }
                                td { (view.record.submitted_at) }
                            }
                        }
                    }
                }
            }
        },
    );
    respond::page(StatusCode::OK, body)
}

fn status_word(state: State) -> &'static str {
    match state {
        State::Queued | State::Running => "WAITING",
        State::Complete => "READY",
        _ => "FAILED",
    }
}

/// A QBlastInfo block, as NCBI writes it: a comment holding `Name=value` lines.
fn info(pairs: &[(&str, &str)]) -> Markup {
    let mut text = String::from("<!--QBlastInfoBegin\n");
    for (name, value) in pairs {
        text.push_str(&format!("\t{name}={value}\n"));
    }
    text.push_str("QBlastInfoEnd\n-->\n");
    PreEscaped(text)
}

/// What a Text or Tabular report begins with (Biopython checks these bytes).
fn ready_block() -> String {
    "<p><!--\nQBlastInfoBegin\n\tStatus=READY\nQBlastInfoEnd\n--><p>\n".to_owned()
}

/// A page of the API: `<!DOCTYPE html` first, then `title`, then `content`.
fn page(title: &str, content: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                link rel="stylesheet" href="/ui/style.css";
            }
            body { main { (content) } }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocks_are_as_clients_read_them() {
        assert_eq!(
            info(&[("Status", "WAITING")]).into_string(),
            "<!--QBlastInfoBegin\n\tStatus=WAITING\nQBlastInfoEnd\n-->\n"
        );
        assert!(ready_block().starts_with("<p><!--\nQBlastInfoBegin"));
        let page = page("NCBI Blast:", info(&[("Status", "WAITING")]));
        assert!(page.starts_with("<!DOCTYPE html"), "{page}");
        assert!(page.contains("<title>NCBI Blast:</title>"), "{page}");
    }

    #[test]
    fn fields_are_read_once_by_upper_case_name() {
        let mut fields = Fields::new();
        read_pairs("CMD=Put&program=blastn&QUERY=ACGT%0AACGT", &mut fields).unwrap();
        assert_eq!(fields["PROGRAM"], "blastn");
        assert_eq!(fields["QUERY"], "ACGT\nACGT");
        let err = read_pairs("cmd=Get", &mut fields).err().unwrap();
        assert!(err.msg.contains("CMD is given twice"), "{}", err.msg);
    }
}
