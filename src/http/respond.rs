//! How answers are shaped: JSON, pages, redirects, files, and the one place
//! where an [`Error`] becomes a response.
//!
//! A browser and a script that meet the same error get the same status and
//! the same headers (`Retry-After`, `Allow`, ...); only the body differs: a
//! page for the one, `{"msg", "status_code", "field"?}` (the GA4GH shape) for
//! the other.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::Body;
use crate::error::Error;

/// Seconds a client is told to wait when the queue is full or the server is stopping.
pub const RETRY_AFTER_SECS: u64 = 10;

/// What a page may load and do: scripts, styles and images from this server
/// only, no inline script, no framing; forms may only post here.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                           connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The HTTP status an error answers with.
pub fn status(err: &Error) -> StatusCode {
    match err {
        Error::Malformed(_) => StatusCode::BAD_REQUEST,
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
        Error::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::CrossSite(_) => StatusCode::FORBIDDEN,
        Error::UnknownHost(_) => StatusCode::MISDIRECTED_REQUEST,
        Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::WrongMethod { .. } => StatusCode::METHOD_NOT_ALLOWED,
        // The experiment's directory was replaced: that one experiment's state, not the server's.
        Error::WrongState(_) | Error::Tampered { .. } => StatusCode::CONFLICT,
        Error::QueueFull { .. } | Error::ShuttingDown | Error::Busy(_) | Error::Draining(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        err if err.is_out_of_space() => StatusCode::INSUFFICIENT_STORAGE,
        Error::Io { .. } | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Why a request was refused, in words: carried by an error's answer to the
/// one place that logs refused requests.
#[derive(Clone, Debug)]
pub struct Refusal(pub String);

/// The answer to an error: `page` (an HTML page that tells it in words) for a
/// browser, or the JSON error when `page` is `None`. Either way the status and
/// headers are the error's.
pub fn error(err: &Error, page: Option<String>) -> Response<Body> {
    #[derive(Serialize)]
    struct Answer<'a> {
        msg: String,
        status_code: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    }
    let status = status(err);
    if status.is_server_error() && !err.is_temporary() && !err.is_by_order() {
        log::error!("{err}");
    }
    let mut response = match page {
        Some(html) => self::page(status, html),
        None => json(
            status,
            &Answer {
                msg: err.to_string(),
                status_code: status.as_u16(),
                field: err.field(),
            },
        ),
    };
    let headers = response.headers_mut();
    if let Error::WrongMethod { allow } = err {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if err.is_temporary() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    if let Error::Unauthenticated { invalid_token, .. } = err {
        // RFC 6750: the scheme to use, and whether the token sent was the fault.
        let challenge = if *invalid_token {
            "Bearer realm=\"seqspool\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"seqspool\""
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Why, for the operator's log of refused requests (`api::handle`).
    response.extensions_mut().insert(Refusal(err.to_string()));
    response
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let mut body = serde_json::to_vec(value).expect("answers serialize");
    body.push(b'\n');
    whole(status, "application/json", body)
}

/// An answer whose body is all in memory.
pub fn whole(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An HTML page with the headers every page carries.
pub fn page(status: StatusCode, html: String) -> Response<Body> {
    let mut response = whole(status, "text/html; charset=utf-8", html);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages show live state: never serve one from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 303 See Other: where a browser goes after a form post succeeded.
pub fn see_other(location: &str) -> Response<Body> {
    let response = whole(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        format!("see {location}\n"),
    );
    with_location(response, location)
}

/// Adds a `Location` header (a path this server made, so always a valid value).
pub fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The policy a file written by a processing command is served under: it
/// is someone else's content, so it may run nothing, load nothing and reach
/// nothing of this site, shown inline or not.
const UNTRUSTED_POLICY: &str =
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'";

/// A file a processing command wrote, with the headers that keep it inert:
/// shown in the browser only when its type cannot run script (text, JSON,
/// raster images), downloaded under its own name otherwise (HTML, SVG, XML,
/// PDF, anything unknown), and always when `download` asks for it.
pub fn untrusted_file(name: &str, body: Body, length: u64, download: bool) -> Response<Body> {
    let (content_type, inline) = file_type(name);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(inline && !download, name),
    );
    // Data, never a page of this site: no sniffing it into HTML, no script.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UNTRUSTED_POLICY),
    );
    response
}

/// A download this server makes (an archive, a table), streamed: always an
/// attachment named `name`, never cached, since it changes while experiments run.
pub fn download(content_type: &'static str, name: &str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(false, name),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The type a result file is served with, by its extension, and whether it
/// may be shown inline.
pub fn file_type(name: &str) -> (&'static str, bool) {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "json" => ("application/json", true),
        "txt" | "tsv" | "csv" | "fasta" | "fa" | "faa" | "fna" | "fastq" | "fq" | "log" | "out"
        | "gff" | "gff3" | "gtf" | "bed" | "sam" | "vcf" | "aln" | "a3m" | "sto" | "nwk" | "md" => {
            ("text/plain; charset=utf-8", true)
        }
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "webp" => ("image/webp", true),
        // Types a browser would run script in, or show with plug-ins: downloads.
        "svg" => ("image/svg+xml", false),
        "html" | "htm" => ("text/html; charset=utf-8", false),
        "xml" => ("application/xml", false),
        "pdf" => ("application/pdf", false),
        "pdb" | "cif" => ("chemical/x-pdb", false),
        _ => ("application/octet-stream", false),
    }
}

/// `Content-Disposition` for a file named `name` (RFC 6266): an ASCII name
/// for old clients, and the exact name, percent-encoded, in `filename*`.
fn content_disposition(inline: bool, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn statuses_follow_what_went_wrong() {
        let nospc = rustix::io::Errno::NOSPC.raw_os_error();
        let full = Error::io("writing", "/x", io::Error::from_raw_os_error(nospc));
        assert_eq!(status(&full), StatusCode::INSUFFICIENT_STORAGE);
        let eacces = rustix::io::Errno::ACCESS.raw_os_error();
        let denied = Error::io("writing", "/x", io::Error::from_raw_os_error(eacces));
        assert_eq!(status(&denied), StatusCode::INTERNAL_SERVER_ERROR);
        let invalid = Error::Invalid {
            field: "query_name".into(),
            msg: "is empty".into(),
        };
        assert_eq!(status(&invalid), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn a_page_and_json_carry_the_same_status_and_headers() {
        for err in [
            Error::QueueFull { capacity: 3 },
            Error::WrongMethod { allow: "GET" },
            Error::NotFound("no".into()),
        ] {
            let as_json = error(&err, None);
            let as_page = error(&err, Some("<p>no</p>".into()));
            assert_eq!(as_json.status(), as_page.status());
            for name in [
                header::RETRY_AFTER,
                header::ALLOW,
                header::X_CONTENT_TYPE_OPTIONS,
            ] {
                assert_eq!(
                    as_json.headers().get(&name),
                    as_page.headers().get(&name),
                    "{name}"
                );
            }
        }
        let full = error(&Error::QueueFull { capacity: 3 }, Some(String::new()));
        assert_eq!(full.headers()[header::RETRY_AFTER], "10");
    }

    #[test]
    fn files_that_could_run_script_are_downloaded_and_names_are_quoted() {
        assert_eq!(
            file_type("report.HTML"),
            ("text/html; charset=utf-8", false)
        );
        assert_eq!(file_type("plot.svg"), ("image/svg+xml", false));
        assert_eq!(file_type("hits.tsv"), ("text/plain; charset=utf-8", true));
        assert_eq!(file_type("analysis.json"), ("application/json", true));
        assert_eq!(file_type("model"), ("application/octet-stream", false));
        assert_eq!(
            content_disposition(false, "a \"q\"\nb é.txt"),
            "attachment; filename=\"a _q__b _.txt\"; filename*=UTF-8''a%20%22q%22%0Ab%20%C3%A9.txt"
        );
        assert_eq!(
            content_disposition(true, "hits.tsv"),
            "inline; filename=\"hits.tsv\"; filename*=UTF-8''hits.tsv"
        );
    }
}
