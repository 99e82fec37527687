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
//! receiver never holds the worker, the queue or the HTTP side; and each
//! receiver (an origin: scheme, host and port) has a lane of its own, so a
//! silent one holds only its own deliveries back, never anyone else's.
//!
//! A `notify_url` reaches only public addresses, and those the lab allows
//! (`address`); each receiver verifies with a secret of its own (`secret`);
//! the `on_finish` command runs through a runner as the experiments'
//! commands do, and its run is recorded in the outbox before it starts, so
//! that a server killed meanwhile takes it down with it, and the next start
//! runs it again only once what was left of it is gone.

mod address;
mod endpoint;
mod on_finish;
mod outbox;
mod secret;
mod send;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

pub use address::{Allowance, Allowed};
pub use endpoint::Endpoint;
pub use outbox::{Delivery, Outbox, Running, Status, Target, OUTBOX_FILE};
pub use secret::{Secret, LAB_SECRET_FILE, ROOT_KEY_FILE};

use crate::error::Error;
use crate::exec::process;
use crate::exec::Signal;
use crate::metrics::Metrics;
use crate::model::{Id, Record};
use crate::store::Store;
use crate::time::Timestamp;

/// Deliveries attempted at once, to all receivers: each holds a connection
/// (one descriptor) for at most its timeouts. Enough for 64 receivers that
/// never answer, each holding its whole lane, beside everyone else's
/// deliveries; and a small share of the descriptors the server keeps aside
/// beyond its connections (a quarter of the open-files limit).
const MAX_DELIVERIES: usize = 128;

/// Deliveries attempted at once to one receiver, its lane (an origin: scheme,
/// host and port; the lab's URL; the `on_finish` command). A receiver that
/// is down holds an attempt for its whole timeout: it holds these few,
/// never the others' turns, so one scientist's laptop switched off delays
/// nobody else's notifications.
const PER_LANE: usize = 2;

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

/// Checks a submission's `notify_url` as a URL (where it may post is
/// checked by [`Notifier::check_destination`]).
pub fn check_url(text: &str) -> Result<Endpoint, Error> {
    Endpoint::parse(text).map_err(|msg| Error::Invalid {
        field: "notify_url".into(),
        msg,
    })
}

/// Parses one `notify_allow` entry, for the command line and the configuration file.
pub fn parse_allowed(text: &str) -> Result<Allowed, String> {
    Allowed::parse(text)
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
    /// What a `notify_url` may reach besides public addresses.
    allowance: Allowance,
    /// Signs what is posted to the lab's URL when `[notify]` gives no
    /// secret, and to the `notify_url` of an experiment from before users.
    lab_secret: Secret,
    /// Makes each user's and each address's secret.
    root_key: Secret,
    /// The binary whose runner runs the `on_finish` command.
    runner: PathBuf,
    /// Between SIGTERM and SIGKILL, for the `on_finish` command.
    grace: Duration,
    /// Test hook: stands for every wait of the schedule.
    backoff: Option<Duration>,
    slots: Semaphore,
    /// Each receiver's lane: its own share of the slots, while it has
    /// deliveries under way or waiting.
    lanes: Mutex<HashMap<String, Arc<Semaphore>>>,
    tasks: Mutex<JoinSet<()>>,
    /// The runs of the `on_finish` command under way; `None` once the server stops.
    commands: Mutex<Option<Commands>>,
    /// Counts the attempts by outcome, for `GET /metrics`.
    metrics: Arc<Metrics>,
}

/// What the notifier takes from the configuration (`Config::notifier`
/// makes it): notify never reads the configuration itself, which names this
/// room and so sits above it.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The lab-wide notifications: the configuration file's `[notify]` section.
    pub settings: Settings,
    /// Where a submission's `notify_url` may reach besides public addresses (`notify_allow`).
    pub allowed: Vec<Allowed>,
    /// The binary that runs the `on_finish` command (`seqspool __runner`).
    pub runner: PathBuf,
    /// Between SIGTERM and SIGKILL when the `on_finish` command is stopped.
    pub grace: Duration,
    /// The test hook `notify_backoff`, which stands for every wait of the schedule.
    pub backoff: Option<Duration>,
}

/// How to stop each run of the `on_finish` command under way, by experiment
/// and delivery.
type Commands = HashMap<(Id, usize), Sender<Signal>>;

impl Notifier {
    /// Reads (or makes) the lab's secret and the root key, and starts
    /// delivering: first what `owed` (the experiments as recovered that
    /// [`owed`] picks) still wait for, then each end [`Notifier::ended`]
    /// hands over, as `config` sets it up.
    pub async fn start(
        store: Arc<Store>,
        config: Setup,
        owed: Vec<Record>,
        metrics: Arc<Metrics>,
    ) -> Result<Notifier, Error> {
        let root = store.root().to_owned();
        let ((lab_secret, path), (root_key, _)) = blocking(move || {
            Ok((
                secret::kept(&root, LAB_SECRET_FILE)?,
                secret::kept(&root, ROOT_KEY_FILE)?,
            ))
        })
        .await?;
        let settings = config.settings;
        let allowance = Allowance::new(config.allowed);
        log_settings(&settings, &allowance, &path);
        let shared = Arc::new(Shared {
            store,
            settings,
            allowance,
            lab_secret,
            root_key,
            runner: config.runner,
            grace: config.grace,
            backoff: config.backoff,
            slots: Semaphore::new(MAX_DELIVERIES),
            lanes: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
            commands: Mutex::new(Some(HashMap::new())),
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

    /// Checks where a submission's `notify_url` posts: a host that is an
    /// address must be one notifications may reach (see `address`); a name
    /// is checked at each delivery, as it resolves then.
    pub fn check_destination(&self, url: &Endpoint) -> Result<(), Error> {
        self.shared
            .allowance
            .check_at_submission(url)
            .map_err(|msg| Error::Invalid {
                field: "notify_url".into(),
                msg,
            })
    }

    /// The secret that signs what is posted to the `notify_url`s of
    /// experiments submitted by `who` (a user's name, or a client address).
    pub async fn secret_for(&self, who: &str) -> Result<Secret, String> {
        self.shared
            .secret_for(Some(who))
            .await
            .map_err(|unsigned| match unsigned {
                Unsigned::Gone(why) | Unsigned::Unreadable(why) => why,
            })
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

    /// Stops every delivery under way (and the `on_finish` command with all
    /// it started): what is pending stays in its outbox for the next start.
    pub fn close(&self) {
        let commands = self
            .shared
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        for stop in commands.into_iter().flat_map(HashMap::into_values) {
            let _ = stop.send(Signal::Shutdown);
        }
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
                    Ok(outbox) if outbox.is_pending() => pending.push(self.interrupted(outbox)),
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

    /// Settles the runs of the `on_finish` command that `outbox` records as
    /// under way when the server stopped: whatever is left of them is killed
    /// (the runner kills them when the server dies, unless it was killed
    /// too), so that the command never runs beside itself; it runs again,
    /// once, as its delivery is still pending.
    fn interrupted(&self, mut outbox: Outbox) -> Outbox {
        let mut changed = false;
        for delivery in &mut outbox.deliveries {
            let Some(running) = delivery.running.take() else {
                continue;
            };
            changed = true;
            let killed = process::kill_run(&running.process, self.grace);
            log::warn!(
                "experiment {}: {} was running since {} when the server stopped{}; it runs again",
                outbox.experiment,
                delivery.target.label(),
                running.since,
                if killed > 0 {
                    format!(" (killed {killed} process(es) left of it)")
                } else {
                    String::new()
                }
            );
        }
        if changed {
            self.write(&outbox);
        }
        outbox
    }

    /// Writes the outbox of a finished experiment and returns it; `None` if
    /// there is nobody to tell.
    fn create(&self, record: &Record) -> Option<Outbox> {
        let kind = outbox::event_type(record.state)?;
        let mut targets = Vec::new();
        if let Some(url) = &record.notify_url {
            targets.push(Target::NotifyUrl {
                url: url.to_string(),
                signed_for: record.submitted_by.as_deref().map(str::to_owned),
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
        if let Err(err) = self.write_checked(outbox) {
            log::error!(
                "experiment {}: could not record its notifications: {err}",
                outbox.experiment
            );
        }
    }

    fn write_checked(&self, outbox: &Outbox) -> Result<(), Error> {
        self.store.write_own(
            outbox.experiment,
            OUTBOX_FILE,
            outbox::NEXT_OUTBOX_FILE,
            &outbox.to_json(),
        )
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
                let key = lane_key(&event.target);
                let lane = self.lane(&key);
                let _own = lane.acquire().await;
                let _any = self.slots.acquire().await;
                let result = self.attempt(&event, &outbox, at).await;
                drop(_own);
                self.forget(&key, lane);
                result
            };
            // The schedule's waits run from the end of an attempt, which may
            // have taken its whole timeout.
            let ended = Timestamp::now();
            let mut outbox = outbox.lock().await;
            let delivery = &mut outbox.deliveries[at];
            delivery.running = None;
            match result {
                Attempt::Done(result) => delivery.attempted(ended, result, self.backoff),
                Attempt::Never(why) => delivery.abandon(why),
                // The server stops: the next start settles the run and makes it again.
                Attempt::Interrupted => return,
            }
            report(&event, delivery, &self.metrics);
            self.write_async(&outbox).await;
        }
    }

    /// The lane `key` names (see [`lane_key`]).
    fn lane(&self, key: &str) -> Arc<Semaphore> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(PER_LANE)))
            .clone()
    }

    /// Drops a lane once no delivery to its receiver is under way or waiting.
    fn forget(&self, key: &str, lane: Arc<Semaphore>) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        // Held by the map and by `lane` alone: nobody else waits for it.
        if Arc::strong_count(&lane) == 2 {
            lanes.remove(key);
        }
    }

    /// The secret of whoever `who` names (a user's name, or a client
    /// address; none for the experiments from before users, which the lab's
    /// secret signs). A user's is made with their token's hash as well, so
    /// it changes with their token, and someone later given the same name
    /// gets another.
    async fn secret_for(&self, who: Option<&str>) -> Result<Secret, Unsigned> {
        let Some(who) = who else {
            return Ok(self.lab_secret.clone());
        };
        if let Ok(address) = who.parse::<IpAddr>() {
            let address = address.to_canonical().to_string();
            return Ok(self.root_key.derive("address", &[&address]));
        }
        let path = self.store.root().join(crate::access::users::USERS_FILE);
        let users = blocking(move || crate::access::users::read(&path))
            .await
            .map_err(|err| Unsigned::Unreadable(format!("the users cannot be read: {err}")))?;
        let user = users
            .users
            .iter()
            .find(|user| user.name == who)
            .ok_or_else(|| {
                Unsigned::Gone(format!(
                    "{who}, who submitted it, is no longer a user of this server: no secret of theirs signs it"
                ))
            })?;
        Ok(self
            .root_key
            .derive("user", &[&user.name, &user.token_sha256]))
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

    /// One attempt at telling `event.target` of the event, delivery `at` of `outbox`.
    async fn attempt(
        self: &Arc<Self>,
        event: &Event,
        outbox: &Arc<tokio::sync::Mutex<Outbox>>,
        at: usize,
    ) -> Attempt {
        let (url, addresses, secret) = match &event.target {
            Target::NotifyUrl { url, signed_for } => {
                let url = match Endpoint::parse(url) {
                    Ok(url) => url,
                    Err(err) => return Attempt::Never(format!("the notify_url {err}")),
                };
                let secret = match self.secret_for(signed_for.as_deref()).await {
                    Ok(secret) => secret,
                    Err(Unsigned::Gone(why)) => return Attempt::Never(why),
                    Err(Unsigned::Unreadable(why)) => return Attempt::Done(Err(why)),
                };
                // Resolved at each attempt, and connected to as checked.
                let addresses = match self.allowance.resolve(&url).await {
                    Ok(addresses) => addresses,
                    Err(address::Unreachable::Refused(why)) => {
                        return Attempt::Never(format!("refused: the notify_url {why}"))
                    }
                    Err(address::Unreachable::Unresolved(why)) => return Attempt::Done(Err(why)),
                };
                (url, addresses, secret)
            }
            Target::Lab => {
                let Some(url) = &self.settings.url else {
                    return Attempt::Never(
                        "the configuration no longer has a lab-wide url ([notify] url)".into(),
                    );
                };
                // The operator's own receiver: wherever it is.
                let addresses = match address::lookup(url).await {
                    Ok(addresses) => addresses,
                    Err(
                        address::Unreachable::Refused(why) | address::Unreachable::Unresolved(why),
                    ) => return Attempt::Done(Err(why)),
                };
                let secret = self.settings.secret.as_ref().unwrap_or(&self.lab_secret);
                (url.clone(), addresses, secret.clone())
            }
            Target::OnFinish => return self.run_on_finish(event, outbox, at).await,
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
        Attempt::Done(send::post(&url, &addresses, &headers, event.body.clone()).await)
    }
}

/// Which lane a target's deliveries take: its receiver's origin (scheme,
/// host and port, whatever the path and however the host is spelled), the
/// lab's URL, or the `on_finish` command.
fn lane_key(target: &Target) -> String {
    match target {
        Target::NotifyUrl { url, .. } => match Endpoint::parse(url) {
            Ok(url) => address::origin(&url),
            Err(_) => url.clone(),
        },
        Target::Lab => "lab".into(),
        Target::OnFinish => "on_finish".into(),
    }
}

/// Why no secret signs an event.
enum Unsigned {
    /// Whoever it was for is no longer a user: it never will.
    Gone(String),
    /// The users cannot be read now.
    Unreadable(String),
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
    /// The server stopped while it was made: it is made again at the next start.
    Interrupted,
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

fn log_settings(settings: &Settings, allowance: &Allowance, lab_secret: &Path) {
    if let Some(url) = &settings.url {
        log::info!(
            "notifications: every experiment's end is posted to {}:{} (signed with {})",
            url.host(),
            url.port(),
            if settings.secret.is_some() {
                "the secret of [notify]".to_owned()
            } else {
                format!("the lab's secret, in {}", lab_secret.display())
            }
        );
    }
    if let Some(program) = settings.on_finish.first() {
        log::info!("notifications: {program} is run when an experiment ends ([notify] on_finish)");
    }
    let allowed: Vec<String> = allowance.entries().iter().map(Allowed::to_string).collect();
    log::info!(
        "notifications: a submission's notify_url is signed with its submitter's own secret \
         (GET /notifications/secret), and reaches public addresses{}",
        if allowed.is_empty() {
            " only (notify_allow allows the lab's own networks)".to_owned()
        } else {
            format!(" and {} (notify_allow)", allowed.join(", "))
        }
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
