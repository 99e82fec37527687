//! What the queue answers with: an experiment's view (its record, its place,
//! its estimate or what it waits for), the backlog, a listing's filter and a
//! page of a batch. Plain values, made under the index's lock and read after.

use std::sync::Arc;

use serde::Serialize;

use crate::model::{Id, Record, State};
use crate::time::Timestamp;

/// An experiment as the read routes show it: its record, and where it stands.
#[derive(Clone, Debug, Serialize)]
pub struct View {
    #[serde(flatten)]
    pub record: Record,
    /// Place in the queue while QUEUED (1 = next to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// When it should start and finish, while QUEUED or RUNNING: `null` when
    /// there is no estimate yet (a pipeline ahead of it has not completed a
    /// run); what it waits for instead, while nothing starts (the queue is paused).
    #[serde(skip_serializing_if = "Waiting::is_done")]
    pub eta: Waiting,
}

impl View {
    /// A record the index no longer holds, as it was last written.
    pub fn finished(record: &Record) -> View {
        View {
            record: record.clone(),
            position: None,
            eta: Waiting::Done,
        }
    }
}

/// The estimate of an experiment still to finish, or none for one that has.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(untagged)]
pub enum Waiting {
    #[default]
    Done,
    Unknown(Option<Eta>),
    /// A queued experiment while nothing starts: no time to promise.
    Held(Hold),
}

/// What a queued experiment waits for while nothing starts, instead of a
/// start that would slide forward as long as the wait lasts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// `pause`: the queue is paused, until someone resumes it.
    pub waits_for: &'static str,
    /// Why, in words.
    pub reason: Arc<str>,
}

impl Waiting {
    /// Whether it has finished (or is not known): it has no estimate to give.
    pub fn is_done(&self) -> bool {
        matches!(self, Waiting::Done)
    }

    /// The estimate, if there is one.
    pub fn eta(&self) -> Option<&Eta> {
        match self {
            Waiting::Unknown(eta) => eta.as_ref(),
            Waiting::Done | Waiting::Held(_) => None,
        }
    }
}

/// When an experiment should start and finish, from the median run of its
/// pipeline and of those ahead of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Eta {
    /// `None` once it has started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    pub finish: Timestamp,
}

/// How many experiments are waiting and running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    pub queued: usize,
    pub running: usize,
}

impl Backlog {
    pub fn total(self) -> usize {
        self.queued + self.running
    }
}

/// Which experiments a listing shows, newest first.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub state: Option<State>,
    pub batch: Option<Id>,
    /// Only experiments submitted by this user (or client address).
    pub submitted_by: Option<String>,
    /// Only experiments older than this one (the page token of the previous page).
    pub before: Option<Id>,
    pub limit: usize,
}

/// A page of a batch, oldest first, and where the whole batch stands.
#[derive(Clone, Debug)]
pub struct BatchPage {
    /// Records of the page, in id (submission) order.
    pub records: Vec<Record>,
    /// The page token of the next page: the last id of this one, when more follow.
    pub next: Option<Id>,
    /// Every experiment of the batch, per state, by [`State::index`].
    pub counts: [usize; 6],
    /// The name of the file the batch came in, if it came in one.
    pub upload: Option<Arc<str>>,
}

impl BatchPage {
    /// How many experiments the batch holds.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}
