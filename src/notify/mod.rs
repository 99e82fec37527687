//! Completion notifications: when an experiment ends (COMPLETE, failed or
//! CANCELED), seqspool tells whoever asked, as Standard Webhooks says: a
//! POST of a JSON event (`type`, `timestamp`, `data`: the record) with
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, to the
//! submission's `notify_url` and to the lab-wide `[notify] url`; and the same
//! event on the standard input of the lab's `[notify] on_finish` command.
//!
//! Who is told is fixed when the experiment is accepted (its `notify_url`,
//! and `notify_lab` when the configuration had a `[notify]` section), so a
//! change of the configuration never sends events for old experiments.
//!
//! Deliveries are durable: once the end is recorded, an outbox
//! ([`outbox::OUTBOX_FILE`]) is written in the experiment's directory before
//! the first attempt and after each one, and a failed delivery is tried again
//! on Standard Webhooks' schedule for a little more than a day, also across
//! restarts. The worker only hands the finished record over a channel; if the
//! server dies before the outbox is written, the next start finds the
//! finished experiment without one and writes it then. Every attempt runs on
//! a task of its own, bounded in time and in number, so a slow or dead
//! receiver never holds the worker, the queue or the HTTP side.

mod endpoint;
mod outbox;
mod secret;
mod send;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

pub use endpoint::Endpoint;
pub use outbox::{Delivery, Outbox, Status, Target, OUTBOX_FILE, RETRY_AFTER};
pub use secret::{Secret, SERVER_SECRET_FILE};

use crate::error::Error;
use crate::metrics::Metrics;
use crate::model::{Id, Record};
use crate::store::Store;
use crate::time::Timestamp;

/// Deliveries attempted at once, to all receivers; the others wait their turn.
const MAX_DELIVERIES: usize = 16;

/// Deliveries attempted at once to one receiver (a host and port, or the
/// `on_finish` command). A receiver that is down holds an attempt for its
/// whole timeout: it holds these few, never the others' turns, so one
/// scientist's laptop switched off delays nobody else's notifications.
const PER_RECEIVER: usize = 2;

/// The lab-wide notifications: the configuration file's `[notify]` section.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Where every experiment's end is posted.
    pub url: Option<Endpoint>,
    /// What signs the events posted to `url` (the server's own secret when
    /// none is given).
    pub secret: Option<Secret>,
    /// A program and its arguments, run without a shell when an experiment
    /// ends, with the event on its standard input.
    pub on_finish: Vec<String>,
}

impl Settings {
    /// Whether the lab is told of every experiment's end.
    pub fn is_on(&self) -> bool {
        self.url.is_some() || !self.on_finish.is_empty()
    }
}

/// `[notify]` as the configuration file writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    url: Option<String>,
    secret: Option<String>,
    on_finish: Option<Vec<String>>,
}

impl Table {
    /// Checks the section; a relative program path in `on_finish` is taken
    /// relative to `dir`, the configuration file's directory.
    pub fn build(self, dir: &Path) -> Result<Settings, String> {
        let url = self
            .url
            .map(|url| Endpoint::parse(&url).map_err(|err| format!("[notify] url {err}")))
            .transpose()?;
        let secret = self
            .secret
            .map(|secret| Secret::parse(&secret).map_err(|err| format!("[notify] secret: {err}")))
            .transpose()?;
        if secret.is_some() && url.is_none() {
            return Err(
                "[notify] gives a secret but no url: the secret signs what is posted to the url"
                    .into(),
            );
        }
        let mut on_finish = self.on_finish.unwrap_or_default();
        if let Some(program) = on_finish.first_mut() {
            if program.trim().is_empty() {
                return Err("[notify] on_finish starts with an empty program name".into());
            }
            let path = Path::new(program.as_str());
            if path.is_relative() && program.contains('/') {
                *program = dir.join(path).display().to_string();
            }
        }
        Ok(Settings {
            url,
            secret,
            on_finish,
        })
    }
}

/// Checks a submission's `notify_url`.
pub fn check_url(text: &str) -> Result<Endpoint, Error> {
    Endpoint::parse(text).map_err(|msg| Error::Invalid {
        field: "notify_url".into(),
        msg,
    })
}

/// Whether someone is to be told that `record` ended.
pub fn owed(record: &Record) -> bool {
    record.state.is_finished() && (record.notify_url.is_some() || record.notify_lab)
}

/// The notifications of one server: its handle for the worker and the routes.
pub struct Notifier {
    shared: Arc<Shared>,
    ended: mpsc::UnboundedSender<Record>,
}

struct Shared {
    store: Arc<Store>,
    settings: Settings,
    /// Signs what is posted to a submission's `notify_url`.
    server_secret: Secret,
    /// Test hook: stands for every wait of the schedule.
    backoff: Option<Duration>,
    slots: Semaphore,
    /// Each receiver's own share of the slots, while it has deliveries under way.
    receivers: Mutex<HashMap<String, Arc<Semaphore>>>,
    tasks: Mutex<JoinSet<()>>,
    /// Counts the attempts by outcome, for `GET /metrics`.
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Reads (or makes) the server's secret and starts delivering: first
    /// what `owed` (the experiments as recovered that [`owed`] picks) still
    /// wait for, then each end [`Notifier::ended`] hands over. `backoff`, a
    /// test hook, stands for every wait of the schedule.
    pub async fn start(
        store: Arc<Store>,
        settings: Settings,
        backoff: Option<Duration>,
        owed: Vec<Record>,
        metrics: Arc<Metrics>,
    ) -> Result<Notifier, Error> {
        let root = store.root().to_owned();
        let (server_secret, path) = blocking(move || secret::server_secret(&root)).await?;
        log_settings(&settings, &path);
        let shared = Arc::new(Shared {
            store,
            settings,
            server_secret,
            backoff,
            slots: Semaphore::new(MAX_DELIVERIES),
            receivers: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            metrics,
        });
        let (ended, receiver) = mpsc::unbounded_channel();
        shared.spawn(shared.clone().serve(owed, receiver));
        Ok(Notifier { shared, ended })
    }

    /// Whether the lab-wide notifications are on: experiments accepted now
    /// record it (`notify_lab`).
    pub fn lab_wide(&self) -> bool {
        self.shared.settings.is_on()
    }

    /// Hands over an experiment whose end is recorded on disk. Never waits:
    /// the worker calls it.
    pub fn ended(&self, record: &Record) {
        if owed(record) {
            // Closed only at shutdown: the next start finds the end without an outbox.
            let _ = self.ended.send(record.clone());
        }
    }

    /// The outbox of an experiment, as the record and the page show it.
    pub async fn outbox(&self, record: &Record) -> Option<Outbox> {
        if !owed(record) {
            return None;
        }
        let store = self.shared.store.clone();
        let id = record.id;
        blocking(move || Ok(read(&store, id))).await.ok().flatten()
    }

    /// Stops every delivery under way: what is pending stays in its outbox
    /// for the next start.
    pub fn close(&self) {
        self.shared
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort_all();
    }
}

impl Shared {
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Resumes what recovery found owed, then takes each end as it comes.
    async fn serve(self: Arc<Self>, owed: Vec<Record>, mut ended: mpsc::UnboundedReceiver<Record>) {
        let shared = self.clone();
        let pending = blocking(move || Ok(shared.recover(owed)))
            .await
            .unwrap_or_default();
        if !pending.is_empty() {
            log::info!("resuming {} pending notification(s)", pending.len());
        }
        for outbox in pending {
            self.schedule(outbox);
        }
        while let Some(record) = ended.recv().await {
            let shared = self.clone();
            if let Ok(Some(outbox)) = blocking(move || Ok(shared.create(&record))).await {
                self.schedule(outbox);
            }
        }
    }

    /// The outboxes still pending among those `owed`: each read from its
    /// experiment's directory, or written now for an end recorded just
    /// before the server stopped.
    fn recover(&self, owed: Vec<Record>) -> Vec<Outbox> {
        let mut pending = Vec::new();
        for record in owed {
            match self.store.read_own(record.id, OUTBOX_FILE) {
                Ok(Some(bytes)) => match serde_json::from_slice::<Outbox>(&bytes) {
                    Ok(outbox) if outbox.is_pending() => pending.push(outbox),
                    Ok(_) => {}
                    Err(err) => log::error!(
                        "experiment {}: its notifications' outbox ({OUTBOX_FILE}) cannot be read ({err}); \
                         they are not sent again",
                        record.id
                    ),
                },
                Ok(None) => {
                    log::info!(
                        "experiment {} ended ({}) without its notifications written: writing them now",
                        record.id,
                        record.state.as_str()
                    );
                    pending.extend(self.create(&record));
                }
                Err(err) => log::error!(
                    "experiment {}: reading its notifications' outbox: {err}",
                    record.id
                ),
            }
        }
        pending
    }

    /// Writes the outbox of a finished experiment and returns it; `None` if
    /// there is nobody to tell.
    fn create(&self, record: &Record) -> Option<Outbox> {
        let kind = outbox::event_type(record.state)?;
        let mut targets = Vec::new();
        if let Some(url) = &record.notify_url {
            targets.push(Target::NotifyUrl {
                url: url.to_string(),
            });
        }
        if record.notify_lab {
            if self.settings.url.is_some() {
                targets.push(Target::Lab);
            }
            if !self.settings.on_finish.is_empty() {
                targets.push(Target::OnFinish);
            }
        }
        if targets.is_empty() {
            return None;
        }
        let random = match secret::random_bytes::<8>() {
            Ok(random) => random,
            Err(err) => {
                log::error!(
                    "experiment {}: no random id for its event: {err}",
                    record.id
                );
                return None; // the next start tries again
            }
        };
        let outbox = Outbox::new(record, kind, targets, random);
        // Delivered all the same if this fails: without the file, the next
        // start sends it again, which receivers must take anyway.
        self.write(&outbox);
        Some(outbox)
    }

    fn write(&self, outbox: &Outbox) {
        let written = self.store.write_own(
            outbox.experiment,
            OUTBOX_FILE,
            outbox::NEXT_OUTBOX_FILE,
            &outbox.to_json(),
        );
        if let Err(err) = written {
            log::error!(
                "experiment {}: could not record its notifications: {err}",
                outbox.experiment
            );
        }
    }

    /// Starts a task for each pending delivery of `outbox`.
    fn schedule(self: &Arc<Self>, outbox: Outbox) {
        let pending: Vec<usize> = (0..outbox.deliveries.len())
            .filter(|&at| outbox.deliveries[at].state == Status::Pending)
            .collect();
        let outbox = Arc::new(tokio::sync::Mutex::new(outbox));
        for at in pending {
            self.spawn(self.clone().deliver(outbox.clone(), at));
        }
    }

    /// Makes delivery `at` of `outbox`, attempt after attempt, until it is
    /// delivered or given up, writing the outbox after each attempt.
    async fn deliver(self: Arc<Self>, outbox: Arc<tokio::sync::Mutex<Outbox>>, at: usize) {
        loop {
            let (event, due) = {
                let outbox = outbox.lock().await;
                let delivery = &outbox.deliveries[at];
                if delivery.state != Status::Pending {
                    return;
                }
                let event = Event {
                    id: outbox.id.clone(),
                    kind: outbox.kind.clone(),
                    experiment: outbox.experiment,
                    body: Bytes::from(outbox.body.clone()),
                    target: delivery.target.clone(),
                };
                (event, delivery.due(self.backoff))
            };
            let Some(due) = due else {
                let mut outbox = outbox.lock().await;
                outbox.deliveries[at].abandon("no attempt is left in the schedule".into());
                report(&event, &outbox.deliveries[at], &self.metrics);
                self.write_async(&outbox).await;
                return;
            };
            tokio::time::sleep(due.since(Timestamp::now())).await;
            let result = {
                let receiver = self.receiver(&event.target);
                let _own = receiver.acquire().await;
                let _any = self.slots.acquire().await;
                let result = self.attempt(&event).await;
                drop(_own);
                self.forget(&event.target, receiver);
                result
            };
            // The schedule's waits run from the end of an attempt, which may
            // have taken its whole timeout.
            let ended = Timestamp::now();
            let mut outbox = outbox.lock().await;
            let delivery = &mut outbox.deliveries[at];
            match result {
                Attempt::Done(result) => delivery.attempted(ended, result, self.backoff),
                Attempt::Never(why) => delivery.abandon(why),
            }
            report(&event, delivery, &self.metrics);
            self.write_async(&outbox).await;
        }
    }

    /// The slots of the receiver `target` names.
    fn receiver(&self, target: &Target) -> Arc<Semaphore> {
        let mut receivers = self.receivers.lock().unwrap_or_else(|p| p.into_inner());
        receivers
            .entry(receiver_key(target))
            .or_insert_with(|| Arc::new(Semaphore::new(PER_RECEIVER)))
            .clone()
    }

    /// Drops a receiver's slots once no delivery to it is under way or waiting.
    fn forget(&self, target: &Target, slots: Arc<Semaphore>) {
        let mut receivers = self.receivers.lock().unwrap_or_else(|p| p.into_inner());
        // Held by the map and by `slots` alone: nobody else waits for them.
        if Arc::strong_count(&slots) == 2 {
            receivers.remove(&receiver_key(target));
        }
    }

    async fn write_async(self: &Arc<Self>, outbox: &Outbox) {
        let shared = self.clone();
        let outbox = outbox.clone();
        let _ = blocking(move || {
            shared.write(&outbox);
            Ok(())
        })
        .await;
    }

    /// One attempt at telling `event.target` of the event.
    async fn attempt(&self, event: &Event) -> Attempt {
        let (url, secret) = match &event.target {
            Target::NotifyUrl { url } => match Endpoint::parse(url) {
                Ok(url) => (url, &self.server_secret),
                Err(err) => return Attempt::Never(format!("the notify_url {err}")),
            },
            Target::Lab => match &self.settings.url {
                Some(url) => (
                    url.clone(),
                    self.settings.secret.as_ref().unwrap_or(&self.server_secret),
                ),
                None => {
                    return Attempt::Never(
                        "the configuration no longer has a lab-wide url ([notify] url)".into(),
                    )
                }
            },
            Target::OnFinish => {
                if self.settings.on_finish.is_empty() {
                    return Attempt::Never(
                        "the configuration no longer has an on_finish command ([notify] on_finish)"
                            .into(),
                    );
                }
                let env = [
                    ("SEQSPOOL_EVENT_ID", event.id.clone()),
                    ("SEQSPOOL_EVENT_TYPE", event.kind.clone()),
                    ("EXPERIMENT_ID", event.experiment.to_string()),
                    (
                        "EXPERIMENT_DIR",
                        self.store.dir(event.experiment).display().to_string(),
                    ),
                ];
                return Attempt::Done(
                    send::run(
                        &self.settings.on_finish,
                        self.store.root(),
                        &env,
                        event.body.clone(),
                        send::COMMAND_TIMEOUT,
                    )
                    .await,
                );
            }
        };
        // Signed anew at each attempt: receivers refuse an old timestamp.
        let timestamp = Timestamp::now().millis() / 1000;
        let headers = [
            ("webhook-id", event.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                secret.sign(&event.id, timestamp, &event.body),
            ),
        ];
        Attempt::Done(send::post(&url, &headers, event.body.clone()).await)
    }
}

/// Which receiver a target is, for its share of the slots: a host and port,
/// whatever the path.
fn receiver_key(target: &Target) -> String {
    match target {
        Target::NotifyUrl { url } => match Endpoint::parse(url) {
            Ok(url) => format!("{}:{}", url.host().to_ascii_lowercase(), url.port()),
            Err(_) => url.clone(),
        },
        Target::Lab => "lab".into(),
        Target::OnFinish => "on_finish".into(),
    }
}

/// What one attempt is about.
struct Event {
    id: String,
    kind: String,
    experiment: Id,
    body: Bytes,
    target: Target,
}

/// What came of an attempt.
enum Attempt {
    /// It was made: delivered, or failed and worth another try.
    Done(Result<(), String>),
    /// It cannot be made, now or later.
    Never(String),
}

/// Tells how an attempt at a delivery went: the one place each outcome is
/// known (`delivered`, `retry`: failed, tried again later, `failed`: given
/// up), for the operator's log and for `GET /metrics`.
fn report(event: &Event, delivery: &Delivery, metrics: &Metrics) {
    let outcome = match delivery.state {
        Status::Delivered => "delivered",
        Status::Pending => "retry",
        Status::Failed => "failed",
    };
    metrics.webhook_delivery(outcome);
    let line = format!(
        "webhook delivery {} ({}) of experiment {} to {}: outcome={outcome} attempt={}",
        event.id,
        event.kind,
        event.experiment,
        event.target.label(),
        delivery.attempts
    );
    match (
        delivery.state,
        &delivery.last_error,
        delivery.next_attempt_at,
    ) {
        (Status::Delivered, ..) => log::info!("{line}"),
        (Status::Pending, error, next) => log::warn!(
            "{line}: {}; tried again at {}",
            error.as_deref().unwrap_or("failed"),
            next.map_or("once due".into(), |next| next.to_string())
        ),
        (Status::Failed, error, _) => {
            log::error!("{line}: {}; given up", error.as_deref().unwrap_or("failed"))
        }
    }
}

/// Runs a file operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| Error::Internal(format!("a file operation failed: {err}")))?
}

/// Reads an experiment's outbox, if it has one that can be read.
pub fn read(store: &Store, id: Id) -> Option<Outbox> {
    let bytes = store.read_own(id, OUTBOX_FILE).ok()??;
    serde_json::from_slice(&bytes).ok()
}

fn log_settings(settings: &Settings, server_secret: &Path) {
    if let Some(url) = &settings.url {
        log::info!(
            "notifications: every experiment's end is posted to {}:{} (signed with {})",
            url.host(),
            url.port(),
            if settings.secret.is_some() {
                "the secret of [notify]".to_owned()
            } else {
                format!("the server's secret, in {}", server_secret.display())
            }
        );
    }
    if let Some(program) = settings.on_finish.first() {
        log::info!("notifications: {program} is run when an experiment ends ([notify] on_finish)");
    }
    log::info!(
        "notifications: a submission's notify_url is signed with the server's secret, in {}",
        server_secret.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(toml: &str) -> Result<Settings, String> {
        toml::from_str::<Table>(toml)
            .map_err(|err| err.to_string())?
            .build(Path::new("/etc/seqspool"))
    }

    #[test]
    fn the_notify_section_is_checked_when_the_configuration_is_read() {
        let settings = table(
            r#"url = "http://lab-bot:9000/hook"
               secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
               on_finish = ["scripts/mail.sh", "lab@example.org"]"#,
        )
        .unwrap();
        assert_eq!(settings.url.unwrap().as_str(), "http://lab-bot:9000/hook");
        assert!(settings.secret.is_some());
        assert_eq!(
            settings.on_finish,
            ["/etc/seqspool/scripts/mail.sh", "lab@example.org"]
        );
        // A program found on the PATH stays as it is.
        let settings = table(r#"on_finish = ["mail-lab"]"#).unwrap();
        assert_eq!(settings.on_finish, ["mail-lab"]);
        assert!(settings.is_on());
        assert!(!table("").unwrap().is_on());

        for (toml, says) in [
            (
                r#"url = "https://lab-bot/hook""#,
                "[notify] url is an https:// URL",
            ),
            (
                r#"url = "http://lab-bot/hook"
                secret = "hunter2""#,
                "[notify] secret: a secret starts with whsec_",
            ),
            (
                r#"secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw""#,
                "no url",
            ),
            (r#"on_finish = [""]"#, "empty program name"),
            (r#"on_finish = "mail-lab""#, "invalid type"),
            (r#"urls = "http://lab-bot/""#, "unknown field"),
        ] {
            let err = table(toml).unwrap_err();
            assert!(err.contains(says), "{toml}: {err}");
        }
    }
}
