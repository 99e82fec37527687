//! The one error type of seqspool.
//!
//! Each variant names what went wrong in seqspool's own terms (the input was
//! malformed, the queue is full, a file could not be written) with the context
//! needed to act on it. It knows nothing of HTTP: `http::respond` is the one
//! place that turns an error into a status and an answer.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// What went wrong, with enough context to act on it.
#[derive(Debug)]
pub enum Error {
    /// The request cannot be read: bad form encoding, bad JSON, a bad query string.
    Malformed(String),
    /// One input field is invalid; `field` names it for the client.
    Invalid {
        field: Cow<'static, str>,
        msg: String,
    },
    /// The body, or a batch, is larger than a configured limit.
    TooLarge(String),
    /// The client took too long to send its request.
    TooSlow(String),
    /// The body is in a format this route does not take.
    UnsupportedFormat(String),
    /// The request came from a page of another site.
    CrossSite(String),
    /// The request names a host this server is not reached by: a page of
    /// another site whose name was made to point here (DNS rebinding), or a
    /// name the operator has not allowed yet.
    UnknownHost(String),
    /// The request needs a user and names none, or a token that is nobody's
    /// (`invalid_token`): the client should send `Authorization: Bearer TOKEN`.
    Unauthenticated { msg: String, invalid_token: bool },
    /// The user who sent the request may not do this (another's experiment,
    /// a queue control for admins).
    Forbidden(String),
    /// No such route, experiment or file.
    NotFound(String),
    /// The route exists, but not with this method; `allow` lists the methods it takes.
    WrongMethod { allow: &'static str },
    /// The request does not fit the experiment's state, e.g. cancelling a finished one.
    WrongState(String),
    /// The queue holds `--capacity` experiments already.
    QueueFull { capacity: usize },
    /// The server is shutting down and takes no new experiments.
    ShuttingDown,
    /// An operator is draining the server: it takes no new experiments until
    /// they reopen it, and finishes what is queued. The message says who, since
    /// when and why. Not a short wait, so no `Retry-After`.
    Draining(String),
    /// The server is too busy receiving other requests to take this one now.
    Busy(String),
    /// A file operation failed: `op` says what we were doing, `path` where.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// An experiment's directory, or seqspool's record in it, is not what
    /// seqspool made any more: replaced by a link, a file or a pipe, hard-linked
    /// to a file elsewhere, or removed. Only a processing command (it runs there
    /// with seqspool's rights) or a person by hand does that, and seqspool
    /// refuses to follow it. See [`Error::is_experiment_fault`].
    Tampered {
        op: &'static str,
        path: PathBuf,
        why: &'static str,
    },
    /// Any other failure inside seqspool.
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
            Error::Io { op, path, source } => Error::Io {
                op,
                path: path.clone(),
                source: copy_io_error(source),
            },
            Error::Tampered { op, path, why } => Error::Tampered {
                op,
                path: path.clone(),
                why,
            },
            other => Error::Internal(other.to_string()),
        }
    }

    /// Whether the same request may succeed later, unchanged: the server is
    /// full or stopping, not broken, so this is no error to log.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Error::QueueFull { .. } | Error::ShuttingDown | Error::Busy(_)
        )
    }

    /// Whether the server refuses on purpose, as an operator asked (it is
    /// draining): no error to log, and no `Retry-After`, since nobody knows when.
    pub fn is_by_order(&self) -> bool {
        matches!(self, Error::Draining(_))
    }

    /// Whether the disk is full: the operator fixes that differently from any other failure.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, Error::Io { source, .. } if is_out_of_space(source))
    }

    /// Whether the failure passes by itself (see [`passes`]).
    pub fn passes(&self) -> bool {
        matches!(self, Error::Io { source, .. } if passes(source))
    }

    /// Whether the failure is the fault of one experiment, not of the
    /// workstation: its directory (or the record in it) was replaced or removed
    /// ([`Error::Tampered`]), which a processing command can do to its own
    /// directory, and a hostile one to another's. Such a failure must end or
    /// skip that experiment alone and never pause the queue: a command must
    /// harm only its own experiment. Any other store failure (a full disk, an
    /// I/O error, a permission refused) is the workstation's.
    pub fn is_experiment_fault(&self) -> bool {
        matches!(self, Error::Tampered { .. })
    }

    /// The input field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn copy_io_error(source: &io::Error) -> io::Error {
    match source.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(source.kind(), source.to_string()),
    }
}

/// Whether an operating-system error passes by itself: out of file
/// descriptors, processes or memory for a moment, which a retry a little
/// later may not meet. Anything else (the disk is full, a program is
/// missing, a permission is wrong) lasts until someone fixes it.
pub fn passes(err: &io::Error) -> bool {
    use rustix::io::Errno;
    let passing = [Errno::MFILE, Errno::NFILE, Errno::NOMEM, Errno::AGAIN];
    err.raw_os_error()
        .is_some_and(|code| passing.iter().any(|errno| errno.raw_os_error() == code))
}

/// True for "no space left on device" and "disk quota exceeded".
pub fn is_out_of_space(err: &io::Error) -> bool {
    let full = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT].map(|e| e.raw_os_error());
    err.raw_os_error().is_some_and(|code| full.contains(&code))
        || err.kind() == io::ErrorKind::StorageFull
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(msg)
            | Error::TooLarge(msg)
            | Error::TooSlow(msg)
            | Error::Busy(msg)
            | Error::UnsupportedFormat(msg)
            | Error::CrossSite(msg)
            | Error::UnknownHost(msg)
            | Error::Unauthenticated { msg, .. }
            | Error::Forbidden(msg)
            | Error::NotFound(msg)
            | Error::WrongState(msg)
            | Error::Draining(msg)
            | Error::Internal(msg) => f.write_str(msg),
            Error::Invalid { field, msg } => write!(f, "{field}: {msg}"),
            Error::WrongMethod { allow } => write!(f, "method not allowed here; this route takes {allow}"),
            Error::QueueFull { capacity } => write!(
                f,
                "the queue is full ({capacity} experiments waiting); nothing was written, try again later"
            ),
            Error::ShuttingDown => f.write_str("the server is shutting down; nothing was written, try again shortly"),
            Error::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            Error::Tampered { op, path, why } => write!(f, "{op} {}: {why}", path.display()),
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
    fn a_full_disk_is_told_apart_from_other_write_failures() {
        let nospc = rustix::io::Errno::NOSPC.raw_os_error();
        let full = Error::io("writing", "/x", io::Error::from_raw_os_error(nospc));
        assert!(full.is_out_of_space());
        assert!(full.again().is_out_of_space());
        let eacces = rustix::io::Errno::ACCESS.raw_os_error();
        let denied = Error::io("writing", "/x", io::Error::from_raw_os_error(eacces));
        assert!(!denied.is_out_of_space());
        assert_eq!(
            denied.to_string(),
            "writing /x: Permission denied (os error 13)"
        );
    }

    #[test]
    fn an_experiment_tampered_with_is_its_own_fault_not_the_workstations() {
        let tampered = Error::Tampered {
            op: "writing the record of",
            path: "/x/000007".into(),
            why: "the experiment's directory was removed",
        };
        assert!(tampered.is_experiment_fault());
        assert!(tampered.again().is_experiment_fault());
        assert!(!tampered.is_out_of_space());
        assert_eq!(
            tampered.to_string(),
            "writing the record of /x/000007: the experiment's directory was removed"
        );
        let eio = rustix::io::Errno::IO.raw_os_error();
        let failed = Error::io("writing", "/x", io::Error::from_raw_os_error(eio));
        assert!(!failed.is_experiment_fault());
    }

    #[test]
    fn an_invalid_field_is_named() {
        let err = Error::Invalid {
            field: "query_name".into(),
            msg: "is empty".into(),
        };
        assert_eq!(err.field(), Some("query_name"));
        assert_eq!(err.to_string(), "query_name: is empty");
    }
}
