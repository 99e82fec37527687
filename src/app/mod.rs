//! The state every route shares, and the operations both the JSON API and the
//! pages perform (submit, cancel, read an experiment), so each is written once.
//!
//! Nothing here waits on the worker or on a processing command: an operation
//! answers from the in-memory index, or hands queries to the intake and waits
//! only until their experiments are durable. File operations run on tokio's
//! blocking pool.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;
use serde::Deserialize;

use crate::access::{Access, Viewer};
use crate::config::Config;
use crate::error::Error;
use crate::http::body::{self, BodyBudget};
use crate::http::host::Hosts;
use crate::http::negotiate;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::model::{Choice, FileInfo, Id, Record, State};
use crate::pipeline::Catalog;
use crate::query::{self, Limits};
use crate::queue::{Canceled, Filter, Queue, View, Waiting};
use crate::store::Store;
use crate::submission::{self, Accepted, Format, Submission};

/// The largest page of experiments a client may ask for: a listing is built under the index lock.
pub const MAX_PAGE: usize = 1000;

/// Everything the handlers share.
pub struct App {
    pub config: Arc<Config>,
    pub limits: Limits,
    /// The pipelines offered.
    pub catalog: Arc<Catalog>,
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

/// What a cancel did.
pub enum Cancel {
    /// It is CANCELED (now, or was already).
    Done(View),
    /// It is running; its run is being stopped and will end CANCELED.
    Stopping(View),
}

impl App {
    /// Reads a submission body in one of the `accepted` formats, within
    /// `--max-body` and the memory budget, and parses it.
    pub async fn read_submission(
        &self,
        request: Request<Incoming>,
        accepted: &[Format],
    ) -> Submission {
        let media = negotiate::media_type(request.headers());
        let format = match Format::of(&media, accepted) {
            Ok(format) => format,
            Err(err) => return Submission::failed(err),
        };
        let content_type = negotiate::content_type(request.headers()).to_owned();
        let query_string = request.uri().query().map(str::to_owned);
        // The permit holds the body's share of the budget until it is parsed.
        let (body, _permit) = match body::read(request, self.config.max_body, &self.bodies).await {
            Ok(read) => read,
            Err(err) => return Submission::failed(err),
        };
        submission::parse(
            format,
            &content_type,
            query_string.as_deref(),
            body,
            self.catalog.clone(),
            self.limits,
        )
        .await
    }

    /// Accepts queries as experiments of a pipeline, all or none, submitted
    /// `by` someone, and answers with their records as the index has them
    /// now (with their queue positions). Refused, with nothing written,
    /// when `by` may not write (see [`crate::access::Access::confirm_writer`]).
    pub async fn submit(&self, accepted: Accepted, by: &Viewer) -> Result<Vec<View>, Error> {
        let Accepted {
            queries,
            pipeline,
            params,
            upload,
            notify_url,
        } = accepted;
        if let Some(url) = &notify_url {
            self.notifier.check_destination(url)?;
        }
        // Asked again here, where every submission is made, whatever route
        // it came by: a user removed while their upload streamed in gets
        // nothing written.
        self.access.confirm_writer(by).await?;
        let choice = Choice {
            upload: upload.map(Arc::from),
            submitted_by: Some(by.name().into()),
            notify_url: notify_url.map(|url| url.as_str().into()),
            notify_lab: self.notifier.lab_wide(),
            ..Choice::new(&pipeline, params)
        };
        let records = self.intake.submit(queries, choice).await?;
        let ids: Vec<Id> = records.iter().map(|record| record.id).collect();
        let views = self.queue.get_all(&ids);
        Ok(records
            .iter()
            .zip(views)
            .map(|(record, view)| view.unwrap_or_else(|| View::finished(record)))
            .collect())
    }

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

    /// Cancels a queued or running experiment. A queued one is CANCELED on
    /// disk before the answer; if that cannot be written it was not
    /// cancelled (after a restart it would run), and waits on.
    pub async fn cancel(&self, id: Id, by: &Viewer) -> Result<Cancel, Error> {
        match self.queue.cancel(id)? {
            Canceled::Done { record, changed } => {
                if changed {
                    let store = self.store.clone();
                    let written = record.clone();
                    if let Err(err) = blocking(move || store.write_record(&written)).await {
                        self.queue.uncancel(id);
                        return Err(err);
                    }
                    log::info!("experiment {id} canceled while queued{}", by.by());
                    self.notifier.ended(&record);
                }
                Ok(Cancel::Done(View {
                    record,
                    position: None,
                    eta: Waiting::Done,
                }))
            }
            Canceled::Stopping(view) => {
                log::info!(
                    "experiment {id}: cancel requested while running{}; stopping its run",
                    by.by()
                );
                Ok(Cancel::Stopping(view))
            }
        }
    }
}

impl App {
    /// Queues a new experiment with the input, pipeline and parameters of a
    /// finished experiment that did not complete, linked both ways. It runs
    /// its pipeline as the configuration has it now, unless the pipeline is
    /// gone or no longer takes its parameters: then as it was accepted.
    pub async fn retry(&self, id: Id, by: &Viewer) -> Result<View, Error> {
        let original = self.experiment(id)?.record;
        match original.state {
            State::ExecutorError | State::SystemError | State::Canceled => {}
            State::Complete => {
                return Err(Error::WrongState(format!(
                    "experiment {id} completed; there is nothing to run again (submit it anew to repeat it)"
                )))
            }
            state => {
                return Err(Error::WrongState(format!(
                    "experiment {id} is {} and has not finished; it can run again once it has failed or was cancelled",
                    state.as_str()
                )))
            }
        }
        let store = self.store.clone();
        let input = blocking(move || {
            // A FASTQ read runs again with its qualities.
            let (mut file, name) = match store.open_file(id, crate::store::QUALITY_FILE) {
                Ok((file, _)) => (file, crate::store::QUALITY_FILE),
                Err(Error::NotFound(_)) => (
                    store.open_file(id, crate::store::QUERY_FILE)?.0,
                    crate::store::QUERY_FILE,
                ),
                Err(err) => return Err(err),
            };
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text)
                .map_err(|e| Error::io("reading", name, e))?;
            Ok(text)
        })
        .await?;
        // seqspool wrote this file from a query it accepted: it reads as one again.
        let queries = query::parse_records(&input, &self.limits)?;
        let current = self
            .catalog
            .get(&original.pipeline)
            .filter(|pipeline| pipeline.check_params(&original.params).is_ok());
        let mut choice = match current {
            Some(pipeline) => Choice::new(pipeline, original.params.clone()),
            None => Choice {
                pipeline: original.pipeline.clone(),
                params: original.params.clone(),
                command: original.command.clone(),
                definition: original.definition(),
                retry_of: None,
                upload: None,
                submitted_by: None,
                notify_url: None,
                notify_lab: false,
            },
        };
        choice.retry_of = Some(id);
        choice.submitted_by = Some(by.name().into());
        // Whoever asked to hear of the first run hears of this one.
        choice.notify_url = original.notify_url.clone();
        choice.notify_lab = self.notifier.lab_wide();
        let records = self.intake.submit(queries, choice).await?;
        let again = records[0].id;
        if let Some(linked) = self.queue.retried(id, again) {
            let store = self.store.clone();
            if let Err(err) = blocking(move || store.write_record(&linked)).await {
                // The new experiment is accepted all the same; only the back link is missing.
                log::error!("experiment {id}: could not record that {again} runs it again: {err}");
            }
        }
        log::info!("experiment {id} runs again as {again}{}", by.by());
        Ok(self.view(&records[0]))
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
    let id_param = |name: &str, text: Option<String>| -> Result<Option<Id>, Error> {
        text.filter(|t| !t.is_empty())
            .map(|t| {
                t.parse()
                    .map_err(|()| Error::Malformed(format!("{name} '{t}' is not an experiment id")))
            })
            .transpose()
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
