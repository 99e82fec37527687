//! The routes the router answers, listed once: by method, path pattern and
//! what they answer with.
//!
//! The metrics count requests by these patterns (`/experiments/{id}`, never a
//! path with an id in it), and the tests hold three things to one another:
//! the router's arms (read from its source, below), this list, and the
//! OpenAPI document (`openapi.json`). A route added to the router goes into
//! [`ROUTES`] and, unless only a browser uses it, into the document; the
//! tests say which of the two is missing.

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
/// path segment each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub answers: Answers,
}

const fn route(method: &'static str, pattern: &'static str, answers: Answers) -> Route {
    Route {
        method,
        pattern,
        answers,
    }
}

use Answers::{Html, Json, Other};

/// Every route the router answers (HEAD goes with GET).
pub const ROUTES: &[Route] = &[
    route("GET", "/", Html),
    route("POST", "/", Json),
    route("GET", "/backlog", Json),
    route("GET", "/backlog/", Json),
    route("GET", "/experiments", Json),
    route("POST", "/experiments", Json),
    route("GET", "/experiments/{id}", Json),
    route("DELETE", "/experiments/{id}", Json),
    route("POST", "/experiments/{id}/retry", Json),
    route("POST", "/experiments/{id}/cancel", Html),
    route("GET", "/experiments/{id}/files/{name}", Other),
    route("GET", "/experiments/{id}/results/{name}", Other),
    route("GET", "/batches/{name}", Json),
    route("GET", "/events", Other),
    route("GET", "/pipelines", Json),
    route("GET", "/queue", Json),
    route("POST", "/queue/pause", Json),
    route("POST", "/queue/resume", Json),
    route("POST", "/queue/drain", Json),
    route("POST", "/queue/undrain", Json),
    route("POST", "/experiments/{id}/front", Json),
    route("GET", "/retention", Json),
    route("POST", "/retention/sweep", Json),
    route("GET", "/service-info", Json),
    route("GET", "/notifications/secret", Json),
    route("GET", "/metrics", Other),
    route("GET", "/openapi.json", Json),
    route("GET", "/ui/{name}", Html),
    route("GET", "/sign-in", Html),
    route("POST", "/sign-in", Html),
    route("POST", "/sign-out", Html),
    route("GET", "/Blast.cgi", Html),
    route("POST", "/Blast.cgi", Html),
    route("GET", "/blast/Blast.cgi", Html),
    route("POST", "/blast/Blast.cgi", Html),
];

/// The label of requests to a path no route answers.
pub const UNKNOWN: &str = "unknown";

/// The pattern of the route `path` is answered by (whatever the method), or
/// [`UNKNOWN`]. Where two patterns fit, the one with more fixed segments wins.
/// It runs for every request, so it allocates nothing.
pub fn pattern_of(path: &str) -> &'static str {
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut best: Option<(&'static str, usize)> = None;
    for route in ROUTES {
        if let Some(fixed) = fixed_segments(&route.pattern[1..], path) {
            if best.is_none_or(|(_, most)| fixed > most) {
                best = Some((route.pattern, fixed));
            }
        }
    }
    best.map_or(UNKNOWN, |(pattern, _)| pattern)
}

/// How many fixed segments of `pattern` `path` matches, if it matches them
/// all (a placeholder takes any one segment).
fn fixed_segments(pattern: &str, path: &str) -> Option<usize> {
    let (mut parts, mut segments) = (pattern.split('/'), path.split('/'));
    let mut fixed = 0;
    loop {
        match (parts.next(), segments.next()) {
            (None, None) => return Some(fixed),
            (Some(part), Some(_)) if is_placeholder(part) => {}
            (Some(part), Some(segment)) if part == segment => fixed += 1,
            _ => return None,
        }
    }
}

fn is_placeholder(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

#[cfg(test)]
mod tests {
    use super::*;
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
            assert_eq!(pattern_of(path), pattern, "{path}");
        }
    }

    /// A route's pattern with each placeholder written `{}`, as arms bind names of their own.
    fn shape(pattern: &str) -> String {
        pattern[1..]
            .split('/')
            .map(|part| if is_placeholder(part) { "{}" } else { part })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The (method, shape) of each arm of the router in `mod.rs`, read from
    /// its source; the method is `*` for an arm that takes any (a 405 arm).
    fn router_arms() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let start = source
            .find("match (segments.as_slice(), &method) {")
            .expect("the router's match in src/api/mod.rs");
        // `(PATTERNS, METHODS) [if GUARD] =>`: slice patterns joined by `|`,
        // then methods joined by `|`, or `_`.
        let arm = regex::Regex::new(
            r"\(\s*((?:\[[^\]]*\]\s*\|?\s*)+),\s*((?:&Method::[A-Z]+\s*\|?\s*)+|_)\s*,?\s*\)\s*(?:if\s.*?)?=>",
        )
        .unwrap();
        let slices = regex::Regex::new(r"\[[^\]]*\]").unwrap();
        let mut arms = BTreeSet::new();
        for found in arm.captures_iter(&source[start..]) {
            let methods: Vec<String> = if &found[2] == "_" {
                vec!["*".into()]
            } else {
                found[2]
                    .split('|')
                    .map(|m| m.trim().trim_start_matches("&Method::").to_owned())
                    .collect()
            };
            for slice in slices.find_iter(&found[1]) {
                // Its elements are literals (`"a" | "b"`) or bindings.
                let mut shapes = vec![Vec::<String>::new()];
                let inner = &slice.as_str()[1..slice.len() - 1];
                for element in inner.split(',').map(str::trim) {
                    let choices: Vec<String> = if element.starts_with('"') {
                        element
                            .split('|')
                            .map(|lit| lit.trim().trim_matches('"').to_owned())
                            .collect()
                    } else {
                        vec!["{}".into()]
                    };
                    shapes = shapes
                        .iter()
                        .flat_map(|shape| {
                            choices.iter().map(move |choice| {
                                let mut longer = shape.clone();
                                longer.push(choice.clone());
                                longer
                            })
                        })
                        .collect();
                }
                for shape in shapes {
                    for method in &methods {
                        arms.insert((method.clone(), shape.join("/")));
                    }
                }
            }
        }
        arms
    }

    #[test]
    fn the_router_and_the_list_of_routes_agree() {
        let arms = router_arms();
        // The reading of the source found the router (a change of its form shows here).
        assert!(
            arms.contains(&("GET".into(), "experiments/{}".into())),
            "{arms:?}"
        );
        assert!(
            arms.contains(&("*".into(), "queue/pause".into())),
            "{arms:?}"
        );
        assert!(
            arms.contains(&("GET".into(), "backlog/".into())),
            "{arms:?}"
        );
        let listed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_owned(), shape(route.pattern)))
            .collect();
        for (method, shape) in &arms {
            let known = if method == "*" {
                listed.iter().any(|(_, listed)| listed == shape)
            } else {
                listed.contains(&(method.clone(), shape.clone()))
            };
            assert!(
                known,
                "the router answers {method} /{shape} (src/api/mod.rs), which api::routes::ROUTES \
                 does not list: add it there (with {{name}} for each placeholder), and describe it \
                 in src/api/openapi.json unless only a browser uses it"
            );
        }
        for (method, shape) in &listed {
            assert!(
                arms.contains(&(method.clone(), shape.clone())),
                "api::routes::ROUTES lists {method} /{shape}, which the router does not answer"
            );
        }
    }
}
