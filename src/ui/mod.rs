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
//! `results.js` for its results (`crate::results`): sorting, copying, and
//! showing them when the experiment ends while the page is open.

mod notifications;
mod pages;
mod sign_in;

pub use notifications::secret as notification_secret;
pub use sign_in::{sign_in, sign_in_form, sign_in_required, sign_in_to_submit, sign_out};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;

use crate::access::{Mode, Viewer};
use crate::app::{self, blocking, parse_id, App};
use crate::error::Error;
use crate::http::negotiate::same_origin;
use crate::http::{body, respond, Body};
use crate::model::{Drain, FileInfo, Id, Pause, State};
use crate::pipeline::Pipeline;
use crate::query::AlphabetPolicy;
use crate::queue::{Backlog, Filter, View};
use crate::store::Tail;
use crate::submission::{Fields, Format};

/// Experiments on one page of the home table: a screenful on a laptop.
pub const PAGE: usize = 25;
/// Experiments on one page of a batch: a 96-well plate fits on one.
pub const BATCH_PAGE: usize = 100;
/// The largest body the cancel form may send (one hidden field).
const CANCEL_FORM_MAX: usize = 1024;
/// Lines of `stdout.txt` and `stderr.txt` a page shows (`app.js` shows as many).
const LOG_LINES: usize = 40;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");
const RESULTS_SCRIPT: &str = include_str!("results.js");
/// The batch page's own script: its counts, bar and rows kept current.
const BATCH_SCRIPT: &str = include_str!("batch.js");
const ICON: &str = include_str!("icon.svg");

/// `GET /?state=&page_token=`: the lab's page: the form, the backlog, the experiments.
pub fn home(
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
            pipelines: &app.catalog.pipelines,
            alphabet: app.limits.alphabet,
            max_residues: app.config.max_residues,
            max_records: app.config.max_records,
            form,
        },
    )
}

/// `GET /experiments?batch=` from a browser: a batch's page; with another
/// filter, the experiments it lists.
pub async fn listing(
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
pub async fn batch(
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
pub async fn submit(app: &App, request: Request<Incoming>, viewer: &Viewer) -> Response<Body> {
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
pub async fn experiment(app: &App, id: &str, viewer: &Viewer) -> Result<Response<Body>, Error> {
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
    let pipeline = app.catalog.get(&view.record.pipeline).map(Arc::as_ref);
    let results = crate::results::section(app, &view, &files).await;
    let outbox = app.notifier.outbox(&view.record).await;
    let page = Experiment {
        view: &view,
        pipeline,
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
pub async fn cancel(
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
pub async fn retry(app: &App, id: &str, viewer: &Viewer) -> Result<Response<Body>, Error> {
    let view = app.retry(parse_id(id)?, viewer).await?;
    Ok(respond::see_other(&format!(
        "/experiments/{}",
        view.record.id
    )))
}

/// `POST /experiments/{id}/front` from the page's Move to front button: 303
/// back to the experiment, which says it runs next.
pub async fn front(app: &App, id: &str, by: String) -> Result<Response<Body>, Error> {
    let id = parse_id(id)?;
    app.move_to_front(id, by).await?;
    Ok(respond::see_other(&format!("/experiments/{id}")))
}

/// A page for an error: a browser user gets words and a way back, not JSON,
/// with the same status and headers a script would get.
pub fn error(err: &Error) -> Response<Body> {
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
pub fn asset(name: &str) -> Result<Response<Body>, Error> {
    let (content_type, body) = match name {
        "style.css" => ("text/css; charset=utf-8", STYLE),
        "app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "results.js" => ("text/javascript; charset=utf-8", RESULTS_SCRIPT),
        "batch.js" => ("text/javascript; charset=utf-8", BATCH_SCRIPT),
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

/// What every page shows around its own content.
#[derive(Debug, Default)]
pub struct Frame {
    /// The queue's pause, while it is paused.
    pub pause: Option<Pause>,
    /// Who is looking: what they may do, and whether they are signed in.
    pub viewer: Viewer,
    /// The server's drain, while it is draining.
    pub drain: Option<Drain>,
}

fn frame(app: &App, viewer: &Viewer) -> Frame {
    Frame {
        pause: app.queue.paused(),
        viewer: viewer.clone(),
        drain: app.queue.drained(),
    }
}

/// What the user typed into the form, put back when the submission failed,
/// or carried through the sign-in page when they had to sign in first.
#[derive(Debug, Default)]
pub struct Input {
    pub name: String,
    pub sequence: String,
    /// The pipeline chosen, as sent.
    pub pipeline: Option<String>,
    /// Parameters as sent, keyed by what followed `param.`: `PIPELINE.NAME`
    /// from the page, or `NAME` from a form of the lab's own.
    pub params: BTreeMap<String, String>,
    /// The name of the file chosen, if one was: no page can carry a file
    /// or put it back in the form.
    pub file: Option<String>,
}

impl From<Fields> for Input {
    fn from(fields: Fields) -> Input {
        Input {
            name: fields.query_name.unwrap_or_default(),
            sequence: fields.query_sequence.unwrap_or_default(),
            pipeline: fields.pipeline,
            params: fields.params,
            file: fields.upload,
        }
    }
}

impl Input {
    /// Whether the form sent nothing a page could put back.
    fn is_empty(&self) -> bool {
        self.name.is_empty()
            && self.sequence.is_empty()
            && self.pipeline.is_none()
            && self.params.is_empty()
    }

    /// The bytes of its text fields.
    fn len(&self) -> usize {
        let params: usize = self.params.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.name.len()
            + self.sequence.len()
            + self.pipeline.as_ref().map_or(0, String::len)
            + params
    }

    /// The pipeline the form shows chosen: the one sent, if this server
    /// offers it, or else the default (the first).
    fn chosen<'a>(&self, pipelines: &'a [Arc<Pipeline>]) -> Option<&'a Pipeline> {
        let sent = self.pipeline.as_deref().map(str::trim);
        sent.and_then(|name| pipelines.iter().find(|p| p.name == name))
            .or_else(|| pipelines.first())
            .map(Arc::as_ref)
    }

    /// The value to show in `pipeline`'s field for `param`: what was sent for
    /// it, or `None` for a form shown afresh (then the default is shown).
    /// A bare `NAME` counts only for the chosen pipeline, as the server reads it.
    fn param(&self, pipeline: &str, param: &str, chosen: bool) -> Option<&str> {
        self.params
            .get(&format!("{pipeline}.{param}"))
            .or_else(|| chosen.then(|| self.params.get(param)).flatten())
            .map(String::as_str)
    }
}

/// The submission form as a page shows it: empty, or filled in again with the
/// error that sent it back.
#[derive(Debug, Default)]
pub struct Form {
    pub input: Input,
    /// The field at fault (`query_name`, `query_sequence`, `file`,
    /// `pipeline`, `param.NAME` of the chosen pipeline), if one is.
    pub field: Option<String>,
    pub error: Option<String>,
    /// Whether the input came back through the sign-in page: put back in
    /// the form, not submitted yet.
    pub carried: bool,
}

impl Form {
    pub fn failed(input: Input, err: &Error) -> Form {
        let (field, error) = match err {
            Error::Invalid { field, msg } => (Some(field.to_string()), msg.clone()),
            other => (None, other.to_string()),
        };
        Form {
            input,
            field,
            error: Some(error),
            carried: false,
        }
    }

    /// The error to show beside `field`, if it is the one at fault.
    fn error_for(&self, field: &str) -> Option<&str> {
        match (self.field.as_deref(), &self.error) {
            (Some(f), Some(error)) if f == field => Some(error),
            _ => None,
        }
    }
}

/// What the home page shows.
pub struct Home<'a> {
    pub listing: Listing<'a>,
    pub backlog: Backlog,
    /// The pipelines offered, the first the default.
    pub pipelines: &'a [Arc<Pipeline>],
    /// Which sequences the server takes, whatever the pipeline.
    pub alphabet: AlphabetPolicy,
    pub max_residues: usize,
    pub max_records: usize,
    pub form: &'a Form,
}

/// What an experiment's page shows.
pub struct Experiment<'a> {
    pub view: &'a View,
    /// The pipeline it ran in, while this server still offers it (for its title).
    pub pipeline: Option<&'a Pipeline>,
    pub files: &'a [FileInfo],
    pub logs: &'a Logs,
    /// Its directory on the workstation.
    pub dir: &'a str,
    /// Its results section (`crate::results`).
    pub results: maud::Markup,
    /// Its notifications, once it has ended.
    pub outbox: Option<&'a crate::notify::Outbox>,
}

/// One page of a table of experiments, newest first.
pub struct Listing<'a> {
    pub experiments: &'a [View],
    /// The page token of the next (older) page.
    pub next_page: Option<Id>,
    /// The page token this page was asked with: `None` on the first page.
    pub page_token: Option<Id>,
    pub state: Option<State>,
    pub batch: Option<Id>,
    /// Only the experiments of this user (or client address).
    pub submitted_by: Option<String>,
    /// Whether the filter "mine" is offered (to a viewer known by name, or
    /// by address while access is open), and then whether it is on.
    pub mine: Option<bool>,
    pub limit: usize,
}

impl<'a> Listing<'a> {
    /// A page of `experiments`, as `filter` chose them.
    pub fn new(experiments: &'a [View], next_page: Option<Id>, filter: &Filter) -> Listing<'a> {
        Listing {
            experiments,
            next_page,
            page_token: filter.before,
            state: filter.state,
            batch: filter.batch,
            submitted_by: filter.submitted_by.clone(),
            mine: None,
            limit: filter.limit,
        }
    }

    /// Offers `viewer` the filter "mine", when they can be told from others.
    fn for_viewer(mut self, viewer: &Viewer) -> Listing<'a> {
        if viewer.user.is_some() || viewer.mode == Mode::Open {
            self.mine = Some(self.submitted_by.as_deref() == Some(viewer.name().as_str()));
        }
        self
    }

    /// The JSON route that gives the same page, for the script's poll.
    fn source(&self) -> String {
        let mut url = format!("/experiments?limit={}", self.limit);
        if let Some(state) = self.state {
            let _ = write!(url, "&state={}", state.as_str());
        }
        if let Some(batch) = self.batch {
            let _ = write!(url, "&batch={batch}");
        }
        if let Some(by) = &self.submitted_by {
            let _ = write!(url, "&submitted_by={}", query_value(by));
        }
        if let Some(token) = self.page_token {
            let _ = write!(url, "&page_token={token}");
        }
        url
    }

    /// The event stream that says when this page changes: its batch's, or every event.
    fn stream(&self) -> String {
        match self.batch {
            Some(batch) => format!("/events?batch={batch}"),
            None => "/events".into(),
        }
    }

    /// The link to this listing from `path` with another page token.
    fn link(&self, path: &str, page_token: Option<Id>) -> String {
        let mut params = Vec::new();
        if let Some(state) = self.state {
            params.push(format!("state={}", state.as_str()));
        }
        if let Some(batch) = self.batch {
            params.push(format!("batch={batch}"));
        }
        match (self.mine, &self.submitted_by) {
            (Some(true), _) => params.push("mine=1".to_owned()),
            (_, Some(by)) => params.push(format!("submitted_by={}", query_value(by))),
            _ => {}
        }
        if let Some(token) = page_token {
            params.push(format!("page_token={token}"));
        }
        if params.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", params.join("&"))
        }
    }
}

/// A page of a batch, as its page shows it.
pub struct Batch<'a> {
    pub plate: &'a crate::results::plate::Plate,
    /// The page token this page was asked with: `None` on the first page.
    pub page_token: Option<Id>,
    pub limit: usize,
}

impl Batch<'_> {
    /// The JSON route that gives the same page, for the script's poll.
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

/// A value for a query string: a user name or a client address, whose
/// characters are safe there but for the `:` of IPv6, encoded all the same.
fn query_value(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|pair| pair[1..].to_owned())
        .unwrap_or_default()
}

/// The last lines of an experiment's logs, as far as they exist.
#[derive(Debug, Default)]
pub struct Logs {
    pub stdout: Option<Tail>,
    pub stderr: Option<Tail>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_sits_beside_the_field_it_names() {
        let form = Form::failed(
            Input::default(),
            &Error::Invalid {
                field: "query_sequence".into(),
                msg: "is missing or empty".into(),
            },
        );
        assert_eq!(
            form.error_for("query_sequence"),
            Some("is missing or empty")
        );
        assert_eq!(form.error_for("query_name"), None);
        let general = Form::failed(Input::default(), &Error::QueueFull { capacity: 3 });
        assert_eq!(general.field, None);
        assert!(general.error.unwrap().contains("queue is full"));
    }

    #[test]
    fn only_a_confirmed_cancel_form_is_taken_as_confirmed() {
        assert!(confirmed(b"confirmed=yes"));
        assert!(!confirmed(b"confirmed="));
        assert!(!confirmed(b""));
    }
}
