//! What a request's headers say about the client: whether it wants a page or
//! JSON, whether it came from a page of this server, what its body is.

use hyper::header::{self, HeaderMap, HeaderValue};

/// Whether the client prefers an HTML page to JSON: a browser does
/// (`text/html,...,*/*;q=0.8`); curl (`*/*`), scripts and the pages' own
/// `fetch` calls (`application/json`) get JSON, which stays the default.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (mut html, mut json, mut application, mut any) = (0.0f32, None, None, None);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            "application/json" => json = Some(q),
            "application/*" => application = Some(q),
            "*/*" => any = Some(q),
            _ => {}
        }
    }
    let json = json.or(application).or(any).unwrap_or(0.0);
    html > 0.0 && html > json
}

/// Whether a request came from a page of this server: the page a browser
/// names, in `Origin` or, when it sends none (older browsers, some privacy
/// settings), in `Referer`, is on the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let page = value(header::ORIGIN).or_else(|| value(header::REFERER));
    match (page, value(header::HOST)) {
        // A client that names no page is not a browser, or an old one: nothing to guard.
        (None, _) => true,
        (Some(page), Some(host)) => page.split_once("://").is_some_and(|(_, rest)| {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            authority.eq_ignore_ascii_case(host)
        }),
        (Some(_), None) => false,
    }
}

/// The media type of the request's body, lower case, without parameters
/// (`; charset=...`); empty when none is given.
pub fn media_type(headers: &HeaderMap) -> String {
    content_type(headers)
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The whole `Content-Type` (a multipart body's boundary is in it).
pub fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_every_other_client_json() {
        let accept = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            wants_html(&headers)
        };
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        ));
        assert!(accept("text/html"));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        assert!(!accept("application/json, text/html"));
        assert!(!accept("text/html;q=0, */*"));
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn a_request_from_another_site_is_told_apart() {
        let headers = |name, page: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("lab:8000"));
            headers.insert(name, HeaderValue::from_str(page).unwrap());
            headers
        };
        assert!(same_origin(&headers(header::ORIGIN, "http://lab:8000")));
        assert!(!same_origin(&headers(
            header::ORIGIN,
            "https://evil.example"
        )));
        assert!(!same_origin(&headers(header::ORIGIN, "null")));
        assert!(same_origin(&headers(header::REFERER, "http://lab:8000/")));
        assert!(same_origin(&headers(
            header::REFERER,
            "http://lab:8000/experiments?state=QUEUED"
        )));
        assert!(!same_origin(&headers(
            header::REFERER,
            "http://evil.example/lab:8000"
        )));
        assert!(!same_origin(&headers(
            header::REFERER,
            "http://lab:8000.evil.example/"
        )));
        assert!(same_origin(&HeaderMap::new()));
        // Origin, when sent, is what counts.
        let mut both = headers(header::ORIGIN, "https://evil.example");
        both.insert(
            header::REFERER,
            HeaderValue::from_static("http://lab:8000/"),
        );
        assert!(!same_origin(&both));
    }
}
