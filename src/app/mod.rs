//! The state every route shares, and the operations the JSON API, the pages
//! and NCBI's API perform, each written once: reading an experiment here, and
//! one file for each change: [`submit`] (the one way a submission is
//! accepted), [`cancel`], [`retry`], the operator's [`pause`], [`drain`] and
//! [`front`], and the [`retention`] sweeps.
//!
//! Nothing here waits on the worker or on a processing command: an operation
//! answers from the in-memory index, or hands queries to the intake and waits
//! only until their experiments are durable. File operations run on tokio's
//! blocking pool.

mod cancel;
mod drain;
mod front;
mod pause;
mod retention;
mod retry;
mod submit;

pub use cancel::Cancel;
pub use retention::spawn_sweeps;

use std::sync::Arc;

use serde::Deserialize;

use crate::access::{Access, Viewer};
use crate::config::Config;
use crate::error::Error;
use crate::http::body::BodyBudget;
use crate::http::host::Hosts;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::model::{FileInfo, Id, Record, State};
use crate::pipeline::Catalog;
use crate::query::Limits;
use crate::queue::{Filter, Queue, View};
use crate::store::Store;

/// The largest page of experiments a client may ask for: a listing is built under the index lock.
pub const MAX_PAGE: usize = 1000;

/// Everything the handlers share.
pub struct App {
    pub config: Arc<Config>,
    pub limits: Limits,
    /// The pipelines offered.
    pub catalog: Arc<Catalog>,
    /// The BLAST databases found, and what NCBI's URL API offers over them now.
    pub(crate) shelf: Arc<crate::blast::shelf::Shelf>,
    pub store: Arc<Store>,
    pub queue: Arc<Queue>,
    /// What `GET /metrics` shows; the queue feeds it, the router counts requests in it.
    pub metrics: Arc<Metrics>,
    pub intake: Intake,
    /// The retention sweeps: when the next comes, what the last removed.
    pub sweeps: crate::retention::Sweeps,
    /// Wakes the worker when it sleeps (after a resume).
    pub wake: tokio::sync::mpsc::Sender<()>,
    /// The memory request bodies may hold, across all connections, and how long one may stall.
    pub bodies: BodyBudget,
    /// The host names requests may name.
    pub hosts: Hosts,
    /// Who may do what.
    pub access: Access,
    /// Tells whoever asked when an experiment ends.
    pub notifier: Arc<crate::notify::Notifier>,
    /// The event streams and waits open, and how many may be.
    pub streams: Arc<crate::events::Streams>,
}

impl App {
    /// The secret the receivers of `viewer` verify their notifications
    /// with, and whose it is: a user's own, or (access open, no token) their
    /// client address's. Anybody else must sign in first.
    pub async fn notification_secret(
        &self,
        viewer: &Viewer,
    ) -> Result<(String, crate::notify::Secret), Error> {
        if viewer.user.is_none() && !viewer.may_write() {
            return Err(Error::Unauthenticated {
                msg: "a notifications secret is a user's: sign in on the page, or send \
                      Authorization: Bearer TOKEN (the operator gives tokens out)"
                    .into(),
                invalid_token: false,
            });
        }
        let who = viewer.name();
        let secret = self
            .notifier
            .secret_for(&who)
            .await
            .map_err(Error::Internal)?;
        Ok((who, secret))
    }

    fn view(&self, record: &Record) -> View {
        self.queue
            .get(record.id)
            .unwrap_or_else(|| View::finished(record))
    }

    /// An experiment as the index has it.
    pub fn experiment(&self, id: Id) -> Result<View, Error> {
        self.queue.get(id).ok_or_else(|| no_experiment(id))
    }

    /// The files of an experiment's directory (none if it cannot be listed).
    pub async fn files(&self, id: Id) -> Vec<FileInfo> {
        let store = self.store.clone();
        blocking(move || store.files(id)).await.unwrap_or_default()
    }
}

/// Where a batch stands, in the words of a plate: finished or not, and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub total: usize,
    /// COMPLETE.
    pub complete: usize,
    /// EXECUTOR_ERROR and SYSTEM_ERROR.
    pub failed: usize,
    pub canceled: usize,
    pub running: usize,
    pub queued: usize,
}

impl Progress {
    pub fn of(counts: &[usize; 6]) -> Progress {
        let count = |state: State| counts[state.index()];
        Progress {
            total: counts.iter().sum(),
            complete: count(State::Complete),
            failed: count(State::ExecutorError) + count(State::SystemError),
            canceled: count(State::Canceled),
            running: count(State::Running),
            queued: count(State::Queued),
        }
    }

    /// Experiments that will not change any more.
    pub fn finished(&self) -> usize {
        self.complete + self.failed + self.canceled
    }
}

/// The error for a batch the index does not hold.
pub fn no_batch(batch: Id) -> Error {
    Error::NotFound(format!("no batch {batch}"))
}

/// The error for an id the index does not hold.
pub fn no_experiment(id: Id) -> Error {
    Error::NotFound(format!("no experiment {id}"))
}

/// Parses an experiment id from a path segment; anything else is "not found".
pub fn parse_id(text: &str) -> Result<Id, Error> {
    text.parse()
        .map_err(|()| Error::NotFound(format!("no experiment '{text}'")))
}

/// Longest reason an operator may give for a pause or a drain.
pub const MAX_REASON_CHARS: usize = 500;

/// The reason given in `?reason=`, trimmed, or `default` when none was given.
pub fn reason_of(query_string: Option<&str>, default: &str) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Params {
        reason: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let reason = params
        .reason
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| default.to_owned());
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field: "reason".into(),
            msg: format!("give at most {MAX_REASON_CHARS} printable characters"),
        });
    }
    Ok(reason)
}

/// The experiment id a query string's `name` gives, if it gives one (an
/// empty value gives none); anything else is malformed.
pub fn id_param(name: &str, text: Option<String>) -> Result<Option<Id>, Error> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|()| Error::Malformed(format!("{name} '{t}' is not an experiment id")))
        })
        .transpose()
}

/// Runs a file operation on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| Error::Internal(format!("a file operation failed: {err}")))?
}

/// The listing `?state=&batch=&submitted_by=&mine=&limit=&page_token=`
/// asks for; without a `limit`, `page` says how many, given the batch asked
/// for. `mine=1` is what `viewer` submitted.
pub fn listing(
    query_string: Option<&str>,
    viewer: &Viewer,
    page: impl FnOnce(Option<Id>) -> usize,
) -> Result<Filter, Error> {
    #[derive(Deserialize)]
    struct Params {
        state: Option<String>,
        batch: Option<String>,
        submitted_by: Option<String>,
        mine: Option<String>,
        limit: Option<usize>,
        page_token: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query_string.unwrap_or(""))
        .map_err(|err| Error::Malformed(format!("malformed query string: {err}")))?;
    let state = match params.state.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<State>().map_err(|()| {
            let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            Error::Malformed(format!(
                "state '{text}' is not one of {}",
                states.join(", ")
            ))
        })?),
    };
    let batch = id_param("batch", params.batch)?;
    let limit = params.limit.unwrap_or_else(|| page(batch));
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::Malformed(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let mine = match params.mine.as_deref() {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true" | "yes" | "on") => true,
        Some(other) => {
            return Err(Error::Malformed(format!(
                "mine '{other}' is neither 1 nor 0"
            )))
        }
    };
    let submitted_by = match mine {
        true => Some(viewer.name()),
        false => params.submitted_by.filter(|by| !by.is_empty()),
    };
    Ok(Filter {
        state,
        batch,
        submitted_by,
        before: id_param("page_token", params.page_token)?,
        limit,
    })
}
