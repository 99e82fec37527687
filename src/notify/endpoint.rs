//! Where a notification is posted: an `http://` URL, checked once when it is
//! given (a submission's `notify_url`, the configuration's `[notify] url`).
//!
//! seqspool posts over plain HTTP only: no TLS client is built in, so an
//! `https://` URL is refused with a message that says so, rather than
//! accepted and failing a day of retries later.

use hyper::Uri;

/// Longest URL accepted: what browsers and servers commonly take, and far
/// beyond any receiver's address.
pub const MAX_URL_BYTES: usize = 2048;

/// A receiver's URL, checked: `http`, a host, no user name or password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL as it was given.
    text: String,
    /// The host to connect to (an IPv6 address without its brackets).
    host: String,
    port: u16,
    /// The `Host` header: the authority as written.
    authority: String,
    /// The request target: path and query.
    target: String,
}

impl Endpoint {
    /// Checks a URL; the error says what is wrong, in words for the person who gave it.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if text.len() > MAX_URL_BYTES {
            return Err(format!(
                "is {} bytes long; give a URL of at most {MAX_URL_BYTES} bytes",
                text.len()
            ));
        }
        let uri: Uri = text.parse().map_err(|_| {
            format!(
                "'{}' is not a URL; give one such as http://lab-bot.example.org:9000/seqspool",
                shown(text)
            )
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {
                return Err(
                    "is an https:// URL, which seqspool cannot post to (it has no TLS client); \
                     give an http:// URL on the lab's network, or a relay on this workstation"
                        .into(),
                )
            }
            _ => {
                return Err(format!(
                    "'{}' is not an http:// URL; give one such as http://lab-bot.example.org:9000/seqspool",
                    shown(text)
                ))
            }
        }
        let authority = uri.authority().ok_or_else(|| {
            "has no host; give one such as http://lab-bot.example.org:9000/seqspool".to_owned()
        })?;
        if authority.as_str().contains('@') {
            return Err(
                "carries a user name or password, which would be shown with the experiment; \
                 give the URL without them (the receiver checks the signature instead)"
                    .into(),
            );
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(
                "has no host; give one such as http://lab-bot.example.org:9000/seqspool".into(),
            );
        }
        let port = match authority.port() {
            Some(port) if port.as_u16() == 0 => {
                return Err("names port 0; give the receiver's port".into())
            }
            Some(port) => port.as_u16(),
            None => 80,
        };
        let target = uri
            .path_and_query()
            .map_or("/", |target| target.as_str())
            .to_owned();
        Ok(Endpoint {
            text: text.to_owned(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            authority: authority.as_str().to_owned(),
            target: if target.is_empty() {
                "/".into()
            } else {
                target
            },
        })
    }

    /// The URL as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the `Host` header says.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path and query the request is for.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// A URL as an error message quotes it: not all of a very long one.
fn shown(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_url_is_taken_apart() {
        let url = Endpoint::parse("http://lab-bot.example.org:9000/hooks/seqspool?lab=b").unwrap();
        assert_eq!(url.host(), "lab-bot.example.org");
        assert_eq!(url.port(), 9000);
        assert_eq!(url.authority(), "lab-bot.example.org:9000");
        assert_eq!(url.target(), "/hooks/seqspool?lab=b");
        let bare = Endpoint::parse("http://127.0.0.1").unwrap();
        assert_eq!((bare.port(), bare.target()), (80, "/"));
        let v6 = Endpoint::parse("http://[::1]:8080/x").unwrap();
        assert_eq!((v6.host(), v6.authority()), ("::1", "[::1]:8080"));
    }

    #[test]
    fn anything_but_a_plain_http_url_is_refused_with_the_reason() {
        for (text, says) in [
            ("https://lab.example.org/hook", "https"),
            ("ftp://lab.example.org/hook", "not an http:// URL"),
            ("lab.example.org/hook", "not a URL"),
            ("http://user:pw@lab.example.org/hook", "password"),
            ("http://lab.example.org:0/", "port 0"),
            ("http:///hook", "not a URL"),
            ("http://lab example.org/", "not a URL"),
            ("", "not a URL"),
        ] {
            let err = Endpoint::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        let long = format!("http://lab.example.org/{}", "a".repeat(MAX_URL_BYTES));
        assert!(Endpoint::parse(&long)
            .unwrap_err()
            .contains("at most 2048 bytes"));
    }
}
