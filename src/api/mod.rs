//! The router: each request is identified, matched to its route in the
//! table ([`routes::ROUTES`]), checked against what the route needs
//! (`access`), and answered by the route's handler.
//!
//! Scripts get JSON ([`native`], [`batch`] for a batch as a whole and its
//! downloads, [`admin`] for the operator, and [`legacy`] for the FastAPI
//! server this project grew from); a browser gets pages (`ui`, through
//! [`browser`]) from the same paths, and NCBI's clients their own HTML
//! ([`ncbi`]). A handler returns its answer or an [`Error`], which
//! `http::respond` turns into the answer: a page for a page, JSON for the rest.
//!
//! After the route, a refused request is logged for the operator, with why,
//! from where and by whom, never with what was sent.

mod admin;
mod batch;
mod browser;
mod call;
mod events;
mod legacy;
mod metrics;
mod native;
mod ncbi;
pub mod openapi;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::access::{Need, Viewer};
use crate::app::App;
use crate::error::Error;
use crate::http::negotiate::{same_origin, wants_html};
use crate::http::respond::Refusal;
use crate::http::{respond, Body};
use crate::ui;
use call::Call;
use routes::{Answering, Match};

/// Answers one request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    // A browser gets pages from the routes scripts get JSON from.
    let html = wants_html(request.headers());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let found = routes::find(&method, &path);
    let viewer = app.access.identify(request.headers(), peer).await;
    let mut response = match &viewer {
        Ok(viewer) => match route(&app, request, &found, html, viewer, peer).await {
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
    app.metrics
        .request(found.pattern(), response.status().as_u16());
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

/// Checks the request against its route and has the route answer it.
async fn route(
    app: &App,
    request: Request<Incoming>,
    found: &Match<'_>,
    html: bool,
    viewer: &Viewer,
    peer: SocketAddr,
) -> Result<Response<Body>, Failed> {
    // A page of another site that points its own name here reads and writes
    // nothing, whatever it sends as its Origin.
    app.hosts.check(request.headers(), request.uri())?;
    let method = request.method();
    let matched = match found {
        Match::Route(route, params) => Some((*route, *params)),
        _ => None,
    };
    // A page of another site must not fill the lab's queue or cancel its work
    // through the browser of someone in the lab. (Scripts send no Origin; the
    // page's cancel form answers a foreign one with a confirmation page.)
    let writes = method == Method::POST || method == Method::DELETE;
    if writes
        && !matched.is_some_and(|(route, _)| route.takes_any_site())
        && !same_origin(request.headers())
    {
        return Err(Error::CrossSite(
            "this request came from a page of another site; submit from this server's own page, or from a script"
                .into(),
        )
        .into());
    }
    // What a request no route answers needs, to be told so: what its method does.
    let (need, id) = match matched {
        Some((route, params)) => (route.need, params.get("id")),
        None if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) => {
            (Need::Read, None)
        }
        None => (Need::Write, None),
    };
    let owner = |id| app.queue.get(id).map(|view| view.record.submitted_by);
    if let Err(err) = app.access.authorize(viewer, need, id, owner) {
        return match err {
            // A browser that must sign in first is asked to, then sent back;
            // a submission from the page is carried through the sign-in.
            Error::Unauthenticated { .. } if html => {
                let submits = matched.is_some_and(|(route, _)| {
                    route.method == Method::POST && route.pattern == "/experiments"
                });
                if submits {
                    return Ok(ui::sign_in_to_submit(app, request, &err).await);
                }
                let back = match *method {
                    Method::GET => request.uri().path_and_query().map_or("/", |p| p.as_str()),
                    _ => "/",
                };
                Ok(ui::sign_in_required(&err, back))
            }
            err if html => Err(Failed::Page(err)),
            err => Err(Failed::Json(err)),
        };
    }
    let Some((route, params)) = matched else {
        return Err(match found {
            Match::WrongMethod(pattern) => Error::WrongMethod {
                allow: routes::allow(pattern),
            },
            _ => Error::NotFound(format!(
                "no route {}; see GET /service-info for what this server offers",
                request.uri().path()
            )),
        }
        .into());
    };
    let call = Call::new(app, request, viewer, peer, params);
    match route.answering(html) {
        Answering::Handler(handler) => Ok(handler.call(call).await?),
        Answering::Page(page) => page.call(call).await.map_err(Failed::Page),
    }
}
