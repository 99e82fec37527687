//! `GET /openapi.json`: the OpenAPI 3.1 document of the routes scripts use.
//!
//! It is a static file of the source tree, `openapi.json` beside this one,
//! written by hand and kept true by tests: `tests/it/openapi.rs` checks real
//! answers of every route against it, that it describes every route of
//! [`super::routes::ROUTES`] that is not only for a browser and no other, and
//! that each operation's `x-access` is what its route needs.

use std::sync::LazyLock;

use bytes::Bytes;
use hyper::{Response, StatusCode};

use super::call::Call;
use crate::error::Error;
use crate::http::{respond, Body};

/// The document as written in the source tree.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document as served: its `info.version` is this server's version.
static SERVED: LazyLock<Bytes> = LazyLock::new(|| {
    let mut document: serde_json::Value =
        serde_json::from_str(DOCUMENT).expect("src/api/openapi.json is JSON (a unit test checks)");
    document["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    let mut body = serde_json::to_vec_pretty(&document).expect("JSON values serialize");
    body.push(b'\n');
    Bytes::from(body)
});

/// `GET /openapi.json`: the document, as JSON.
pub(crate) async fn document(_: Call<'_>) -> Result<Response<Body>, Error> {
    Ok(respond::whole(
        StatusCode::OK,
        "application/json",
        SERVED.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every `$ref` in `value`, with where it is.
    fn refs<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => found.push((at.clone(), target)),
                        _ => refs(inner, format!("{at}/{key}"), found),
                    }
                }
            }
            Value::Array(items) => {
                for (n, inner) in items.iter().enumerate() {
                    refs(inner, format!("{at}/{n}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_json_whose_references_resolve() {
        let document: Value = serde_json::from_str(DOCUMENT)
            .unwrap_or_else(|err| panic!("src/api/openapi.json is not JSON: {err}"));
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1.")),
            "{}",
            document["openapi"]
        );
        let mut found = Vec::new();
        refs(&document, String::new(), &mut found);
        assert!(!found.is_empty());
        for (at, target) in found {
            let pointer = target.strip_prefix('#').unwrap_or_else(|| {
                panic!("{at}: '{target}' is not a reference inside the document")
            });
            assert!(
                document.pointer(pointer).is_some(),
                "{at}: '{target}' names nothing in the document"
            );
        }
        let served: Value = serde_json::from_slice(&SERVED).unwrap();
        assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
