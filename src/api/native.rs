//! The native JSON API: submit, list, read, cancel, files, and what this server is.

use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::call::Call;
use crate::app::{self, blocking, App, Cancel};
use crate::error::Error;
use crate::http::percent;
use crate::http::{body, respond, Body};
use crate::model::{Drain, Id, Pause, State};
use crate::queue::View;
use crate::submission::Format;

/// Experiments on one page of `GET /experiments` unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 100;

/// `POST /experiments`: 202 with the record, or with the batch when several records came.
pub async fn submit(call: Call<'_>) -> Result<Response<Body>, Error> {
    let app = call.app;
    let accepted = app
        .read_submission(call.request, &Format::ALL)
        .await
        .accepted?;
    let mut views = app.submit(accepted, call.viewer).await?;
    if views.len() == 1 {
        let view = views.remove(0);
        let location = format!("/experiments/{}", view.record.id);
        return Ok(respond::with_location(
            respond::json(StatusCode::ACCEPTED, &view),
            &location,
        ));
    }
    let batch = views[0].record.id;
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
    Ok(respond::with_location(
        respond::json(StatusCode::ACCEPTED, &body),
        &format!("/experiments?batch={batch}"),
    ))
}

/// `GET /experiments?state=&batch=&submitted_by=&mine=&limit=&page_token=`
pub async fn list(call: Call<'_>) -> Result<Response<Body>, Error> {
    let filter = app::listing(call.query(), call.viewer, |_| DEFAULT_PAGE)?;
    let (experiments, next) = call.app.queue.list(&filter);
    Ok(respond::json(
        StatusCode::OK,
        &json!({ "experiments": experiments, "next_page_token": next }),
    ))
}

/// `GET /experiments/{id}`: the record, its position while queued, and its
/// files. With `?wait=S`, it answers as soon as the experiment has finished,
/// or after S seconds (at most 300) with the record as it is then.
pub async fn experiment(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, id) = (call.app, call.id()?);
    app.experiment(id)?;
    if let Some(wait) = super::events::wait_of(call.query())? {
        super::events::until_finished(app, id, wait, call.viewer).await?;
    }
    let view = app.experiment(id)?;
    let files = app.files(id).await;
    let mut body = serde_json::to_value(&view).expect("records serialize");
    body["files"] = serde_json::to_value(files).expect("file lists serialize");
    if let Some(outbox) = app.notifier.outbox(&view.record).await {
        body["notifications"] = outbox.summary();
    }
    Ok(respond::json(StatusCode::OK, &body))
}

/// `DELETE /experiments/{id}`: cancels a queued or running experiment.
pub async fn cancel(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(match call.app.cancel(call.id()?, call.viewer).await? {
        Cancel::Done(view) => respond::json(StatusCode::OK, &view),
        Cancel::Stopping(view) => respond::json(StatusCode::ACCEPTED, &view),
    })
}

/// `POST /experiments/{id}/retry`: a new experiment with the same input,
/// pipeline and parameters; 202 with its record.
pub async fn retry(call: Call<'_>) -> Result<Response<Body>, Error> {
    let view = call.app.retry(call.id()?, call.viewer).await?;
    let location = format!("/experiments/{}", view.record.id);
    Ok(respond::with_location(
        respond::json(StatusCode::ACCEPTED, &view),
        &location,
    ))
}

/// `GET /pipelines`: what this server runs, with each pipeline's parameters
/// and whether it is ready.
pub async fn pipelines(call: Call<'_>) -> Result<Response<Body>, Error> {
    let pipelines = offered(call.app);
    Ok(respond::json(
        StatusCode::OK,
        &json!({ "pipelines": pipelines }),
    ))
}

fn offered(app: &App) -> Vec<serde_json::Value> {
    app.catalog
        .pipelines()
        .iter()
        .map(|pipeline| {
            let mut value = serde_json::to_value(&**pipeline).expect("pipelines serialize");
            let check = app.catalog.checked(&pipeline.name);
            value["available"] = check.as_ref().is_none_or(|check| check.passed).into();
            if let Some(check) = check {
                value["last_check"] = serde_json::to_value(check).expect("checks serialize");
            }
            value
        })
        .collect()
}

/// `GET /experiments/{id}/files/{name}`: one plain file of the experiment's directory.
/// With `?download=1` it is always an attachment.
pub async fn file(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (app, id, name, query_string) = (call.app, call.id()?, call.param("name"), call.query());
    app.experiment(id)?;
    let name = percent::decode(name)
        .ok_or_else(|| Error::NotFound(format!("experiment {id} has no file named '{name}'")))?;
    let download =
        query_string.is_some_and(|query| query.split('&').any(|pair| pair == "download=1"));
    let store = app.store.clone();
    let opened = name.clone();
    let (file, length) = blocking(move || store.open_file(id, &opened)).await?;
    Ok(respond::untrusted_file(
        &name,
        body::file(file, length),
        length,
        download,
    ))
}

/// `GET /experiments/{id}/results/{name}`: a result in another format, or
/// a table as a spreadsheet takes it (see `results`).
pub async fn result(call: Call<'_>) -> Result<Response<Body>, Error> {
    crate::results::download(call.app, call.id()?, call.param("name"), call.query()).await
}

/// The queue as `GET /queue` and `GET /service-info` show it.
#[derive(Serialize)]
pub struct QueueState {
    pub paused: bool,
    /// Why, who and since when, while paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    /// Whether new submissions are refused while what is queued finishes.
    pub draining: bool,
    /// Why, who and since when, while draining.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<Drain>,
    pub queued: usize,
    pub running: usize,
    pub capacity: usize,
    /// The experiment that runs next.
    pub head: Option<Id>,
    /// The experiment running now.
    pub current: Option<Id>,
}

pub fn queue_state(app: &App) -> QueueState {
    let backlog = app.queue.backlog();
    let (head, current) = app.queue.head();
    let pause = app.queue.paused();
    let drain = app.queue.drained();
    QueueState {
        paused: pause.is_some(),
        pause,
        draining: drain.is_some(),
        drain,
        queued: backlog.queued,
        running: backlog.running,
        capacity: app.queue.capacity(),
        head,
        current,
    }
}

/// `GET /queue`: paused or running, why, the counts and the head.
pub async fn queue(call: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(respond::json(StatusCode::OK, &queue_state(call.app)))
}

/// `POST /queue/pause?reason=`: nothing new starts (a running experiment
/// finishes); submissions are still taken.
pub async fn pause(call: Call<'_>) -> Result<Response<Body>, Error> {
    let reason = app::reason_of(call.query(), "paused by an operator")?;
    call.app.pause(reason, call.viewer).await?;
    Ok(respond::json(StatusCode::OK, &queue_state(call.app)))
}

/// `POST /queue/resume`: lifts the pause, whoever set it, and wakes the worker.
pub async fn resume(call: Call<'_>) -> Result<Response<Body>, Error> {
    call.app.resume(call.viewer).await?;
    Ok(respond::json(StatusCode::OK, &queue_state(call.app)))
}

/// `GET /service-info`: what this server is and how full it is.
pub async fn service_info(call: Call<'_>) -> Result<Response<Body>, Error> {
    let app = call.app;
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
        /// Who may do what: `open`, `members` or `closed`.
        access: &'static str,
        /// Days a finished experiment is kept; `null`: for ever.
        retention_days: Option<u32>,
        backlog: usize,
        counts: serde_json::Map<String, serde_json::Value>,
        queue: QueueState,
        pipelines: Vec<serde_json::Value>,
    }
    let config = &app.config;
    let counts = app.queue.counts();
    let counts = State::ALL
        .iter()
        .map(|state| (state.as_str().to_owned(), counts[state.index()].into()))
        .collect();
    Ok(respond::json(
        StatusCode::OK,
        &Info {
            name: "seqspool",
            version: env!("CARGO_PKG_VERSION"),
            command: &app.catalog.pipelines()[0].definition.label(),
            experiments_dir: app.store.root().display().to_string(),
            capacity: config.capacity,
            timeout_secs: config.timeout.map(|t| t.as_secs_f64()),
            max_body: config.max_body,
            max_records: config.max_records,
            max_residues: config.max_residues,
            alphabet: format!("{:?}", config.alphabet).to_lowercase(),
            access: app.access.mode.as_str(),
            retention_days: config.retention_days,
            backlog: app.queue.backlog().total(),
            counts,
            queue: queue_state(app),
            pipelines: offered(app),
        },
    ))
}

/// `GET /notifications/secret`: the secret the receivers of whoever asks
/// verify with (see `notify`), never stored by a cache.
pub async fn notification_secret(call: Call<'_>) -> Result<Response<Body>, Error> {
    let (who, secret) = call.app.notification_secret(call.viewer).await?;
    let mut response = respond::json(
        StatusCode::OK,
        &json!({ "signed_for": who, "secret": secret.to_text() }),
    );
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
