//! The index itself: every record in id order, the waiting order (those
//! moved to the front, then the rest by id), the counts per state, the runs
//! in flight and the recent durations; every change goes through
//! [`Index::update`], which keeps them true and tells listeners. The
//! estimates made from it are in `estimate`.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::events::Events;
use crate::exec::Signal;
use crate::metrics::Metrics;
use crate::model::{Drain, Id, Pause, Record, State};

/// Completed runs of a pipeline whose durations make its estimate.
const RECENT_RUNS: usize = 20;

/// A pipeline's recent completed runs, and their median, kept as they come:
/// an estimate walks the whole queue, so each step must be a lookup.
#[derive(Default)]
pub(super) struct Runs {
    /// Durations in milliseconds, the oldest first.
    recent: VecDeque<u64>,
    pub(super) median: u64,
}

impl Runs {
    /// Adds a run of `took` milliseconds.
    pub(super) fn push(&mut self, took: u64) {
        if self.recent.len() == RECENT_RUNS {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
        let mut sorted: Vec<u64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        self.median = sorted[sorted.len() / 2];
    }
}

pub(super) struct Running {
    pub(super) id: Id,
    /// Reaches the run, for cancel and shutdown; `None` when its executor cannot stop it.
    pub(super) signals: Option<Sender<Signal>>,
    /// For a member of a grouped run: the group's id, and where the member
    /// stands in the run, which decides what a cancel of it does.
    pub(super) group: Option<(Id, Stage)>,
}

/// Where a member of a grouped run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Taken, its start not yet on disk: a cancel is noted, and the worker
    /// cancels it before the command starts (`canceled`).
    Starting { canceled: bool },
    /// Its group's command runs: a cancel makes it CANCELED at once.
    Running,
    /// The command has ended and the worker settles it: a cancel comes too late.
    Settling,
}

/// How long a completed experiment's run took, in milliseconds: from its
/// start to its end, or its share of its group's (the group's time over its
/// size), so the estimates learn what one more experiment costs a grouped run.
pub(super) fn run_time(record: &Record) -> Option<u64> {
    let took = record.finished_at?.since(record.started_at?).as_millis() as u64;
    let size = record.group.map_or(1, |group| u64::from(group.size.max(1)));
    Some(took / size)
}

/// Records and waiting ids are kept in id order in flat collections, not
/// trees: new ids are always the highest, so both only grow at the end, a
/// lookup or a queue position is a binary search, and an entry costs its own
/// size (a B-tree filled in order is a third empty).
#[derive(Default)]
pub(super) struct Index {
    /// Every experiment, in id order.
    pub(super) records: Vec<Record>,
    /// QUEUED experiments not moved to the front, in id order, which is
    /// their run order (after those in `front`).
    pub(super) waiting: VecDeque<Id>,
    /// QUEUED experiments moved to the front, in run order: the latest moved first.
    pub(super) front: VecDeque<Id>,
    /// Experiments whose move to the front is being written: the worker does
    /// not take one, nor may it be cancelled, until its record is on disk, so
    /// no other write of its record can come before this one and be undone by it.
    pub(super) pinned: Vec<Id>,
    /// The runs in flight, in the order they started: one, or several of a
    /// Slurm pipeline that allows it.
    pub(super) running: Vec<Running>,
    /// Experiments per state, by [`State::index`].
    pub(super) counts: [usize; 6],
    /// Slots promised to submissions being written.
    pub(super) reserved: usize,
    /// While set, nothing new starts.
    pub(super) pause: Option<Pause>,
    /// While set, no new experiment is accepted.
    pub(super) drain: Option<Drain>,
    /// The durations of recent completed runs, by pipeline.
    pub(super) durations: HashMap<Arc<str>, Runs>,
    /// Where every change is told.
    pub(super) events: Arc<Events>,
    /// Counts what is accepted, starts and ends.
    pub(super) metrics: Arc<Metrics>,
}

impl Index {
    /// Adds a record; the caller tells listeners ([`Index::tell_all`]).
    pub(super) fn insert(&mut self, record: Record) {
        self.counts[record.state.index()] += 1;
        if record.state == State::Queued {
            self.wait(&record);
        }
        match self.records.last() {
            Some(last) if last.id >= record.id => {
                let at = self.records.partition_point(|r| r.id < record.id);
                self.records.insert(at, record);
            }
            _ => self.records.push(record),
        }
    }

    /// Tells listeners what became of an experiment.
    pub(super) fn tell(&self, id: Id) {
        self.tell_all(&[id]);
    }

    /// Tells listeners what became of experiments, in the order given.
    pub(super) fn tell_all(&self, ids: &[Id]) {
        let views = self.views(ids.iter().filter_map(|&id| self.find(id)));
        for view in views {
            let data = serde_json::to_string(&view).expect("views serialize");
            self.events
                .publish("experiment", Some(view.record.id), view.record.batch, data);
        }
    }

    /// Tells listeners how many wait and run, and whether the queue is
    /// paused (and by whom, why, since when).
    pub(super) fn tell_backlog(&self) {
        let mut data = serde_json::json!({
            "queued": self.counts[State::Queued.index()],
            "running": self.counts[State::Running.index()],
            "paused": self.pause.is_some(),
            "draining": self.drain.is_some(),
        });
        if let Some(pause) = &self.pause {
            // As `GET /queue` has it: only while paused.
            data["pause"] = serde_json::to_value(pause).expect("a pause serializes");
        }
        self.events.publish("backlog", None, None, data.to_string());
    }

    pub(super) fn find(&self, id: Id) -> Option<&Record> {
        self.records
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .map(|at| &self.records[at])
    }

    /// Applies `change` to a record, keeping the counts and the waiting set true.
    pub(super) fn update(&mut self, id: Id, change: impl FnOnce(&mut Record)) -> Option<Record> {
        let at = self.records.binary_search_by_key(&id, |r| r.id).ok()?;
        let record = &mut self.records[at];
        let before = record.state;
        change(record);
        let after = record.state;
        let changed = record.clone();
        if before != after {
            self.counts[before.index()] -= 1;
            self.counts[after.index()] += 1;
            if before == State::Queued {
                self.unwait(id);
            }
            if after == State::Queued {
                self.wait(&changed);
            }
            // Every start and end passes here, whoever made it. (A cancel
            // undone because it could not be written is counted all the same.)
            if (before, after) == (State::Queued, State::Running) {
                self.metrics.started(&changed);
            }
            if !before.is_finished() && after.is_finished() {
                self.metrics.ended(&changed);
            }
            if (before, after) == (State::Running, State::Complete) {
                if let Some(took) = run_time(&changed) {
                    self.durations
                        .entry(changed.pipeline.clone())
                        .or_default()
                        .push(took);
                }
            }
        }
        self.tell(id);
        if before != after {
            self.tell_backlog();
        }
        Some(changed)
    }
}

impl Index {
    /// Puts a QUEUED experiment in its place: among those moved to the front
    /// by the instant of its move (latest first), or else by its id.
    pub(super) fn wait(&mut self, record: &Record) {
        let Some(moved) = &record.moved_to_front else {
            insert_sorted(&mut self.waiting, record.id);
            return;
        };
        let key = (std::cmp::Reverse(moved.at), record.id);
        let at = self.front.partition_point(|&id| {
            let at = self
                .find(id)
                .and_then(|r| r.moved_to_front.as_ref())
                .map(|m| m.at);
            (std::cmp::Reverse(at.unwrap_or(moved.at)), id) < key
        });
        self.front.insert(at, record.id);
    }

    /// Takes an experiment out of the waiting order.
    pub(super) fn unwait(&mut self, id: Id) {
        if let Some(at) = self.front.iter().position(|&front| front == id) {
            self.front.remove(at);
        } else if let Ok(at) = self.waiting.binary_search(&id) {
            self.waiting.remove(at);
        }
    }

    /// The place of a QUEUED experiment (1 = next).
    pub(super) fn position(&self, id: Id) -> usize {
        match self.front.iter().position(|&front| front == id) {
            Some(at) => at + 1,
            None => self.front.len() + self.waiting.binary_search(&id).unwrap_or_else(|at| at) + 1,
        }
    }

    /// The waiting experiments in run order.
    pub(super) fn in_order(&self) -> impl Iterator<Item = &Id> {
        self.front.iter().chain(self.waiting.iter())
    }

    /// The experiment that runs next.
    pub(super) fn head(&self) -> Option<Id> {
        self.in_order().next().copied()
    }

    pub(super) fn waiting_len(&self) -> usize {
        self.front.len() + self.waiting.len()
    }
}

/// Adds `id` to ids kept in order: at the end, where new ids always go.
fn insert_sorted(ids: &mut VecDeque<Id>, id: Id) {
    match ids.back() {
        Some(&last) if last >= id => {
            if let Err(at) = ids.binary_search(&id) {
                ids.insert(at, id);
            }
        }
        _ => ids.push_back(id),
    }
}
