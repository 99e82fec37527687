//! The server as the client commands see it: its address, the user's token,
//! one request at a time over plain HTTP (blocking: a command waits for its
//! answer anyway), and what its refusals mean, in its own words and with
//! what to do about them.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;
use ureq::http::{self, Request, Response};

use super::failure::Failure;
use super::token::{self, Token};

/// The address a client talks to when neither `--server` nor `SEQSPOOL_URL`
/// says another: where `seqspool` serves by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000";

/// How long a connection may take to open: a server on the lab's network
/// answers in milliseconds; a wrong address should not hang a script.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an ordinary request may take, body included (an upload as large
/// as the server's default `--max-body`, 8 MiB, over a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest answer read into memory (a page of 1000 records is about
/// 1 MB); downloads stream to their files instead.
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// A seqspool server, as one command talks to it.
#[derive(Clone)]
pub struct Server {
    /// `http://host:port`, without a trailing `/`.
    base: String,
    agent: ureq::Agent,
    token: Option<Token>,
}

/// A request's body.
pub enum Upload {
    /// Bytes in memory, of this media type.
    Bytes(&'static str, Vec<u8>),
    /// A file, sent as it is read, of this media type.
    File(&'static str, std::fs::File),
    /// Standard input, sent as it is read (chunked), of this media type.
    Stdin(&'static str),
}

impl Server {
    /// The server at `url` (`http://host:port`, perhaps with a path prefix
    /// behind a proxy), talked to with `token` when there is one.
    pub fn new(url: &str, token: Option<Token>) -> Result<Server, Failure> {
        let base = url.trim_end_matches('/').to_owned();
        let scheme_ok = base
            .strip_prefix("http://")
            .is_some_and(|rest| !rest.is_empty());
        if !scheme_ok {
            return Err(Failure::Usage(if base.starts_with("https://") {
                format!(
                    "{url}: this client speaks plain http, as the server does; use the \
                     server's own address (http://HOST:PORT), not a proxy's https one"
                )
            } else {
                format!("{url} is not a server's address: give http://HOST:PORT (--server or SEQSPOOL_URL)")
            }));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .user_agent(format!("seqspool/{}", env!("CARGO_PKG_VERSION")))
            // The server answers JSON to every client asking for it; a
            // redirect is a page's (a browser's form), never a script's.
            .max_redirects(0)
            .accept_encoding("")
            .build()
            .into();
        Ok(Server { base, agent, token })
    }

    /// Its address, as the user gave it.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET path`, answered with JSON.
    pub fn get_json(&self, path: &str) -> Result<Value, Failure> {
        self.json("GET", path, None, REQUEST_TIMEOUT)
            .map(|(_, value)| value)
    }

    /// `GET path` that may be held by the server up to `wait` (`?wait=`).
    pub fn get_json_held(&self, path: &str, wait: Duration) -> Result<Value, Failure> {
        self.json("GET", path, None, wait + REQUEST_TIMEOUT)
            .map(|(_, value)| value)
    }

    /// `method path` with `upload`, answered with JSON: its status and body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        upload: Option<Upload>,
    ) -> Result<(u16, Value), Failure> {
        self.json(method, path, upload, REQUEST_TIMEOUT)
    }

    /// `GET path` as a stream of server-sent events, from after `last` (the
    /// id of the last event seen). `longest` ends it; the caller reconnects.
    pub fn events(
        &self,
        path: &str,
        last: Option<&str>,
        longest: Duration,
    ) -> Result<impl Read, Failure> {
        let mut request = self.request("GET", path, "text/event-stream");
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = self.run(request.body(()), path, Some(longest), "GET")?;
        Ok(response.into_body().into_reader())
    }

    /// `GET path` as a download: its answer, whose body the caller streams.
    pub fn download(&self, path: &str) -> Result<Response<ureq::Body>, Failure> {
        let request = self.request("GET", path, "*/*");
        self.run(request.body(()), path, None, "GET")
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        upload: Option<Upload>,
        timeout: Duration,
    ) -> Result<(u16, Value), Failure> {
        let mut request = self.request(method, path, "application/json");
        let response = match upload {
            None if method == "POST" => {
                self.run(request.body(&[][..]), path, Some(timeout), method)?
            }
            None => self.run(request.body(()), path, Some(timeout), method)?,
            Some(Upload::Bytes(media, bytes)) => {
                request = request.header("Content-Type", media);
                self.run(request.body(bytes), path, Some(timeout), method)?
            }
            Some(Upload::File(media, file)) => {
                // Answered before the body is sent when the server refuses
                // it anyway (a token it wants, a file too large).
                request = request
                    .header("Content-Type", media)
                    .header("Expect", "100-continue");
                self.run(request.body(file), path, Some(timeout), method)?
            }
            Some(Upload::Stdin(media)) => {
                request = request.header("Content-Type", media);
                self.run(request.body(std::io::stdin()), path, Some(timeout), method)?
            }
        };
        let status = response.status().as_u16();
        let body = read_all(response, method, path, &self.base)?;
        let value = serde_json::from_slice(&body).map_err(|err| {
            Failure::Unreachable(format!(
                "{method} {path}: the answer of {} is not JSON ({err}); is it a seqspool server?",
                self.base
            ))
        })?;
        Ok((status, value))
    }

    fn request(&self, method: &str, path: &str, accept: &str) -> http::request::Builder {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Accept", accept);
        if let Some(token) = &self.token {
            request = request.header("Authorization", token.header());
        }
        request
    }

    /// Sends `request`, and turns an error status into a [`Failure::Refused`]
    /// with the server's reason.
    fn run(
        &self,
        request: Result<Request<impl ureq::AsSendBody>, http::Error>,
        path: &str,
        timeout: Option<Duration>,
        method: &str,
    ) -> Result<Response<ureq::Body>, Failure> {
        let request = request
            .map_err(|err| Failure::Usage(format!("{method} {path} on {}: {err}", self.base)))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(timeout)
            .build();
        let response = self
            .agent
            .run(request)
            .map_err(|err| unreachable(&self.base, method, path, err))?;
        if response.status().as_u16() < 400 {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = read_all(response, method, path, &self.base).unwrap_or_default();
        let reason = reason_of(&body);
        Err(Failure::Refused {
            server: self.base.clone(),
            status,
            hint: self.hint(status, retry_after.as_deref()),
            reason,
        })
    }

    /// What to do about a refusal of `status`, where the client knows more
    /// than the server's words say.
    fn hint(&self, status: u16, retry_after: Option<&str>) -> Option<String> {
        match (status, &self.token) {
            (401, None) => Some(format!(
                "This server wants a user's token: set {var}=ssp_... (or --token-file FILE) to yours. \
                 An operator gives you one: `seqspool user add NAME` on the server.",
                var = token::VARIABLE
            )),
            (401, Some(token)) => Some(format!(
                "Check {} (this server does not know it), or ask an operator for a new one \
                 (`seqspool user rotate NAME` on the server).",
                token.described()
            )),
            (503, _) => retry_after.map(|secs| format!("The server asks to try again in {secs} s.")),
            _ => None,
        }
    }
}

/// The server's reason for a refusal: its JSON error's `msg` (with `field`
/// when the message does not name it), or the answer's text.
fn reason_of(body: &[u8]) -> String {
    if let Ok(Value::Object(error)) = serde_json::from_slice::<Value>(body) {
        if let Some(msg) = error.get("msg").and_then(Value::as_str) {
            return match error.get("field").and_then(Value::as_str) {
                Some(field) if !msg.contains(field) => format!("{msg} (field {field})"),
                _ => msg.to_owned(),
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    match text.trim() {
        "" => "no reason given".to_owned(),
        text => text.chars().take(500).collect(),
    }
}

fn read_all(
    response: Response<ureq::Body>,
    method: &str,
    path: &str,
    base: &str,
) -> Result<Vec<u8>, Failure> {
    response
        .into_body()
        .into_with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|err| unreachable(base, method, path, err))
}

/// A transport error in words: the server is not there, or went away.
fn unreachable(base: &str, method: &str, path: &str, err: ureq::Error) -> Failure {
    let why = match &err {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "the connection was refused: is the server running there? (--server or SEQSPOOL_URL)"
                .to_owned()
        }
        ureq::Error::HostNotFound => {
            "no such host: check the address (--server or SEQSPOOL_URL)".to_owned()
        }
        ureq::Error::Timeout(_) => "it did not answer in time".to_owned(),
        other => other.to_string(),
    };
    Failure::Unreachable(format!("{method} {path}: cannot reach {base}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_address_is_a_server() {
        assert_eq!(
            Server::new("http://lab-ws:8000/", None).unwrap().url(),
            "http://lab-ws:8000"
        );
        for bad in ["lab-ws:8000", "https://lab-ws", "http://", "ftp://x"] {
            let err = Server::new(bad, None).err().unwrap();
            assert_eq!(err.code(), 2, "{bad}");
        }
    }

    #[test]
    fn a_refusal_reads_as_the_servers_words() {
        assert_eq!(
            reason_of(br#"{"msg":"no experiment 000099","status_code":404}"#),
            "no experiment 000099"
        );
        assert_eq!(
            reason_of(br#"{"msg":"must be at most 12","status_code":422,"field":"param.k"}"#),
            "must be at most 12 (field param.k)"
        );
        assert_eq!(
            reason_of(br#"{"msg":"param.k: too big","status_code":422,"field":"param.k"}"#),
            "param.k: too big"
        );
        assert_eq!(reason_of(b"Bad Gateway\n"), "Bad Gateway");
        assert_eq!(reason_of(b""), "no reason given");
    }
}
