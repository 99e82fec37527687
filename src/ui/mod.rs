//! The lab's web pages: the home page (submit, the backlog, the experiments),
//! one experiment, a batch, sign-in, and the cancel confirmation; their handlers here,
//! their HTML in [`pages`].
//!
//! Pages are rendered on the server, so they work without JavaScript; the
//! stylesheet, the script and the icon are embedded in the binary and served
//! from `/ui/`, so nothing comes from the network and the page policy
//! (`http::respond`) can allow nothing else. The script only adds to a page:
//! local times, following the server's events (`GET /events`; a slow poll of
//! the JSON API only where a browser cannot), the last lines of a running
//! experiment's logs, a confirmation before a cancel, and
//! on the form only the chosen pipeline's parameters (the others hidden and
//! disabled, so they are not sent). An experiment's page also loads
//! `results.js` for its results ([`results`]): sorting, copying, and
//! showing them when the experiment ends while the page is open; a batch's
//! page `batch.js`; a form that offers databases (the built-in BLAST's)
//! `databases.js`: one list of them, and the programs narrowed to those
//! that fit the databases ticked and the sequence pasted.

mod notifications;
mod pages;
mod results;
mod sign_in;

pub(crate) use notifications::secret as notification_secret;
pub(crate) use sign_in::{sign_in, sign_in_form, sign_in_required, sign_in_to_submit, sign_out};

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use crate::access::Viewer;
use crate::app::{self, blocking, parse_id, App};
use crate::error::Error;
use crate::http::negotiate::same_origin;
use crate::http::{body, respond, Body};
use crate::model::Id;
use crate::queue::Filter;
use crate::submission::Format;
use pages::{Batch, Experiment, Form, Frame, Home, Input, Listing, Logs, BATCH_PAGE, PAGE};

/// The largest body the cancel form may send (one hidden field).
const CANCEL_FORM_MAX: usize = 1024;
/// Lines of `stdout.txt` and `stderr.txt` a page shows (`app.js` shows as many).
const LOG_LINES: usize = 40;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");
const RESULTS_SCRIPT: &str = include_str!("results.js");
/// The batch page's own script: its counts, bar and rows kept current.
const BATCH_SCRIPT: &str = include_str!("batch.js");
/// The form's databases as one choice, narrowing the programs offered.
const DATABASES_SCRIPT: &str = include_str!("databases.js");
const ICON: &str = include_str!("icon.svg");

/// `GET /?state=&page_token=`: the lab's page: the form, the backlog, the experiments.
pub(crate) fn home(
    app: &App,
    query_string: Option<&str>,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let filter = app::listing(query_string, viewer, |_| PAGE)?;
    Ok(respond::page(
        StatusCode::OK,
        home_page(app, &filter, &Form::default(), viewer).into_string(),
    ))
}

fn home_page(app: &App, filter: &Filter, form: &Form, viewer: &Viewer) -> maud::Markup {
    let (experiments, next_page) = app.queue.list(filter);
    pages::home(
        &frame(app, viewer),
        &Home {
            listing: Listing::new(&experiments, next_page, filter).for_viewer(viewer),
            backlog: app.queue.backlog(),
            pipelines: &app.catalog.pipelines(),
            alphabet: app.limits.alphabet,
            max_residues: app.config.max_residues,
            max_records: app.config.max_records,
            form,
        },
    )
}

/// `GET /experiments?batch=` from a browser: a batch's page; with another
/// filter, the experiments it lists.
pub(crate) async fn listing(
    app: &App,
    query_string: Option<&str>,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let filter = app::listing(query_string, viewer, |batch| match batch {
        Some(_) => BATCH_PAGE,
        None => PAGE,
    })?;
    if let Some(batch) = filter.batch {
        return batch_page(app, batch, &filter, viewer).await;
    }
    let (experiments, next_page) = app.queue.list(&filter);
    let listing = Listing::new(&experiments, next_page, &filter).for_viewer(viewer);
    let html = pages::listing(&frame(app, viewer), &listing);
    Ok(respond::page(StatusCode::OK, html.into_string()))
}

/// `GET /batches/{id}` from a browser: the batch's page.
pub(crate) async fn batch(
    app: &App,
    id: &str,
    query_string: Option<&str>,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let batch = id
        .parse()
        .map_err(|()| Error::NotFound(format!("no batch '{id}'")))?;
    let filter = app::listing(query_string, viewer, |_| BATCH_PAGE)?;
    batch_page(app, batch, &filter, viewer).await
}

/// A batch's page: its experiments in submission order (a plate reads from
/// A01 to H12), so its page token is the last id of the page before.
async fn batch_page(
    app: &App,
    batch: Id,
    filter: &Filter,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let plate = crate::results::plate::plate(app, batch, filter.before, filter.limit).await?;
    let page = Batch {
        plate: &plate,
        page_token: filter.before,
        limit: filter.limit,
    };
    Ok(respond::page(
        StatusCode::OK,
        pages::batch(&frame(app, viewer), &page).into_string(),
    ))
}

/// `POST /experiments` from the page's form: 303 to the new experiment or
/// batch, or the form again, filled in, with the error beside its field.
pub(crate) async fn submit(
    app: &App,
    request: Request<Incoming>,
    viewer: &Viewer,
) -> Response<Body> {
    let submission = app
        .read_submission(request, &[Format::Form, Format::Multipart])
        .await;
    let accepted = match submission.accepted {
        Ok(accepted) => app.submit(accepted, viewer).await,
        Err(err) => Err(err),
    };
    match accepted.as_deref() {
        Ok([view]) => respond::see_other(&format!("/experiments/{}", view.record.id)),
        Ok(views) => respond::see_other(&format!("/experiments?batch={}", views[0].record.id)),
        Err(err) => {
            let form = Form::failed(Input::from(submission.fields), err);
            let page = home_page(app, &first_page(), &form, viewer);
            respond::error(err, Some(page.into_string()))
        }
    }
}

/// The home page's first page of experiments, whatever the request asked.
fn first_page() -> Filter {
    Filter {
        limit: PAGE,
        ..Filter::default()
    }
}

/// `GET /experiments/{id}` from a browser: the record in words, its files and
/// the last lines of its logs.
pub(crate) async fn experiment(
    app: &App,
    id: &str,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    let view = app.experiment(id)?;
    let store = app.store.clone();
    let (files, logs) = blocking(move || {
        let files = store.files(id).unwrap_or_default();
        let logs = Logs {
            stdout: store.tail(id, "stdout.txt", LOG_LINES),
            stderr: store.tail(id, "stderr.txt", LOG_LINES),
        };
        Ok((files, logs))
    })
    .await?;
    let dir = app.store.dir(id).display().to_string();
    // Its title, while this server still offers the pipeline it ran in.
    let pipeline = app.catalog.get(&view.record.pipeline);
    let results = results::section(
        &view.record,
        &crate::results::section(app, &view, &files).await,
    );
    let outbox = app.notifier.outbox(&view.record).await;
    let page = Experiment {
        view: &view,
        pipeline: pipeline.as_deref(),
        files: &files,
        logs: &logs,
        dir: &dir,
        results,
        outbox: outbox.as_ref(),
    };
    Ok(respond::page(
        StatusCode::OK,
        pages::experiment(&frame(app, viewer), &page).into_string(),
    ))
}

/// `POST /experiments/{id}/cancel`: the page's Cancel button. With
/// `confirmed=yes` (set by the script once the user said yes, or by the
/// confirmation page's button) it cancels and goes back to the experiment;
/// without (no JavaScript, or a form from another site) it asks first.
pub(crate) async fn cancel(
    app: &App,
    id: &str,
    request: Request<Incoming>,
    viewer: &Viewer,
) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    let view = app.experiment(id)?;
    let same_origin = same_origin(request.headers());
    let (body, _budget) = body::read(request, CANCEL_FORM_MAX, &app.bodies).await?;
    if !(same_origin && confirmed(&body)) {
        return Ok(respond::page(
            StatusCode::OK,
            pages::cancel_confirmation(&frame(app, viewer), &view).into_string(),
        ));
    }
    match app.cancel(id, viewer).await {
        // Finished meanwhile: its page says how it ended.
        Ok(_) | Err(Error::WrongState(_)) => Ok(respond::see_other(&format!("/experiments/{id}"))),
        Err(err) => Err(err),
    }
}

/// `POST /experiments/{id}/retry` from the page's Run again button: 303 to
/// the new experiment.
pub(crate) async fn retry(app: &App, id: &str, viewer: &Viewer) -> Result<Response<Body>, Error> {
    let view = app.retry(parse_id(id)?, viewer).await?;
    Ok(respond::see_other(&format!(
        "/experiments/{}",
        view.record.id
    )))
}

/// `POST /experiments/{id}/front` from the page's Move to front button: 303
/// back to the experiment, which says it runs next.
pub(crate) async fn front(app: &App, id: &str, by: String) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    app.move_to_front(id, by).await?;
    Ok(respond::see_other(&format!("/experiments/{id}")))
}

/// A page for an error: a browser user gets words and a way back, not JSON,
/// with the same status and headers a script would get.
pub(crate) fn error(err: &Error) -> Response<Body> {
    let title = respond::status(err).canonical_reason().unwrap_or("Error");
    respond::error(
        err,
        Some(pages::error(title, &err.to_string()).into_string()),
    )
}

/// Whether the cancel form says the user confirmed (`confirmed=yes`).
fn confirmed(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Fields {
        confirmed: Option<String>,
    }
    serde_urlencoded::from_bytes::<Fields>(body)
        .is_ok_and(|fields| fields.confirmed.as_deref() == Some("yes"))
}

/// `/ui/{name}`: the stylesheet, the scripts and the icon.
pub(crate) fn asset(name: &str) -> Result<Response<Body>, Error> {
    let (content_type, body) = match name {
        "style.css" => ("text/css; charset=utf-8", STYLE),
        "app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "results.js" => ("text/javascript; charset=utf-8", RESULTS_SCRIPT),
        "batch.js" => ("text/javascript; charset=utf-8", BATCH_SCRIPT),
        "databases.js" => ("text/javascript; charset=utf-8", DATABASES_SCRIPT),
        "icon.svg" => ("image/svg+xml", ICON),
        _ => return Err(Error::NotFound(format!("no file /ui/{name}"))),
    };
    let mut response = respond::whole(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Small, and changed by an upgrade: fetched again with each page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn frame(app: &App, viewer: &Viewer) -> Frame {
    Frame {
        pause: app.queue.paused(),
        viewer: viewer.clone(),
        drain: app.queue.drained(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_confirmed_cancel_form_is_taken_as_confirmed() {
        assert!(confirmed(b"confirmed=yes"));
        assert!(!confirmed(b"confirmed="));
        assert!(!confirmed(b""));
    }
}
