//! An experiment's record as the client reads it from the server's answers
//! (`GET /experiments/{id}`, listings, events): the fields the commands
//! show, and the answer itself for `--json`. Every field but the id and the
//! state may be missing, so that a client reads a newer or older server.

use serde::Deserialize;
use serde_json::Value;

use crate::model::{Id, State};
use crate::time::Timestamp;

use super::failure::Failure;

/// One experiment as the server last described it.
#[derive(Clone, Debug, Deserialize)]
pub struct Seen {
    pub id: Id,
    pub state: State,
    #[serde(default)]
    pub query_name: String,
    #[serde(default)]
    pub pipeline: Option<String>,
    #[serde(default)]
    pub batch: Option<Id>,
    #[serde(default)]
    pub submitted_by: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<Timestamp>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub error: Option<String>,
    /// Its place in the queue while it waits (1 = next).
    #[serde(default)]
    pub position: Option<u64>,
    /// When it should start and finish, while it waits or runs; `None` when
    /// the server has no estimate yet.
    #[serde(default)]
    pub eta: Option<Eta>,
    /// The files of its directory (only in `GET /experiments/{id}`).
    #[serde(default)]
    pub files: Option<Vec<File>>,
    /// The answer as the server gave it, for `--json`.
    #[serde(skip)]
    pub raw: Value,
}

/// When an experiment should start (while it waits) and finish.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Eta {
    #[serde(default)]
    pub start: Option<Timestamp>,
    pub finish: Timestamp,
}

/// A file of an experiment's directory.
#[derive(Clone, Debug, Deserialize)]
pub struct File {
    pub name: String,
    #[serde(default)]
    pub size: u64,
}

impl Seen {
    /// Reads a record from the server's JSON.
    pub fn of(value: Value) -> Result<Seen, Failure> {
        let mut seen: Seen = serde_json::from_value(value.clone()).map_err(|err| {
            Failure::Unreachable(format!(
                "the server sent a record this client cannot read ({err}): {value}"
            ))
        })?;
        seen.raw = value;
        Ok(seen)
    }

    /// The records of a submission's answer: one record, or a batch's
    /// `{"batch", "count", "experiments"}`.
    pub fn all_of(answer: &Value) -> Result<(Option<Id>, Vec<Seen>), Failure> {
        match answer.get("experiments").and_then(Value::as_array) {
            Some(records) => {
                let seen = records
                    .iter()
                    .cloned()
                    .map(Seen::of)
                    .collect::<Result<Vec<_>, _>>()?;
                let batch = answer
                    .get("batch")
                    .and_then(Value::as_str)
                    .and_then(|text| text.parse().ok());
                Ok((batch, seen))
            }
            None => Ok((None, vec![Seen::of(answer.clone())?])),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// What the state says beyond its name, in a few words: its place and
    /// estimate while it waits or runs, how long it ran, or why it failed.
    pub fn note(&self, now: Timestamp) -> String {
        match self.state {
            State::Queued => {
                let place = self
                    .position
                    .map_or(String::new(), |p| format!("position {p}, "));
                format!("{place}{}", self.estimate(now))
            }
            State::Running => match self.started_at {
                Some(started) => format!(
                    "running for {}, {}",
                    duration(now.since(started).as_secs()),
                    self.estimate(now)
                ),
                None => self.estimate(now),
            },
            State::Complete => match (self.started_at, self.finished_at) {
                (Some(started), Some(finished)) => {
                    let took = finished.since(started);
                    match took.as_secs() {
                        0..=59 => format!("ran {:.1} s", took.as_secs_f64()),
                        secs => format!("ran {}", duration(secs)),
                    }
                }
                _ => String::new(),
            },
            State::ExecutorError | State::SystemError | State::Canceled => {
                self.error.clone().unwrap_or_default()
            }
        }
    }

    fn estimate(&self, now: Timestamp) -> String {
        match &self.eta {
            Some(eta) => format!("finishes {}", until(eta.finish, now)),
            None => "no estimate yet".to_owned(),
        }
    }
}

/// `in about 3 min`, or `about now` for an instant that has come.
pub fn until(when: Timestamp, now: Timestamp) -> String {
    if when.millis() <= now.millis() {
        return "about now".to_owned();
    }
    format!("in about {}", duration(when.since(now).as_secs()))
}

/// A length of time in the unit a person would use: `40 s`, `12 min`,
/// `2 h 5 min`, `3 days`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", (secs + 30) / 60),
        3600..=86_399 => match (secs + 30) / 60 % 60 {
            0 => format!("{} h", secs / 3600),
            minutes => format!("{} h {minutes} min", secs / 3600),
        },
        _ => format!("{} days", (secs + 43_200) / 86_400),
    }
}

/// An instant as a table shows it: `2026-12-07 19:34:03Z` (UTC, to the second).
pub fn short_time(when: Timestamp) -> String {
    let (year, month, day, hour, minute, second) = when.civil();
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(60), "1 min");
        assert_eq!(duration(12 * 60 + 10), "12 min");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(2 * 3600 + 5 * 60), "2 h 5 min");
        assert_eq!(duration(3 * 86_400), "3 days");
    }

    #[test]
    fn a_record_reads_with_only_its_id_and_state_and_notes_say_where_it_stands() {
        let now = Timestamp::parse("2026-12-07T19:00:00Z").unwrap();
        let bare = Seen::of(json!({"id": "000042", "state": "QUEUED", "extra": 1})).unwrap();
        assert_eq!(bare.id, Id(42));
        assert_eq!(bare.note(now), "no estimate yet");
        assert_eq!(bare.raw["extra"], 1);

        let waiting = Seen::of(json!({"id": "000043", "state": "QUEUED", "position": 3,
            "eta": {"start": "2026-12-07T19:05:00Z", "finish": "2026-12-07T19:12:00Z"}}))
        .unwrap();
        assert_eq!(waiting.note(now), "position 3, finishes in about 12 min");

        let failed = Seen::of(json!({"id": "000044", "state": "EXECUTOR_ERROR",
            "error": "the command exited with code 3"}))
        .unwrap();
        assert_eq!(failed.note(now), "the command exited with code 3");
        assert!(Seen::of(json!({"id": "x", "state": "QUEUED"})).is_err());
    }

    #[test]
    fn a_batch_answer_gives_its_id_and_every_record() {
        let answer = json!({"batch": "000006", "count": 2, "experiments": [
            {"id": "000006", "state": "QUEUED"}, {"id": "000007", "state": "QUEUED"}]});
        let (batch, seen) = Seen::all_of(&answer).unwrap();
        assert_eq!(batch, Some(Id(6)));
        assert_eq!(seen.len(), 2);
        let (batch, seen) = Seen::all_of(&json!({"id": "000001", "state": "RUNNING"})).unwrap();
        assert_eq!((batch, seen.len()), (None, 1));
    }
}
