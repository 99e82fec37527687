//! The one error type of seqspool, and the HTTP status each variant means.
//!
//! Every fallible path returns [`Error`]; `routes` is the only place that turns
//! one into a response, so a client always gets the same JSON shape
//! (`{"msg", "status_code", "field"?}`, as GA4GH services answer).

use std::fmt;
use std::io;
use std::path::PathBuf;

use hyper::StatusCode;

/// What went wrong, with enough context to act on it.
#[derive(Debug)]
pub enum Error {
    /// The request is malformed (bad form encoding, bad JSON, bad query string).
    BadRequest(String),
    /// One input field is invalid (422). `field` names it for the client.
    Invalid { field: &'static str, msg: String },
    /// The body, or a batch, is larger than a configured limit (413).
    TooLarge(String),
    /// The client took too long to send its request (408).
    TooSlow(String),
    /// The body's content type is not one this route takes (415).
    UnsupportedMediaType(String),
    /// The request came from a page of another site (403).
    Forbidden(String),
    /// No such route, experiment or file (404).
    NotFound(String),
    /// The route exists but not with this method (405); `allow` lists the methods it takes.
    MethodNotAllowed { allow: &'static str },
    /// The request conflicts with the experiment's state, e.g. cancelling a finished one (409).
    Conflict(String),
    /// The queue holds `--capacity` experiments already (503, with `Retry-After`).
    QueueFull { capacity: usize },
    /// The server is shutting down and takes no new experiments (503).
    ShuttingDown,
    /// The server is too busy receiving other requests to take this one now (503).
    Busy(String),
    /// A file operation failed: `op` says what we were doing, `path` where.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Any other failure inside seqspool (500).
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with what we were doing and where.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The same error once more, for each of the submissions one failed flush
    /// fails (an `io::Error` cannot be cloned; its OS error code and text can).
    pub fn again(&self) -> Error {
        match self {
            Error::Io { op, path, source } => {
                let source = match source.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(source.kind(), source.to_string()),
                };
                Error::Io {
                    op,
                    path: path.clone(),
                    source,
                }
            }
            other => Error::Internal(other.to_string()),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::QueueFull { .. } | Error::ShuttingDown | Error::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Io { source, .. } if is_out_of_space(source) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Io { .. } | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the same request may succeed later (503 with `Retry-After`):
    /// the server is full or stopping, not broken, so this is no error to log.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Error::QueueFull { .. } | Error::ShuttingDown | Error::Busy(_)
        )
    }

    /// The input field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// True for "no space left on device" and "disk quota exceeded": the disk is
/// full, which the operator fixes differently from any other write failure.
pub fn is_out_of_space(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || err.kind() == io::ErrorKind::StorageFull
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(msg)
            | Error::TooLarge(msg)
            | Error::TooSlow(msg)
            | Error::Busy(msg)
            | Error::UnsupportedMediaType(msg)
            | Error::Forbidden(msg)
            | Error::NotFound(msg)
            | Error::Conflict(msg)
            | Error::Internal(msg) => f.write_str(msg),
            Error::Invalid { field, msg } => write!(f, "{field}: {msg}"),
            Error::MethodNotAllowed { allow } => write!(f, "method not allowed here; this route takes {allow}"),
            Error::QueueFull { capacity } => write!(
                f,
                "the queue is full ({capacity} experiments waiting); nothing was written, try again later"
            ),
            Error::ShuttingDown => f.write_str("the server is shutting down; nothing was written, try again shortly"),
            Error::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_other_write_failures_are_500() {
        let full = Error::io("writing", "/x", io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        let denied = Error::io("writing", "/x", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(denied.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            denied.to_string(),
            "writing /x: Permission denied (os error 13)"
        );
    }

    #[test]
    fn an_invalid_field_is_named() {
        let err = Error::Invalid {
            field: "query_name",
            msg: "is empty".into(),
        };
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field(), Some("query_name"));
        assert_eq!(err.to_string(), "query_name: is empty");
    }
}
