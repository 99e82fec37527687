//! The routes: which handler answers which method and path.
//!
//! Scripts get JSON ([`native`], [`batch`] for a batch as a whole and its
//! downloads, and [`legacy`] for the FastAPI server this project grew from);
//! a browser gets pages (`ui`) from the same paths. A
//! handler returns its answer or an [`Error`], which `http::respond` turns
//! into the answer: a page for a page route, JSON for the rest.
//!
//! Before any route, the request is identified and checked against what its
//! route needs (`access`); after it, a refused request is logged for the
//! operator, with why, from where and by whom, never with what was sent.

pub mod admin;
pub mod batch;
pub mod events;
pub mod legacy;
pub mod metrics;
pub mod native;
pub mod ncbi;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::access::Viewer;
use crate::app::{parse_id, App};
use crate::error::Error;
use crate::http::negotiate::{same_origin, wants_html};
use crate::http::respond::Refusal;
use crate::http::{respond, Body};
use crate::{results, ui};

/// Answers one request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    // A browser gets pages from the routes scripts get JSON from.
    let html = wants_html(request.headers());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let pattern = routes::pattern_of(request.uri().path());
    let viewer = app.access.identify(request.headers(), peer).await;
    let mut response = match &viewer {
        Ok(viewer) => match route(&app, request, html, viewer, peer).await {
            Ok(response) => response,
            Err(Failed::Json(err)) => respond::error(&err, None),
            Err(Failed::Page(err)) => ui::error(&err),
        },
        Err(err) if html => ui::sign_in_required(err, "/"),
        Err(err) => respond::error(err, None),
    };
    if response.status() == StatusCode::UNAUTHORIZED && ncbi::is_blast_cgi(&path) {
        // NCBI's clients send a user and password only when asked for Basic
        // credentials (the token is the password); the Bearer challenge stays.
        response.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"seqspool\", charset=\"UTF-8\""),
        );
    }
    app.metrics.request(pattern, response.status().as_u16());
    log_refused(&method, &path, &response, viewer.ok(), peer);
    response
}

/// Longest path and reason a log line about a refused request quotes.
const MAX_LOGGED_CHARS: usize = 300;

/// Logs a request answered with a 4xx or 5xx, for the operator: the route,
/// the status, why, the client's address and the user when known. Never the
/// query string nor the body: they may hold a sequence.
fn log_refused(
    method: &Method,
    path: &str,
    response: &Response<Body>,
    viewer: Option<Viewer>,
    peer: SocketAddr,
) {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return;
    }
    let cut = |text: &str| -> String {
        match text.char_indices().nth(MAX_LOGGED_CHARS) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_owned(),
        }
    };
    let reason = response
        .extensions()
        .get::<Refusal>()
        .map_or(String::new(), |refusal| format!(": {}", cut(&refusal.0)));
    let who = match &viewer {
        Some(Viewer {
            user: Some(user),
            address,
            ..
        }) => format!("{address}, user {}", user.name),
        Some(viewer) => viewer.address.to_string(),
        None => peer.ip().to_canonical().to_string(),
    };
    log::info!(
        "refused {method} {}: {}{reason} (client {who})",
        cut(path),
        status.as_u16()
    );
}

/// A route's failure, and whether it was asked for as a page.
enum Failed {
    Json(Error),
    Page(Error),
}

impl From<Error> for Failed {
    fn from(err: Error) -> Failed {
        Failed::Json(err)
    }
}

async fn route(
    app: &App,
    request: Request<Incoming>,
    html: bool,
    viewer: &Viewer,
    peer: SocketAddr,
) -> Result<Response<Body>, Failed> {
    // A page of another site that points its own name here reads and writes
    // nothing, whatever it sends as its Origin.
    app.hosts.check(request.headers(), request.uri())?;
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(&path).split('/').collect();
    // HEAD is GET without the body: hyper sends the head and leaves the body out.
    let method = match request.method() {
        &Method::HEAD => Method::GET,
        method => method.clone(),
    };
    // A page of another site must not fill the lab's queue or cancel its work
    // through the browser of someone in the lab. (Scripts send no Origin; the
    // page's cancel form answers a foreign one with a confirmation page.)
    let writes = method == Method::POST || method == Method::DELETE;
    if writes
        && !matches!(segments.as_slice(), ["experiments", _, "cancel"])
        && !same_origin(request.headers())
    {
        return Err(Error::CrossSite(
            "this request came from a page of another site; submit from this server's own page, or from a script"
                .into(),
        )
        .into());
    }
    let query = request.uri().query().map(str::to_owned);
    let query = query.as_deref();
    let owner = |id| app.queue.get(id).map(|view| view.record.submitted_by);
    if let Err(err) = app.access.authorize(viewer, &method, &segments, owner) {
        return match err {
            // A browser that must sign in first is asked to, then sent back;
            // a submission from the page is carried through the sign-in.
            Error::Unauthenticated { .. } if html => {
                if method == Method::POST && segments.as_slice() == ["experiments"] {
                    return Ok(ui::sign_in_to_submit(app, request, &err).await);
                }
                let back = match method {
                    Method::GET => request.uri().path_and_query().map_or("/", |p| p.as_str()),
                    _ => "/",
                };
                Ok(ui::sign_in_required(&err, back))
            }
            err if html => Err(Failed::Page(err)),
            err => Err(Failed::Json(err)),
        };
    }
    let page = Failed::Page;
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => ui::home(app, query, viewer).map_err(page),
        ([""], &Method::POST) => Ok(legacy::submit(app, request, viewer).await?),
        ([""], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["backlog"] | ["backlog", ""], &Method::GET) => Ok(legacy::backlog(app)),
        (["backlog"] | ["backlog", ""], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments"], &Method::GET) if html => {
            ui::listing(app, query, viewer).await.map_err(page)
        }
        (["experiments"], &Method::GET) => Ok(native::list(app, query, viewer)?),
        (["experiments"], &Method::POST) if html => Ok(ui::submit(app, request, viewer).await),
        (["experiments"], &Method::POST) => Ok(native::submit(app, request, viewer).await?),
        (["experiments"], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["experiments", id], &Method::GET) if html => {
            ui::experiment(app, id, viewer).await.map_err(page)
        }
        (["experiments", id], &Method::GET) => {
            Ok(native::experiment(app, parse_id(id)?, query, viewer).await?)
        }
        (["experiments", id], &Method::DELETE) => {
            Ok(native::cancel(app, parse_id(id)?, viewer).await?)
        }
        (["experiments", _], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, DELETE",
        }
        .into()),
        (["experiments", id, "retry"], &Method::POST) if html => {
            ui::retry(app, id, viewer).await.map_err(page)
        }
        (["experiments", id, "retry"], &Method::POST) => {
            Ok(native::retry(app, parse_id(id)?, viewer).await?)
        }
        (["experiments", _, "retry"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["events"], &Method::GET) => Ok(events::stream(app, &request, viewer)?),
        (["events"], _) => Err(Error::WrongMethod { allow: "GET" }.into()),
        (["batches", id], &Method::GET) if html && !id.contains('.') => {
            ui::batch(app, id, query, viewer).await.map_err(page)
        }
        (["batches", name], &Method::GET) => Ok(batch::get(app, name, query, viewer).await?),
        (["batches", _], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["pipelines"], &Method::GET) => Ok(native::pipelines(app)),
        (["pipelines"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments", id, "cancel"], &Method::POST) => {
            ui::cancel(app, id, request, viewer).await.map_err(page)
        }
        (["experiments", _, "cancel"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["sign-in"], &Method::GET) => Ok(ui::sign_in_form(query, viewer)),
        (["sign-in"], &Method::POST) => ui::sign_in(app, request, peer, viewer).await.map_err(page),
        (["sign-in"], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["sign-out"], &Method::POST) => Ok(ui::sign_out(app, &request, peer)),
        (["sign-out"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["ui", name], &Method::GET) => Ok(ui::asset(name)?),
        (["ui", _], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments", id, "files", name], &Method::GET) => {
            Ok(native::file(app, parse_id(id)?, name, query).await?)
        }
        (["experiments", _, "files", _], _) => {
            Err(Error::WrongMethod { allow: "GET, HEAD" }.into())
        }
        (["experiments", id, "results", name], &Method::GET) => {
            Ok(results::download(app, parse_id(id)?, name, query).await?)
        }
        (["experiments", _, "results", _], _) => {
            Err(Error::WrongMethod { allow: "GET, HEAD" }.into())
        }
        (["queue"], &Method::GET) => Ok(native::queue(app)),
        (["queue"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["queue", "pause"], &Method::POST) => Ok(native::pause(app, query, viewer).await?),
        (["queue", "resume"], &Method::POST) => Ok(native::resume(app, viewer).await?),
        // NCBI's BLAST URL API, at the two paths its clients use.
        (["Blast.cgi"] | ["blast", "Blast.cgi"], &Method::GET | &Method::POST) => {
            Ok(ncbi::handle(app, request, viewer).await)
        }
        (["Blast.cgi"] | ["blast", "Blast.cgi"], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["queue", "drain"], &Method::POST) => {
            let by = viewer.name();
            Ok(admin::drain(app, query, by).await?)
        }
        (["queue", "undrain"], &Method::POST) => Ok(admin::undrain(app, viewer.name()).await?),
        (["queue", "pause" | "resume" | "drain" | "undrain"], _) => {
            Err(Error::WrongMethod { allow: "POST" }.into())
        }
        (["experiments", id, "front"], &Method::POST) if html => {
            let by = viewer.name();
            ui::front(app, id, by).await.map_err(page)
        }
        (["experiments", id, "front"], &Method::POST) => {
            let by = viewer.name();
            Ok(admin::front(app, parse_id(id)?, by).await?)
        }
        (["experiments", _, "front"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["retention"], &Method::GET) => Ok(admin::retention(app, query).await?),
        (["retention"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["retention", "sweep"], &Method::POST) => Ok(admin::sweep(app).await?),
        (["retention", "sweep"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["notifications", "secret"], &Method::GET) if html => {
            Ok(ui::notification_secret(app, viewer).await)
        }
        (["notifications", "secret"], &Method::GET) => {
            Ok(native::notification_secret(app, viewer).await?)
        }
        (["notifications", "secret"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["service-info"], &Method::GET) => Ok(native::service_info(app)),
        (["service-info"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["metrics"], &Method::GET) => Ok(metrics::scrape(app, request.headers())),
        (["metrics"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["openapi.json"], &Method::GET) => Ok(openapi::document()),
        (["openapi.json"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        _ => Err(Error::NotFound(format!(
            "no route {path}; see GET /service-info for what this server offers"
        ))
        .into()),
    }
}
