//! The host names this server answers to, against DNS rebinding.
//!
//! A page of another site can make its own name resolve to 127.0.0.1; the
//! browser then sends that page's requests here as if they were to its own
//! site, `Origin` and all, but with `Host: evil.example`. So the server
//! answers only to the names it is reached by: IP addresses (no other site can
//! make one its own), `localhost`, this machine's name, and the names the
//! operator allows (`--allow-host`), as Jupyter and webpack's dev server do.

use std::net::{Ipv4Addr, Ipv6Addr};

use hyper::header::{self, HeaderMap};
use hyper::Uri;

use crate::error::Error;

/// The longest host name (RFC 1035): a longer one is not echoed back.
const MAX_HOST_NAME: usize = 253;

/// The names, besides IP addresses, this server answers to.
#[derive(Clone, Debug)]
pub struct Hosts {
    /// Lower case, without a trailing dot: `localhost` first, then this
    /// machine's name, then the allowed ones.
    names: Vec<String>,
}

impl Hosts {
    /// `localhost`, this machine's name, and `allowed` (`--allow-host`).
    pub fn new(allowed: &[String]) -> Hosts {
        let own = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        Hosts::with_names(std::iter::once(own).chain(allowed.iter().cloned()))
    }

    fn with_names(names: impl Iterator<Item = String>) -> Hosts {
        let mut all = vec!["localhost".to_owned()];
        for name in names.map(|name| normal(&name)) {
            if !name.is_empty() && !all.contains(&name) {
                all.push(name);
            }
        }
        Hosts { names: all }
    }

    /// Refuses a request that names a host this server is not: in its
    /// `Host`, or in its target when that is a whole URL. A request that
    /// names none (HTTP/1.0) is no browser's and goes through.
    pub fn check(&self, headers: &HeaderMap, target: &Uri) -> Result<(), Error> {
        let host = headers.get(header::HOST).map(|host| host.to_str());
        let named = target.authority().map(|authority| Ok(authority.as_str()));
        for authority in host.into_iter().chain(named) {
            let authority = authority.unwrap_or("");
            if !self.answers(authority) {
                return Err(self.refusal(authority));
            }
        }
        Ok(())
    }

    /// Whether `authority` (`name`, `name:port`, `[v6]:port`) names this server.
    fn answers(&self, authority: &str) -> bool {
        let Some(name) = name_of(authority) else {
            return false;
        };
        if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok();
        }
        name.parse::<Ipv4Addr>().is_ok() || self.names.contains(&normal(name))
    }

    fn refusal(&self, authority: &str) -> Error {
        let name = name_of(authority).map(normal).filter(|name| {
            name.len() <= MAX_HOST_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        });
        let (this, add) = match &name {
            Some(name) => (format!("'{name}'"), name.as_str()),
            None => ("this host name".to_owned(), "NAME"),
        };
        Error::UnknownHost(format!(
            "{this} is not a name of this server; it answers to its ip addresses and to {}; \
             to reach it by another name, start it with --allow-host {add}",
            self.names.join(", ")
        ))
    }
}

/// The host name in an authority, without its port; `None` if it is malformed.
fn name_of(authority: &str) -> Option<&str> {
    let (name, port) = if authority.starts_with('[') {
        // An IPv6 literal holds colons of its own: the port comes after `]`.
        let (name, rest) = authority.split_at(authority.find(']')? + 1);
        match rest {
            "" => (name, None),
            rest => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    (port_ok && !name.is_empty()).then_some(name)
}

/// A host name as compared: lower case, without the trailing dot of a fully
/// qualified name (`lab-ws.example.org.` is `lab-ws.example.org`).
fn normal(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn hosts() -> Hosts {
        Hosts::with_names(["Lab-WS".to_owned(), "seqspool.lab.example".to_owned()].into_iter())
    }

    fn answers(authority: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(authority).unwrap());
        hosts().check(&headers, &Uri::from_static("/")).is_ok()
    }

    #[test]
    fn addresses_localhost_and_known_names_are_answered() {
        for authority in [
            "127.0.0.1",
            "127.0.0.1:8000",
            "10.1.2.3:80",
            "[::1]",
            "[::1]:8000",
            "[fe80::1]:8000",
            "localhost",
            "LOCALHOST:8000",
            "localhost.:8000",
            "lab-ws:8000",
            "seqspool.lab.example",
        ] {
            assert!(answers(authority), "{authority}");
        }
    }

    #[test]
    fn every_other_name_is_refused() {
        for authority in [
            "evil.example",
            "evil.example:8000",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "lab-ws.evil.example",
            "127.1",
            "::1",
            "[::1",
            "[not-v6]:80",
            "localhost:80x",
            "localhost:",
            "",
        ] {
            assert!(!answers(authority), "{authority}");
        }
    }

    #[test]
    fn a_whole_url_as_the_target_is_checked_too() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("localhost"));
        let target = Uri::from_static("http://evil.example/experiments");
        assert!(hosts().check(&headers, &target).is_err());
        assert!(hosts()
            .check(&HeaderMap::new(), &Uri::from_static("/"))
            .is_ok());
    }

    #[test]
    fn the_refusal_says_which_names_are_answered_and_how_to_add_one() {
        let err = hosts().refusal("Evil.Example:8000");
        assert_eq!(
            err.to_string(),
            "'evil.example' is not a name of this server; it answers to its ip addresses and to \
             localhost, lab-ws, seqspool.lab.example; to reach it by another name, start it with \
             --allow-host evil.example"
        );
        assert!(hosts()
            .refusal("<script>")
            .to_string()
            .starts_with("this host name is not"));
    }
}
