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
use crate::store::{Id, State, Store};

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
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => Ok(home()),
        ([""], &Method::POST) => submit_legacy(app, request).await,
        ([""], _) => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        (["backlog"] | ["backlog", ""], &Method::GET) => Ok(backlog(app)),
        (["backlog"] | ["backlog", ""], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        (["experiments"], &Method::GET) => list(app, request.uri().query()),
        (["experiments"], &Method::POST) => submit(app, request).await,
        (["experiments"], _) => Err(Error::MethodNotAllowed { allow: "GET, POST" }),
        (["experiments", id], &Method::GET) => experiment(app, parse_id(id)?).await,
        (["experiments", id], &Method::DELETE) => cancel(app, parse_id(id)?).await,
        (["experiments", _], _) => Err(Error::MethodNotAllowed {
            allow: "GET, DELETE",
        }),
        (["experiments", id, "files", name], &Method::GET) => file(app, parse_id(id)?, name).await,
        (["experiments", _, "files", _], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        (["service-info"], &Method::GET) => Ok(service_info(app)),
        (["service-info"], _) => Err(Error::MethodNotAllowed { allow: "GET" }),
        _ => Err(Error::NotFound(format!(
            "no route {path}; see GET /service-info for what this server offers"
        ))),
    }
}

fn home() -> Response<Body> {
    http::whole(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "seqspool is running.\nPOST a sequence to /experiments (query_name, query_sequence); GET /service-info describes this server.\n",
    )
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
    if let [record] = records.as_slice() {
        let view = app.queue.get(record.id).unwrap_or(View {
            record: record.clone(),
            position: None,
        });
        let location = format!("/experiments/{}", record.id);
        return Ok(with_location(
            http::json(StatusCode::ACCEPTED, &view),
            &location,
        ));
    }
    let batch = records[0].id;
    let views: Vec<View> = records
        .iter()
        .map(|r| {
            app.queue.get(r.id).unwrap_or(View {
                record: r.clone(),
                position: None,
            })
        })
        .collect();
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
    accepted: &[&str],
) -> Result<Vec<Query>, Error> {
    let content_type = media_type(&request);
    let Some(kind) = accepted.iter().copied().find(|kind| *kind == content_type) else {
        return Err(Error::UnsupportedMediaType(format!(
            "content type '{content_type}' is not taken here; send {}",
            accepted.join(" or ")
        )));
    };
    // A multipart body needs the boundary, a parameter of the header the body consumes.
    let header = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = http::read_body(request, app.config.max_body).await?;
    let fields: Fields = match kind {
        FORM => parse_form(&body)?,
        JSON => parse_json(&body)?,
        MULTIPART => return read_upload(body, &header, &app.limits).await,
        _ => {
            let text = std::str::from_utf8(&body).map_err(|err| {
                Error::BadRequest(format!(
                    "the FASTA body is not UTF-8 text (a bad byte at offset {}); send a plain-text FASTA file",
                    err.valid_up_to()
                ))
            })?;
            return query::parse_fasta(text, &app.limits);
        }
    };
    query::parse_submission(
        fields.query_name.as_deref(),
        fields.query_sequence.as_deref(),
        &app.limits,
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
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let filter = Filter {
        state,
        batch: id_param("batch", params.batch)?,
        before: id_param("page_token", params.page_token)?,
        limit,
    };
    let (experiments, next) = app.queue.list(&filter);
    Ok(http::json(
        StatusCode::OK,
        &json!({ "experiments": experiments, "next_page_token": next }),
    ))
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
                log::info!("experiment {id} canceled while queued");
                let store = app.store.clone();
                let written = record.clone();
                if let Err(err) = blocking(move || store.write_record(&written)).await {
                    log::error!("experiment {id}: could not record CANCELED: {err}");
                }
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
