//! The outbox: one JSON file per finished experiment that has someone to
//! tell, `.notify.json` in its directory, written before the first attempt
//! and after each one. It holds the event exactly as it is sent (so every
//! attempt, also after a restart, sends the same id and the same bytes) and,
//! for each receiver, where its delivery stands.
//!
//! It is a hidden file: the file list and downloads leave it out, and the
//! JSON record and the page show what it says instead.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Id, ProcessIdentity, Record, State};
use crate::time::Timestamp;

/// The outbox's name in the experiment's directory.
pub const OUTBOX_FILE: &str = ".notify.json";
/// The next outbox, written beside it and then swapped with it.
pub const NEXT_OUTBOX_FILE: &str = ".notify.json.next";

/// The waits between attempts, after the first one (at once): Standard
/// Webhooks' own schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), eight
/// attempts over a little more than a day, so a receiver down for a night
/// still hears of the run.
pub(super) const RETRY_AFTER: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// One event and its deliveries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// `webhook-id`: the same for every attempt, also across restarts, so a
    /// receiver can tell a retry from a new event.
    pub id: String,
    /// `experiment.completed`, `experiment.failed` or `experiment.canceled`.
    #[serde(rename = "type")]
    pub kind: String,
    pub experiment: Id,
    /// The request body every attempt sends, byte for byte.
    pub body: String,
    pub deliveries: Vec<Delivery>,
}

/// Who is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    /// The `notify_url` the submission gave, signed with the secret of whoever
    /// submitted it (`signed_for`: a user's name, or a client address; none,
    /// for an experiment from before users, signs with the lab's secret).
    NotifyUrl {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed_for: Option<String>,
    },
    /// The configuration's `[notify] url`, as it is when the attempt is made.
    Lab,
    /// The configuration's `[notify] on_finish` command, as it is when the attempt is made.
    OnFinish,
}

impl Target {
    /// For the log (the lab's URL may carry a token: it is not written out).
    pub fn label(&self) -> String {
        match self {
            Target::NotifyUrl { url, .. } => url.clone(),
            Target::Lab => "the lab-wide URL".into(),
            Target::OnFinish => "the on_finish command".into(),
        }
    }
}

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not delivered yet; an attempt is due at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx (the command exited 0).
    Delivered,
    /// Every attempt failed, or there is no such receiver any more.
    Failed,
}

/// One receiver's delivery of the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    #[serde(flatten)]
    pub target: Target,
    pub state: Status,
    pub attempts: u32,
    /// When the last attempt ended: the schedule's waits run from there.
    #[serde(default)]
    pub last_attempt_at: Option<Timestamp>,
    /// When the next attempt is due, while pending (as the schedule was when
    /// it was written; a restart computes it again from `last_attempt_at`).
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
    /// What went wrong at the last failed attempt.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The `on_finish` command's run under way, recorded before it starts:
    /// a server that finds it at its start (after a crash) kills what is
    /// left of it before it runs the command again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Running>,
}

/// A run of the `on_finish` command under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub since: Timestamp,
    /// Its runner's process (whose session holds the command) and its mark.
    pub process: ProcessIdentity,
}

impl Delivery {
    pub fn new(target: Target, now: Timestamp) -> Delivery {
        Delivery {
            target,
            state: Status::Pending,
            attempts: 0,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            delivered_at: None,
            last_error: None,
            running: None,
        }
    }

    /// When the next attempt is due: at once for the first, else the
    /// schedule's wait after the last one (`backoff`, when set, stands for
    /// every wait). `None` once no attempt is left.
    pub fn due(&self, backoff: Option<Duration>) -> Option<Timestamp> {
        match (self.attempts, self.last_attempt_at) {
            (0, _) | (_, None) => Some(Timestamp::now()),
            (attempts, Some(last)) => wait_after(attempts, backoff).map(|wait| last.after(wait)),
        }
    }

    /// Records an attempt that ended at `at`, and what came of it.
    pub fn attempted(
        &mut self,
        at: Timestamp,
        result: Result<(), String>,
        backoff: Option<Duration>,
    ) {
        self.attempts += 1;
        self.last_attempt_at = Some(at);
        match result {
            Ok(()) => {
                self.state = Status::Delivered;
                self.delivered_at = Some(Timestamp::now());
                self.next_attempt_at = None;
            }
            Err(error) => {
                self.last_error = Some(error);
                match wait_after(self.attempts, backoff) {
                    Some(wait) => self.next_attempt_at = Some(at.after(wait)),
                    None => {
                        self.state = Status::Failed;
                        self.next_attempt_at = None;
                    }
                }
            }
        }
    }

    /// Gives up on a delivery that can never be made.
    pub fn abandon(&mut self, why: String) {
        self.state = Status::Failed;
        self.next_attempt_at = None;
        self.last_error = Some(why);
    }
}

/// The wait after the `attempts`-th attempt failed, or `None` when it was the last.
fn wait_after(attempts: u32, backoff: Option<Duration>) -> Option<Duration> {
    let wait = *RETRY_AFTER.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    Some(backoff.unwrap_or(wait))
}

/// The event type of an experiment that ended in `state`; `None` while it has not.
pub fn event_type(state: State) -> Option<&'static str> {
    match state {
        State::Queued | State::Running => None,
        State::Complete => Some("experiment.completed"),
        State::ExecutorError | State::SystemError => Some("experiment.failed"),
        State::Canceled => Some("experiment.canceled"),
    }
}

impl Outbox {
    /// The event of a finished experiment, to be sent to `targets`, with a
    /// new id: `msg_`, the experiment's id, and random hex, unique whichever
    /// server of the lab sent it.
    pub fn new(record: &Record, kind: &str, targets: Vec<Target>, random: [u8; 8]) -> Outbox {
        let now = Timestamp::now();
        /// Standard Webhooks' envelope: type, timestamp, data (the record,
        /// its fields in the order the API gives them).
        #[derive(Serialize)]
        struct Envelope<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            timestamp: Timestamp,
            data: &'a Record,
        }
        let body = serde_json::to_string(&Envelope {
            kind,
            timestamp: record.finished_at.unwrap_or(now),
            data: record,
        })
        .expect("records serialize");
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Outbox {
            id: format!("msg_{}_{hex}", record.id),
            kind: kind.to_owned(),
            experiment: record.id,
            body,
            deliveries: targets
                .into_iter()
                .map(|target| Delivery::new(target, now))
                .collect(),
        }
    }

    /// Whether some delivery is still to be made.
    pub fn is_pending(&self) -> bool {
        self.deliveries.iter().any(|d| d.state == Status::Pending)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("outboxes serialize");
        json.push(b'\n');
        json
    }

    /// What the JSON record and the page show: the event's id and type and
    /// each delivery (the body is the record itself).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "deliveries": self.deliveries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_delivery_is_tried_on_the_schedule_then_given_up() {
        let start = Timestamp::now();
        let mut delivery = Delivery::new(Target::Lab, start);
        assert!(delivery.due(None).unwrap() <= Timestamp::now());
        let mut at = start;
        for (n, wait) in RETRY_AFTER.iter().enumerate() {
            delivery.attempted(at, Err("answered 500".into()), None);
            assert_eq!(delivery.state, Status::Pending, "after attempt {}", n + 1);
            assert_eq!(delivery.next_attempt_at, Some(at.after(*wait)));
            assert_eq!(delivery.due(None), Some(at.after(*wait)));
            at = at.after(*wait);
        }
        delivery.attempted(at, Err("answered 500".into()), None);
        assert_eq!(delivery.state, Status::Failed);
        assert_eq!(delivery.attempts, 8);
        assert_eq!(delivery.due(None), None);
        // A little more than a day in all.
        let total: Duration = RETRY_AFTER.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(30 * 3600));
    }

    #[test]
    fn a_shorter_backoff_applies_to_what_was_scheduled_before_a_restart() {
        let mut delivery = Delivery::new(Target::OnFinish, Timestamp::now());
        let at = Timestamp::now();
        delivery.attempted(
            at,
            Err("exit status 1".into()),
            Some(Duration::from_secs(3600)),
        );
        assert_eq!(
            delivery.next_attempt_at,
            Some(at.after(Duration::from_secs(3600)))
        );
        assert_eq!(
            delivery.due(Some(Duration::from_millis(100))),
            Some(at.after(Duration::from_millis(100)))
        );
        delivery.attempted(Timestamp::now(), Ok(()), None);
        assert_eq!(delivery.state, Status::Delivered);
        assert_eq!(delivery.last_error.as_deref(), Some("exit status 1"));
    }

    #[test]
    fn the_event_is_the_record_in_the_standard_envelope_and_reads_back() {
        let mut record = Record::for_test(42, State::ExecutorError);
        record.finished_at = Some(Timestamp::now());
        let kind = event_type(record.state).unwrap();
        assert_eq!(kind, "experiment.failed");
        let outbox = Outbox::new(
            &record,
            kind,
            vec![
                Target::NotifyUrl {
                    url: "http://127.0.0.1:9/".into(),
                    signed_for: Some("anna".into()),
                },
                Target::Lab,
            ],
            [1, 2, 3, 4, 5, 6, 7, 255],
        );
        assert_eq!(outbox.id, "msg_000042_01020304050607ff");
        let body: serde_json::Value = serde_json::from_str(&outbox.body).unwrap();
        assert_eq!(body["type"], "experiment.failed");
        assert_eq!(body["data"]["id"], "000042");
        assert_eq!(
            body["timestamp"],
            serde_json::to_value(record.finished_at).unwrap()
        );
        let json = serde_json::to_value(&outbox).unwrap();
        assert_eq!(json["deliveries"][0]["to"], "notify_url");
        assert_eq!(json["deliveries"][0]["signed_for"], "anna");
        assert_eq!(json["deliveries"][1]["to"], "lab");
        assert_eq!(json["deliveries"][1]["state"], "pending");
        let back: Outbox = serde_json::from_slice(&outbox.to_json()).unwrap();
        assert_eq!(back, outbox);
        assert_eq!(event_type(State::Canceled), Some("experiment.canceled"));
        assert_eq!(event_type(State::Running), None);
    }
}
