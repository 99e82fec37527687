//! Routing, and one small function per route.
//!
//! Handlers answer from the in-memory index, or hand queries to the intake and
//! wait only for their experiments to be durable: none waits on the worker or
//! on a processing command. File operations run on tokio's blocking pool.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Config;
use crate::error::Error;
use crate::http::{self, Body};
use crate::intake::Intake;
use crate::query::{self, Limits, Query};
use crate::queue::{Canceled, Filter, Queue, View};
use crate::store::{Id, Record, State, Store};
use crate::ui;

/// Experiments on one page of `GET /experiments` unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 100;
/// The largest page a client may ask for: a listing is built under the index lock.
const MAX_PAGE: usize = 1000;

/// Everything the handlers share.
pub struct App {
    pub config: Arc<Config>,
    pub limits: Limits,
    pub store: Arc<Store>,
    pub queue: Arc<Queue>,
    pub intake: Intake,
    /// The memory request bodies may hold, across all connections.
    pub bodies: http::BodyBudget,
}

/// Answers one request.
pub async fn handle(app: &App, request: Request<Incoming>) -> Response<Body> {
    match route(app, request).await {
        Ok(response) => response,
        Err(err) => http::error_response(&err),
    }
}

async fn route(app: &App, request: Request<Incoming>) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(&path).split('/').collect();
    let method = request.method().clone();
    // A browser gets pages from the routes scripts get JSON from.
    let html = ui::wants_html(request.headers());
    // A page of another site must not fill the lab's queue or cancel its work
    // through the browser of someone in the lab. (Scripts send no Origin; the
    // page's cancel form answers a foreign one with a confirmation page.)
    let writes = method == Method::POST || method == Method::DELETE;
    if writes
        && !matches!(segments.as_slice(), ["experiments", _, "cancel"])
        && !ui::same_origin(request.headers())
    {
        return Err(Error::Forbidden(
            "this request came from a page of another site; submit from this server's own page, or from a script"
                .into(),
        ));
    }
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => Ok(ui::or_error(home(app, request.uri().query()))),
        ([""], &Method::POST) => submit_legacy(app, request).await,
        ([""], _) => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        (["backlog"] | ["backlog", ""], &Method::GET) => Ok(backlog(app)),
        (["backlog"] | ["backlog", ""], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        (["experiments"], &Method::GET) if html => {
            Ok(ui::or_error(list_page(app, request.uri().query())))
        }
        (["experiments"], &Method::GET) => list(app, request.uri().query()),
        (["experiments"], &Method::POST) if html => Ok(submit_from_page(app, request).await),
        (["experiments"], &Method::POST) => submit(app, request).await,
        (["experiments"], _) => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        (["experiments", id], &Method::GET) if html => {
            Ok(ui::or_error(experiment_page(app, id).await))
        }
        (["experiments", id], &Method::GET) => experiment(app, parse_id(id)?).await,
        (["experiments", id], &Method::DELETE) => cancel(app, parse_id(id)?).await,
        (["experiments", _], _) => Err(Error::MethodNotAllowed {
            allow: "GET, DELETE",
        }),
        (["experiments", id, "cancel"], &Method::POST) => {
            Ok(ui::or_error(cancel_from_page(app, id, request).await))
        }
        (["experiments", _, "cancel"], _) => Err(Error::MethodNotAllowed { allow: "POST" }),
        (["ui", name], &Method::GET) => ui::asset(name),
        (["ui", _], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        (["experiments", id, "files", name], &Method::GET) => file(app, parse_id(id)?, name).await,
        (["experiments", _, "files", _], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        (["service-info"], &Method::GET) => Ok(service_info(app)),
        (["service-info"], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        _ => Err(Error::NotFound(format!(
            "no route {path}; see GET /service-info for what this server offers"
        ))),
    }
}

/// `GET /?state=&page_token=`: the lab's page: the form, the backlog, the experiments.
fn home(app: &App, query_string: Option<&str>) -> Result<Response<Body>, Error> {
    let filter = filter(query_string, |_| ui::PAGE)?;
    Ok(home_page(
        app,
        &filter,
        &ui::Form::default(),
        StatusCode::OK,
    ))
}

fn home_page(app: &App, filter: &Filter, form: &ui::Form, status: StatusCode) -> Response<Body> {
    let (experiments, next_page) = app.queue.list(filter);
    let html = ui::home(&ui::Home {
        listing: ui::Listing::new(&experiments, next_page, filter),
        backlog: app.queue.backlog(),
        command: app.config.command_label(),
        max_residues: app.config.max_residues,
        max_records: app.config.max_records,
        form,
    });
    ui::page(status, html)
}

/// `POST /`: the answer the FastAPI server this grew from gave, for its scripts.
async fn submit_legacy(app: &App, request: Request<Incoming>) -> Result<Response<Body>, Error> {
    let queries = read_queries(app, request, &[FORM]).await?;
    if queries.len() > 1 {
        return Err(Error::Invalid {
            field: "query_sequence",
            msg: format!("holds {} FASTA records; POST / takes one sequence, POST /experiments takes a batch", queries.len()),
        });
    }
    let query = queries[0].clone();
    let record = app.intake.submit(queries).await?.remove(0);
    let id = record.id.to_string();
    let body = json!({
        "Query created": {
            "query_name": record.query_name,
            "query_sequence": query.sequence(),
            "experiment_id": id,
            "status": "pending",
            "experiment_dir": app.store.dir(record.id),
        },
        "Query ID": id,
        "Backlog Length": app.queue.backlog().total(),
    });
    Ok(with_location(
        http::json(StatusCode::OK, &body),
        &format!("/experiments/{id}"),
    ))
}

/// `POST /experiments`: 202 with the record, or with the batch when several records came.
async fn submit(app: &App, request: Request<Incoming>) -> Result<Response<Body>, Error> {
    let queries = read_queries(
        app,
        request,
        &[FORM, JSON, MULTIPART, FASTA, FASTA_APPLICATION],
    )
    .await?;
    let records = app.intake.submit(queries).await?;
    // The record as the index has it now, with its queue position.
    let view = |record: &Record| {
        app.queue.get(record.id).unwrap_or_else(|| View {
            record: record.clone(),
            position: None,
        })
    };
    if let [record] = records.as_slice() {
        let view = view(record);
        let location = format!("/experiments/{}", record.id);
        return Ok(with_location(
            http::json(StatusCode::ACCEPTED, &view),
            &location,
        ));
    }
    let batch = records[0].id;
    let views: Vec<View> = records.iter().map(view).collect();
    // A struct, not json!: its records keep their field order (id first), as single answers do.
    #[derive(Serialize)]
    struct Batch {
        batch: Id,
        count: usize,
        experiments: Vec<View>,
    }
    let body = Batch {
        batch,
        count: views.len(),
        experiments: views,
    };
    Ok(with_location(
        http::json(StatusCode::ACCEPTED, &body),
        &format!("/experiments?batch={batch}"),
    ))
}

/// `POST /experiments` from the page's form: 303 to the new experiment or
/// batch, or the form again, filled in, with the error beside its field.
async fn submit_from_page(app: &App, request: Request<Incoming>) -> Response<Body> {
    let (input, accepted) = match read_submission(app, request, &[FORM, MULTIPART]).await {
        Err(err) => (ui::Input::default(), Err(err)),
        Ok(submission) => {
            let input = ui::Input::read(&submission.body, &submission.content_type).await;
            let accepted = match parse_queries(submission, &app.limits).await {
                Ok(queries) => app.intake.submit(queries).await,
                Err(err) => Err(err),
            };
            (input, accepted)
        }
    };
    match accepted.as_deref() {
        Ok([record]) => ui::see_other(&format!("/experiments/{}", record.id)),
        Ok(records) => ui::see_other(&format!("/experiments?batch={}", records[0].id)),
        Err(err) => {
            let first_page = Filter {
                limit: ui::PAGE,
                ..Filter::default()
            };
            home_page(
                app,
                &first_page,
                &ui::Form::failed(input, err),
                err.status(),
            )
        }
    }
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
/// A browser form with a file picker (`<input type=file>`), or `curl -F file=@plate.fasta`.
const MULTIPART: &str = "multipart/form-data";
/// A FASTA file as the whole body, as `curl --data-binary @plate.fasta` sends it.
const FASTA: &str = "text/x-fasta";
/// The other name FASTA goes by; clients use both.
const FASTA_APPLICATION: &str = "application/x-fasta";

/// The two fields every submission format carries.
#[derive(Deserialize)]
struct Fields {
    query_name: Option<String>,
    query_sequence: Option<String>,
}

/// Reads and validates a submission body in one of the `accepted` content types.
async fn read_queries(
    app: &App,
    request: Request<Incoming>,
    accepted: &[&'static str],
) -> Result<Vec<Query>, Error> {
    let submission = read_submission(app, request, accepted).await?;
    parse_queries(submission, &app.limits).await
}

/// A submission's body, read within `--max-body`, and what it says it is.
struct Submission {
    /// The media type, one of those the route accepts.
    kind: &'static str,
    /// The whole `Content-Type`, whose boundary a multipart body needs.
    content_type: String,
    body: bytes::Bytes,
    /// The body's share of the memory budget, held while it is parsed.
    budget: http::BodyPermit,
}

/// Reads a submission body in one of the `accepted` content types.
async fn read_submission(
    app: &App,
    request: Request<Incoming>,
    accepted: &[&'static str],
) -> Result<Submission, Error> {
    let media = media_type(&request);
    let Some(kind) = accepted.iter().copied().find(|kind| *kind == media) else {
        return Err(Error::UnsupportedMediaType(format!(
            "content type '{media}' is not taken here; send {}",
            accepted.join(" or ")
        )));
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (body, budget) = http::read_body(request, app.config.max_body, &app.bodies).await?;
    Ok(Submission {
        kind,
        content_type,
        body,
        budget,
    })
}

/// Parses a submission into queries, all or none.
async fn parse_queries(submission: Submission, limits: &Limits) -> Result<Vec<Query>, Error> {
    // `_budget` (not `_`) keeps the body's share of the budget until this returns.
    let Submission {
        kind,
        content_type,
        body,
        budget: _budget,
    } = submission;
    let fields: Fields = match kind {
        FORM => parse_form(&body)?,
        JSON => parse_json(&body)?,
        MULTIPART => return read_upload(body, &content_type, limits).await,
        _ => {
            let limits = *limits;
            // A plate of thousands of records takes milliseconds to check:
            // not on a thread that answers other clients meanwhile.
            return blocking(move || {
                let text = std::str::from_utf8(&body).map_err(|err| {
                    Error::BadRequest(format!(
                        "the FASTA body is not UTF-8 text (a bad byte at offset {}); send a plain-text FASTA file",
                        err.valid_up_to()
                    ))
                })?;
                query::parse_fasta(text, &limits)
            })
            .await;
        }
    };
    query::parse_submission(
        fields.query_name.as_deref(),
        fields.query_sequence.as_deref(),
        limits,
    )
}

/// Reads a form-encoded body strictly: a field that is not UTF-8 once
/// percent-decoded is refused, not replaced with U+FFFD, and so is a field given twice.
fn parse_form(body: &[u8]) -> Result<Fields, Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::BadRequest("the form is not valid UTF-8".into()))?;
    for piece in text.split('&').flat_map(|pair| pair.split('=')) {
        if percent_decode(&piece.replace('+', " ")).is_none() {
            return Err(Error::BadRequest(format!(
                "malformed form: '{piece}' is not valid percent-encoded UTF-8"
            )));
        }
    }
    serde_urlencoded::from_str(text)
        .map_err(|err| Error::BadRequest(format!("malformed form: {err}")))
}

/// Reads a JSON body, which must be an object with the fields by name.
fn parse_json(body: &[u8]) -> Result<Fields, Error> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|err| Error::BadRequest(format!("malformed JSON: {err}")))?;
    if !value.is_object() {
        return Err(Error::BadRequest(
            "malformed JSON: send an object, {\"query_name\": ..., \"query_sequence\": ...}".into(),
        ));
    }
    serde_json::from_value(value).map_err(|err| Error::BadRequest(format!("malformed JSON: {err}")))
}

/// Reads a form upload: a FASTA file (the part named `file` or `fasta`, or any
/// part with a file name) whose records are the queries, or, when no file was
/// chosen, the `query_name` and `query_sequence` text fields the same form
/// carries, read as a form-encoded submission would be.
async fn read_upload(
    body: bytes::Bytes,
    content_type: &str,
    limits: &Limits,
) -> Result<Vec<Query>, Error> {
    let malformed =
        |err: multer::Error| Error::BadRequest(format!("malformed multipart form: {err}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    // The body is in memory already, within --max-body: multer reads it as a one-chunk stream.
    let chunks = http_body_util::BodyExt::into_data_stream(http_body_util::Full::new(body));
    let mut form = multer::Multipart::new(chunks, boundary);
    let mut fields = Fields {
        query_name: None,
        query_sequence: None,
    };
    let mut files = Vec::new();
    while let Some(part) = form.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or_default().to_owned();
        let is_file = part.file_name().is_some() || name == "file" || name == "fasta";
        let data = part.bytes().await.map_err(malformed)?;
        if is_file {
            // A browser sends an empty part (filename="") when no file was chosen.
            if !data.is_empty() {
                files.push(data);
            }
            continue;
        }
        let slot = match name.as_str() {
            "query_name" => &mut fields.query_name,
            "query_sequence" => &mut fields.query_sequence,
            // A submit button's value and the like: not ours to judge.
            _ => continue,
        };
        let text = std::str::from_utf8(&data).map_err(|_| {
            Error::BadRequest(format!("the form field '{name}' is not valid UTF-8"))
        })?;
        *slot = Some(text.to_owned());
    }
    let pasted = fields
        .query_sequence
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    match files.as_slice() {
        [] => query::parse_submission(
            fields.query_name.as_deref(),
            fields.query_sequence.as_deref(),
            limits,
        ),
        [_] if pasted => Err(Error::Invalid {
            field: "file",
            msg: "came with a pasted sequence too; send either a FASTA file or a pasted sequence"
                .into(),
        }),
        [file] => {
            let text = std::str::from_utf8(file).map_err(|err| Error::Invalid {
                field: "file",
                msg: format!(
                    "is not UTF-8 text (a bad byte at offset {}); upload a plain-text FASTA file, not a compressed or word-processor one",
                    err.valid_up_to()
                ),
            })?;
            // The records' problems are the file's, whatever field a pasted text would name.
            query::parse_fasta(text, limits).map_err(|err| match err {
                Error::Invalid { msg, .. } => Error::Invalid { field: "file", msg },
                other => other,
            })
        }
        _ => Err(Error::Invalid {
            field: "file",
            msg: format!(
                "{} files were uploaded; send one FASTA file (its records make a batch)",
                files.len()
            ),
        }),
    }
}

/// The request's media type, lower case, without parameters (`; charset=...`).
fn media_type(request: &Request<Incoming>) -> String {
    let value = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn backlog(app: &App) -> Response<Body> {
    let count = app.queue.backlog().total();
    http::json(
        StatusCode::OK,
        &[format!("Currently {count} jobs in the backlog.")],
    )
}

/// `GET /experiments?state=&batch=&limit=&page_token=`
fn list(app: &App, query_string: Option<&str>) -> Result<Response<Body>, Error> {
    let filter = filter(query_string, |_| DEFAULT_PAGE)?;
    let (experiments, next) = app.queue.list(&filter);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "experiments": experiments, "next_page_token": next }),
    ))
}

/// `GET /experiments?batch=` (or another filter) from a browser: a batch's page.
fn list_page(app: &App, query_string: Option<&str>) -> Result<Response<Body>, Error> {
    let filter = filter(query_string, |batch| match batch {
        Some(_) => ui::BATCH_PAGE,
        None => ui::PAGE,
    })?;
    let (experiments, next_page) = app.queue.list(&filter);
    let html = ui::listing(&ui::Listing::new(&experiments, next_page, &filter));
    Ok(ui::page(StatusCode::OK, html))
}

/// The listing `?state=&batch=&limit=&page_token=` asks for; without a
/// `limit`, `page` says how many, given the batch asked for.
fn filter(
    query_string: Option<&str>,
    page: impl FnOnce(Option<Id>) -> usize,
) -> Result<Filter, Error> {
    #[derive(Deserialize)]
    struct Params {
        state: Option<String>,
        batch: Option<String>,
        limit: Option<usize>,
        page_token: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::BadRequest(format!("malformed query string: {err}")))?;
    let state = match params.state.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<State>().map_err(|()| {
            let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            Error::BadRequest(format!(
                "state '{text}' is not one of {}",
                states.join(", ")
            ))
        })?),
    };
    let id_param = |name: &str, text: Option<String>| -> Result<Option<Id>, Error> {
        text.filter(|t| !t.is_empty())
            .map(|t| {
                t.parse().map_err(|()| {
                    Error::BadRequest(format!("{name} '{t}' is not an experiment id"))
                })
            })
            .transpose()
    };
    let batch = id_param("batch", params.batch)?;
    let limit = params.limit.unwrap_or_else(|| page(batch));
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(Filter {
        state,
        batch,
        before: id_param("page_token", params.page_token)?,
        limit,
    })
}

/// `GET /experiments/{id}`: the record, its position while queued, and its files.
async fn experiment(app: &App, id: Id) -> Result<Response<Body>, Error> {
    let view = app.queue.get(id).ok_or_else(|| no_experiment(id))?;
    let store = app.store.clone();
    let files = blocking(move || store.files(id)).await.unwrap_or_default();
    let mut body = serde_json::to_value(&view).expect("records serialize");
    body["files"] = serde_json::to_value(files).expect("file lists serialize");
    Ok(http::json(StatusCode::OK, &body))
}

/// `DELETE /experiments/{id}`: cancels a queued or running experiment.
async fn cancel(app: &App, id: Id) -> Result<Response<Body>, Error> {
    match app.queue.cancel(id)? {
        Canceled::Done { record, changed } => {
            if changed {
                let store = app.store.clone();
                let written = record.clone();
                if let Err(err) = blocking(move || store.write_record(&written)).await {
                    // Not on disk, so not canceled: after a restart it would run.
                    app.queue.uncancel(id);
                    return Err(err);
                }
                log::info!("experiment {id} canceled while queued");
            }
            Ok(http::json(
                StatusCode::OK,
                &View {
                    record,
                    position: None,
                },
            ))
        }
        Canceled::Stopping(view) => {
            log::info!("experiment {id}: cancel requested while running; stopping its command");
            Ok(http::json(StatusCode::ACCEPTED, &view))
        }
    }
}

/// `GET /experiments/{id}` from a browser: the record in words, its files and
/// the last lines of its logs.
async fn experiment_page(app: &App, id: &str) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    let view = app.queue.get(id).ok_or_else(|| no_experiment(id))?;
    let store = app.store.clone();
    let (files, logs) = blocking(move || {
        let files = store.files(id).unwrap_or_default();
        Ok((files, ui::Logs::read(&store, id)))
    })
    .await?;
    let dir = app.store.dir(id).display().to_string();
    Ok(ui::page(
        StatusCode::OK,
        ui::experiment(&view, &files, &logs, &dir),
    ))
}

/// `POST /experiments/{id}/cancel`: the page's Cancel button. With
/// `confirmed=yes` (set by the script once the user said yes, or by the
/// confirmation page's button) it cancels and goes back to the experiment;
/// without (no JavaScript, or a form from another site) it asks first.
async fn cancel_from_page(
    app: &App,
    id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    let view = app.queue.get(id).ok_or_else(|| no_experiment(id))?;
    let same_origin = ui::same_origin(request.headers());
    let (body, _budget) = http::read_body(request, ui::CANCEL_FORM_MAX, &app.bodies).await?;
    if !(same_origin && ui::confirmed(&body)) {
        return Ok(ui::page(StatusCode::OK, ui::cancel_confirmation(&view)));
    }
    match cancel(app, id).await {
        // Finished meanwhile: its page says how it ended.
        Ok(_) | Err(Error::Conflict(_)) => Ok(ui::see_other(&format!("/experiments/{id}"))),
        Err(err) => Err(err),
    }
}

/// `GET /experiments/{id}/files/{name}`: one plain file of the experiment's directory.
async fn file(app: &App, id: Id, name: &str) -> Result<Response<Body>, Error> {
    if app.queue.get(id).is_none() {
        return Err(no_experiment(id));
    }
    let name = percent_decode(name)
        .ok_or_else(|| Error::NotFound(format!("experiment {id} has no file named '{name}'")))?;
    let store = app.store.clone();
    let opened = name.clone();
    let (file, length) = blocking(move || store.open_file(id, &opened)).await?;
    let mut response = Response::new(http::file_body(file, length));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // A result file is data, never a page of this site: no sniffing it into HTML.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    Ok(response)
}

/// `GET /service-info`: what this server is and how full it is.
fn service_info(app: &App) -> Response<Body> {
    #[derive(Serialize)]
    struct Info<'a> {
        name: &'static str,
        version: &'static str,
        command: &'a str,
        experiments_dir: String,
        capacity: usize,
        timeout_secs: Option<f64>,
        max_body: usize,
        max_records: usize,
        max_residues: usize,
        alphabet: String,
        backlog: usize,
        counts: serde_json::Map<String, serde_json::Value>,
    }
    let config = &app.config;
    let counts = app.queue.counts();
    let counts = State::ALL
        .iter()
        .map(|state| (state.as_str().to_owned(), counts[state.index()].into()))
        .collect();
    http::json(
        StatusCode::OK,
        &Info {
            name: "seqspool",
            version: env!("CARGO_PKG_VERSION"),
            command: config.command_label(),
            experiments_dir: app.store.root().display().to_string(),
            capacity: config.capacity,
            timeout_secs: config.timeout.map(|t| t.as_secs_f64()),
            max_body: config.max_body,
            max_records: config.max_records,
            max_residues: config.max_residues,
            alphabet: format!("{:?}", config.alphabet).to_lowercase(),
            backlog: app.queue.backlog().total(),
            counts,
        },
    )
}

fn parse_id(text: &str) -> Result<Id, Error> {
    text.parse()
        .map_err(|()| Error::NotFound(format!("no experiment '{text}'")))
}

fn no_experiment(id: Id) -> Error {
    Error::NotFound(format!("no experiment {id}"))
}

fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Runs a file operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| Error::Internal(format!("a file operation failed: {err}")))?
}

/// The content type a result file is served with, by its extension.
fn content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "json" => "application/json",
        "txt" | "tsv" | "csv" | "fasta" | "fa" | "faa" | "fna" | "log" | "out" | "gff" | "gff3"
        | "bed" | "sam" | "vcf" | "aln" | "html" | "htm" | "svg" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "pdb" | "cif" => "chemical/x-pdb",
        "png" => "image/png",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes in a path segment; `None` if one is malformed or the
/// result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_decoded_strictly() {
        assert_eq!(
            percent_decode("hits%20top.tsv").as_deref(),
            Some("hits top.tsv")
        );
        assert_eq!(percent_decode("%2e%2e").as_deref(), Some(".."));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn pages_and_pictures_are_never_served_as_html() {
        assert_eq!(content_type("report.HTML"), "text/plain; charset=utf-8");
        assert_eq!(content_type("analysis.json"), "application/json");
        assert_eq!(content_type("model"), "application/octet-stream");
    }
}
