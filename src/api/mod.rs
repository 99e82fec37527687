//! The routes: which handler answers which method and path.
//!
//! Scripts get JSON ([`native`], and [`legacy`] for the FastAPI server this
//! project grew from); a browser gets pages (`ui`) from the same paths. A
//! handler returns its answer or an [`Error`], which `http::respond` turns
//! into the answer: a page for a page route, JSON for the rest.

pub mod admin;
pub mod events;
pub mod legacy;
pub mod native;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::app::{parse_id, App};
use crate::error::Error;
use crate::http::negotiate::{same_origin, wants_html};
use crate::http::{respond, Body};
use crate::ui;

/// Answers one request.
pub async fn handle(
    app: Arc<App>,
    mut request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    request.extensions_mut().insert(admin::Peer(peer));
    // A browser gets pages from the routes scripts get JSON from.
    let html = wants_html(request.headers());
    match route(&app, request, html).await {
        Ok(response) => response,
        Err(Failed::Json(err)) => respond::error(&err, None),
        Err(Failed::Page(err)) => ui::error(&err),
    }
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
    let page = Failed::Page;
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => ui::home(app, query).map_err(page),
        ([""], &Method::POST) => Ok(legacy::submit(app, request).await?),
        ([""], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["backlog"] | ["backlog", ""], &Method::GET) => Ok(legacy::backlog(app)),
        (["backlog"] | ["backlog", ""], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments"], &Method::GET) if html => ui::listing(app, query).map_err(page),
        (["experiments"], &Method::GET) => Ok(native::list(app, query)?),
        (["experiments"], &Method::POST) if html => Ok(ui::submit(app, request).await),
        (["experiments"], &Method::POST) => Ok(native::submit(app, request).await?),
        (["experiments"], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, POST",
        }
        .into()),
        (["experiments", id], &Method::GET) if html => ui::experiment(app, id).await.map_err(page),
        (["experiments", id], &Method::GET) => {
            Ok(native::experiment(app, parse_id(id)?, query).await?)
        }
        (["experiments", id], &Method::DELETE) => Ok(native::cancel(app, parse_id(id)?).await?),
        (["experiments", _], _) => Err(Error::WrongMethod {
            allow: "GET, HEAD, DELETE",
        }
        .into()),
        (["experiments", id, "retry"], &Method::POST) if html => {
            ui::retry(app, id).await.map_err(page)
        }
        (["experiments", id, "retry"], &Method::POST) => {
            Ok(native::retry(app, parse_id(id)?).await?)
        }
        (["experiments", _, "retry"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["events"], &Method::GET) => Ok(events::stream(app, &request)?),
        (["events"], _) => Err(Error::WrongMethod { allow: "GET" }.into()),
        (["pipelines"], &Method::GET) => Ok(native::pipelines(app)),
        (["pipelines"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments", id, "cancel"], &Method::POST) => {
            ui::cancel(app, id, request).await.map_err(page)
        }
        (["experiments", _, "cancel"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["ui", name], &Method::GET) => Ok(ui::asset(name)?),
        (["ui", _], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["experiments", id, "files", name], &Method::GET) => {
            Ok(native::file(app, parse_id(id)?, name, query).await?)
        }
        (["experiments", _, "files", _], _) => {
            Err(Error::WrongMethod { allow: "GET, HEAD" }.into())
        }
        (["queue"], &Method::GET) => Ok(native::queue(app)),
        (["queue"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["queue", "pause"], &Method::POST) => Ok(native::pause(app, query).await?),
        (["queue", "resume"], &Method::POST) => Ok(native::resume(app).await?),
        (["queue", "drain"], &Method::POST) => {
            let by = admin::client_identity(&request);
            Ok(admin::drain(app, query, by).await?)
        }
        (["queue", "undrain"], &Method::POST) => {
            Ok(admin::undrain(app, admin::client_identity(&request)).await?)
        }
        (["queue", "pause" | "resume" | "drain" | "undrain"], _) => {
            Err(Error::WrongMethod { allow: "POST" }.into())
        }
        (["experiments", id, "front"], &Method::POST) if html => {
            let by = admin::client_identity(&request);
            ui::front(app, id, by).await.map_err(page)
        }
        (["experiments", id, "front"], &Method::POST) => {
            let by = admin::client_identity(&request);
            Ok(admin::front(app, parse_id(id)?, by).await?)
        }
        (["experiments", _, "front"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["retention"], &Method::GET) => Ok(admin::retention(app, query).await?),
        (["retention"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        (["retention", "sweep"], &Method::POST) => Ok(admin::sweep(app).await?),
        (["retention", "sweep"], _) => Err(Error::WrongMethod { allow: "POST" }.into()),
        (["service-info"], &Method::GET) => Ok(native::service_info(app)),
        (["service-info"], _) => Err(Error::WrongMethod { allow: "GET, HEAD" }.into()),
        _ => Err(Error::NotFound(format!(
            "no route {path}; see GET /service-info for what this server offers"
        ))
        .into()),
    }
}
