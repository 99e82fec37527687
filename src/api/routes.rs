//! The routes, written once: [`ROUTES`] says of each its method, its path
//! pattern, who may ask ([`Need`]), what it answers, and its handler, with
//! the page a browser gets from it where there is one.
//!
//! Everything else reads the table: the router dispatches from it ([`find`]:
//! a path is matched to a pattern once, its `{name}` segments taken as they
//! stand, nothing allocated), access is decided from the matched route's
//! need and its `{id}`, the metrics name requests by pattern (never a path
//! with an id in it), a 405 lists the pattern's methods in `Allow`, and
//! `tests/it/openapi.rs` holds the OpenAPI document to it. Adding a route is a
//! line here, and its handler.

use std::fmt;
use std::sync::LazyLock;

use hyper::Method;

use super::call::{Handler, Params};
use super::{admin, batch, browser, events, legacy, metrics, native, ncbi, openapi};
use crate::access::Need;

use Answers::{Html, Json, Other};
use Need::{Admin, Nothing, Owner, Read, Write};

/// Every route the router answers (HEAD goes with GET). A route with a page
/// gives it to a browser (a client whose `Accept` prefers HTML); a route
/// with only a page gives it to everyone.
#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    // The lab's page, and the two routes of the FastAPI server this project grew from.
    get("/", Read, Html).page(&browser::home),
    post("/", Write, Json).to(&legacy::submit),
    get("/backlog", Read, Json).to(&legacy::backlog),
    get("/backlog/", Read, Json).to(&legacy::backlog),
    // Experiments and batches.
    get("/experiments", Read, Json).to(&native::list).page(&browser::listing),
    post("/experiments", Write, Json).to(&native::submit).page(&browser::submit),
    get("/experiments/{id}", Read, Json).to(&native::experiment).page(&browser::experiment),
    delete("/experiments/{id}", Owner("cancel"), Json).to(&native::cancel),
    post("/experiments/{id}/retry", Owner("run again"), Json).to(&native::retry).page(&browser::retry),
    // The page's Cancel button: a form from another site gets a confirmation page.
    post("/experiments/{id}/cancel", Owner("cancel"), Html).page(&browser::cancel).any_site(),
    get("/experiments/{id}/files/{name}", Read, Other).to(&native::file),
    get("/experiments/{id}/results/{name}", Read, Other).to(&native::result),
    get("/batches/{name}", Read, Json).to(&batch::get).page(&browser::batch),
    get("/events", Read, Other).to(&events::stream),
    get("/pipelines", Read, Json).to(&native::pipelines),
    // The operator's.
    get("/queue", Read, Json).to(&native::queue),
    post("/queue/pause", Admin, Json).to(&native::pause),
    post("/queue/resume", Admin, Json).to(&native::resume),
    post("/queue/drain", Admin, Json).to(&admin::drain),
    post("/queue/undrain", Admin, Json).to(&admin::undrain),
    post("/experiments/{id}/front", Admin, Json).to(&admin::front).page(&browser::front),
    get("/retention", Admin, Json).to(&admin::retention),
    post("/retention/sweep", Admin, Json).to(&admin::sweep),
    // What this server is.
    get("/service-info", Read, Json).to(&native::service_info),
    get("/notifications/secret", Write, Json).to(&native::notification_secret).page(&browser::notification_secret),
    get("/metrics", Read, Other).to(&metrics::scrape),
    get("/openapi.json", Read, Json).to(&openapi::document),
    // Signing in, and the pages' assets.
    get("/ui/{name}", Nothing, Html).to(&browser::asset),
    get("/sign-in", Nothing, Html).page(&browser::sign_in_form),
    post("/sign-in", Nothing, Html).page(&browser::sign_in),
    post("/sign-out", Nothing, Html).page(&browser::sign_out),
    // NCBI's BLAST URL API, at the two paths its clients use. What a request
    // does is in its fields (`CMD=Put` submits, by GET too), so its handler
    // asks for a writer by the command it parsed.
    get("/Blast.cgi", Read, Html).to(&ncbi::handle),
    post("/Blast.cgi", Read, Html).to(&ncbi::handle),
    get("/blast/Blast.cgi", Read, Html).to(&ncbi::handle),
    post("/blast/Blast.cgi", Read, Html).to(&ncbi::handle),
];

/// What a route answers with, which says whether the OpenAPI document describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answers {
    /// JSON, for scripts (a browser may get a page from the same route):
    /// described in the document, and real answers are checked against it.
    Json,
    /// Something else a script reads (a file, an event stream, metrics):
    /// described in the document.
    Other,
    /// Only pages, forms and their assets for a browser, or HTML for
    /// another protocol's clients: not in the document.
    Html,
}

/// One route: a method and a path pattern whose `{name}` parts stand for one
/// path segment each, who may ask, what it answers, and who answers.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    /// Who may ask; [`Need::Owner`] is of the experiment `{id}` names.
    pub need: Need,
    pub answers: Answers,
    /// What answers scripts, and browsers where there is no page.
    handler: Option<&'static dyn Handler>,
    /// What answers browsers, and everyone where there is no handler; its
    /// errors are pages too.
    page: Option<&'static dyn Handler>,
    /// Whether a page of another site may send it (a write, otherwise refused).
    any_site: bool,
}

const fn route(method: Method, pattern: &'static str, need: Need, answers: Answers) -> Route {
    Route {
        method,
        pattern,
        need,
        answers,
        handler: None,
        page: None,
        any_site: false,
    }
}

const fn get(pattern: &'static str, need: Need, answers: Answers) -> Route {
    route(Method::GET, pattern, need, answers)
}

const fn post(pattern: &'static str, need: Need, answers: Answers) -> Route {
    route(Method::POST, pattern, need, answers)
}

const fn delete(pattern: &'static str, need: Need, answers: Answers) -> Route {
    route(Method::DELETE, pattern, need, answers)
}

impl Route {
    /// Answered by `handler`.
    const fn to(mut self, handler: &'static dyn Handler) -> Route {
        self.handler = Some(handler);
        self
    }

    /// A browser gets a page from `page`.
    const fn page(mut self, page: &'static dyn Handler) -> Route {
        self.page = Some(page);
        self
    }

    /// A page of another site may send it: its handler checks the origin itself.
    const fn any_site(mut self) -> Route {
        self.any_site = true;
        self
    }

    /// Whether a page of another site may send it.
    pub(crate) fn takes_any_site(&self) -> bool {
        self.any_site
    }

    /// Who answers a request that wants a page (`html`) or not.
    pub(crate) fn answering(&self, html: bool) -> Answering {
        match (html, self.handler, self.page) {
            (true, _, Some(page)) | (false, None, Some(page)) => Answering::Page(page),
            (_, Some(handler), _) => Answering::Handler(handler),
            (_, None, None) => unreachable!("{self:?} has no handler (the table's test says so)"),
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.pattern)
    }
}

/// Who answers a request.
pub(crate) enum Answering {
    /// A handler, whose errors are answered as JSON.
    Handler(&'static dyn Handler),
    /// A page, whose errors are pages.
    Page(&'static dyn Handler),
}

/// What answers a request to a path.
#[derive(Debug)]
pub(crate) enum Match<'p> {
    /// The route, and the segments its pattern's `{name}` parts took.
    Route(&'static Route, Params<'p>),
    /// Routes of this pattern answer the path, none with the method: a 405.
    WrongMethod(&'static str),
    /// No route answers the path: a 404.
    NotFound,
}

/// The label of requests to a path no route answers.
pub(crate) const UNKNOWN: &str = "unknown";

impl Match<'_> {
    /// The pattern of the path, whatever the method, or [`UNKNOWN`].
    pub(crate) fn pattern(&self) -> &'static str {
        match self {
            Match::Route(route, _) => route.pattern,
            Match::WrongMethod(pattern) => pattern,
            Match::NotFound => UNKNOWN,
        }
    }
}

/// The route that answers `method` on `path`. Where two patterns fit, the one
/// with more fixed segments wins. It runs for every request, so it allocates
/// nothing.
pub(crate) fn find<'p>(method: &Method, path: &'p str) -> Match<'p> {
    // HEAD is GET without the body: hyper sends the head and leaves the body out.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut best: Option<(usize, &'static str, Params<'p>)> = None;
    let mut answering = None;
    for route in ROUTES {
        if best.is_none_or(|(_, pattern, _)| pattern != route.pattern) {
            let Some((fixed, params)) = matches(route.pattern, path) else {
                continue;
            };
            if best.is_some_and(|(most, _, _)| fixed <= most) {
                continue;
            }
            best = Some((fixed, route.pattern, params));
            answering = None;
        }
        if answering.is_none() && route.method == *method {
            answering = Some(route);
        }
    }
    match (best, answering) {
        (Some((_, _, params)), Some(route)) => Match::Route(route, params),
        (Some((_, pattern, _)), None) => Match::WrongMethod(pattern),
        (None, _) => Match::NotFound,
    }
}

/// How many fixed segments of `pattern` `path` (without its leading `/`)
/// matches, if it matches them all, and the segments its `{name}` parts
/// take (each takes any one segment).
fn matches<'p>(pattern: &'static str, path: &'p str) -> Option<(usize, Params<'p>)> {
    let (mut parts, mut segments) = (pattern[1..].split('/'), path.split('/'));
    let (mut fixed, mut params) = (0, Params::default());
    loop {
        match (parts.next(), segments.next()) {
            (None, None) => return Some((fixed, params)),
            (Some(part), Some(segment)) if is_placeholder(part) => {
                params.take(&part[1..part.len() - 1], segment)?;
            }
            (Some(part), Some(segment)) if part == segment => fixed += 1,
            _ => return None,
        }
    }
}

fn is_placeholder(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

/// The `Allow` header of each pattern: its methods, in the table's order,
/// HEAD after GET.
static ALLOW: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    let mut allow: Vec<(&'static str, String)> = Vec::new();
    for route in ROUTES {
        let methods = match allow
            .iter_mut()
            .find(|(pattern, _)| *pattern == route.pattern)
        {
            Some((_, methods)) => {
                methods.push_str(", ");
                methods
            }
            None => {
                allow.push((route.pattern, String::new()));
                &mut allow.last_mut().expect("just pushed").1
            }
        };
        methods.push_str(route.method.as_str());
        if route.method == Method::GET {
            methods.push_str(", HEAD");
        }
    }
    allow
});

/// The methods the routes of `pattern` take, as `Allow` lists them.
pub(crate) fn allow(pattern: &str) -> &'static str {
    ALLOW
        .iter()
        .find(|(listed, _)| *listed == pattern)
        .map_or("", |(_, methods)| methods.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::call::MAX_PARAMS;
    use std::collections::BTreeSet;

    #[test]
    fn paths_are_counted_by_their_pattern() {
        for (path, pattern) in [
            ("/", "/"),
            ("/backlog", "/backlog"),
            ("/backlog/", "/backlog/"),
            ("/experiments", "/experiments"),
            ("/experiments/000042", "/experiments/{id}"),
            ("/experiments/", "/experiments/{id}"),
            (
                "/experiments/000042/files/hits.tsv",
                "/experiments/{id}/files/{name}",
            ),
            ("/queue/pause", "/queue/pause"),
            ("/nothing/here", UNKNOWN),
            ("/experiments/000042/nothing", UNKNOWN),
        ] {
            assert_eq!(find(&Method::GET, path).pattern(), pattern, "{path}");
        }
    }

    #[test]
    fn a_path_is_matched_with_its_segments_and_the_method_after() {
        let Match::Route(route, params) =
            find(&Method::HEAD, "/experiments/000042/files/hits%20top.tsv")
        else {
            panic!("no route");
        };
        assert_eq!(route.pattern, "/experiments/{id}/files/{name}");
        assert_eq!(params.get("id"), Some("000042"));
        assert_eq!(params.get("name"), Some("hits%20top.tsv"));
        assert_eq!(params.get("other"), None);
        let Match::Route(route, _) = find(&Method::DELETE, "/experiments/000042") else {
            panic!("no route");
        };
        assert_eq!(route.need, Owner("cancel"));
        assert!(matches!(
            find(&Method::PUT, "/experiments/000042"),
            Match::WrongMethod("/experiments/{id}")
        ));
        assert!(matches!(find(&Method::GET, "/nowhere"), Match::NotFound));
    }

    #[test]
    fn each_route_needs_what_its_kind_needs() {
        let of = |method: Method, path: &str| match find(&method, path) {
            Match::Route(route, _) => route.need,
            other => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(of(Method::GET, "/sign-in"), Nothing);
        assert_eq!(of(Method::POST, "/sign-in"), Nothing);
        assert_eq!(of(Method::POST, "/sign-out"), Nothing);
        assert_eq!(of(Method::GET, "/ui/app.js"), Nothing);
        assert_eq!(of(Method::GET, "/"), Read);
        assert_eq!(of(Method::GET, "/experiments/000001"), Read);
        assert_eq!(of(Method::POST, "/"), Write);
        assert_eq!(of(Method::POST, "/experiments"), Write);
        // A secret is a user's, or where anybody may write, their address's.
        assert_eq!(of(Method::GET, "/notifications/secret"), Write);
        assert_eq!(of(Method::POST, "/queue/pause"), Admin);
        assert_eq!(of(Method::POST, "/queue/drain"), Admin);
        assert_eq!(of(Method::GET, "/queue"), Read);
        assert_eq!(of(Method::POST, "/experiments/000004/front"), Admin);
        assert_eq!(of(Method::GET, "/retention"), Admin);
        assert_eq!(of(Method::POST, "/retention/sweep"), Admin);
        assert_eq!(of(Method::DELETE, "/experiments/000004"), Owner("cancel"));
        assert_eq!(
            of(Method::POST, "/experiments/000004/cancel"),
            Owner("cancel")
        );
        assert_eq!(
            of(Method::POST, "/experiments/000004/retry"),
            Owner("run again")
        );
        // NCBI's API: what its handler parses says whether it writes.
        assert_eq!(of(Method::GET, "/Blast.cgi"), Read);
        assert_eq!(of(Method::POST, "/blast/Blast.cgi"), Read);
        // No write but NCBI's is let through to whoever may only read.
        let writes = ROUTES.iter().filter(|route| route.method != Method::GET);
        for route in writes.filter(|route| !route.pattern.ends_with("/Blast.cgi")) {
            assert_ne!(route.need, Read, "{route:?} writes");
        }
    }

    #[test]
    fn every_route_is_answered_once_within_the_placeholders_a_path_holds() {
        let mut seen = BTreeSet::new();
        for route in ROUTES {
            assert!(route.pattern.starts_with('/'), "{route:?}");
            assert!(
                route.handler.is_some() || route.page.is_some(),
                "{route:?} has no handler"
            );
            assert!(
                seen.insert((route.method.as_str(), route.pattern)),
                "{route:?} is listed twice"
            );
            let placeholders = route
                .pattern
                .split('/')
                .filter(|p| is_placeholder(p))
                .count();
            assert!(placeholders <= MAX_PARAMS, "{route:?}");
            // Only a route that is not the document's gives the pages only.
            if route.handler.is_none() {
                assert_eq!(route.answers, Html, "{route:?}");
            }
        }
    }

    #[test]
    fn a_wrong_method_is_told_the_right_ones() {
        assert_eq!(allow("/"), "GET, HEAD, POST");
        assert_eq!(allow("/experiments/{id}"), "GET, HEAD, DELETE");
        assert_eq!(allow("/queue/pause"), "POST");
        assert_eq!(allow("/batches/{name}"), "GET, HEAD");
        assert_eq!(allow("/Blast.cgi"), "GET, HEAD, POST");
    }
}
