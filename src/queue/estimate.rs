//! Estimates: when a waiting experiment should start and finish, from the
//! median of each pipeline's recent runs, added up along the queue in one
//! walk however many experiments are asked about; and what a queued
//! experiment waits for instead while nothing starts.

use std::time::Duration;

use super::index::Index;
use super::view::{Eta, Hold, View, Waiting};
use crate::model::{Record, State};
use crate::time::Timestamp;

impl Index {
    /// The median of a pipeline's recent completed runs, if it has any.
    pub(super) fn median(&self, pipeline: &str) -> Option<Duration> {
        self.durations
            .get(pipeline)
            .map(|runs| Duration::from_millis(runs.median))
    }

    /// How long the run serving `record` should take: its pipeline's median
    /// (a member's share, for grouped runs) times the experiments it serves.
    fn expected(&self, record: &Record) -> Option<Duration> {
        let size = record.group.map_or(1, |group| group.size.max(1));
        Some(self.median(&record.pipeline)?.saturating_mul(size))
    }

    /// When a running experiment should finish: `None` without an estimate,
    /// and [`Waiting::Done`] for one that is not running.
    pub(super) fn running_eta(&self, record: &Record, now: Timestamp) -> Waiting {
        if record.state != State::Running {
            return Waiting::Done;
        }
        let eta = match (self.expected(record), record.started_at) {
            (Some(median), Some(started)) => Some(Eta {
                start: None,
                finish: started.after(median).max(now),
            }),
            _ => None,
        };
        Waiting::Unknown(eta)
    }

    /// What every waiting experiment waits for while nothing starts, if
    /// nothing does: the queue is paused.
    pub(super) fn hold(&self) -> Option<Hold> {
        let pause = self.pause.as_ref()?;
        Some(Hold {
            waits_for: "pause",
            reason: format!(
                "the queue is paused (since {}): {}; nothing starts until it is resumed",
                pause.since, pause.reason
            )
            .into(),
        })
    }

    /// When a waiting experiment that should start at `start` should finish.
    pub(super) fn waiting_eta(&self, record: &Record, start: Option<Timestamp>) -> Waiting {
        Waiting::Unknown(start.and_then(|start| {
            Some(Eta {
                start: Some(start),
                finish: start.after(self.median(&record.pipeline)?),
            })
        }))
    }

    /// When the experiments waiting at `positions` (ascending, from 1)
    /// should start, in one walk of the queue up to the last of them: what is
    /// left of the run that ends first (the one running, unless a cluster
    /// runs several), then each one ahead in turn. One at a time, which is
    /// pessimistic when a cluster runs several at once. `None` from the
    /// first one behind a pipeline that has not completed a run.
    pub(super) fn starts(&self, now: Timestamp, positions: &[usize]) -> Vec<Option<Timestamp>> {
        let mut first_end: Option<Option<Duration>> = None;
        for running in self.running.iter().filter_map(|r| self.find(r.id)) {
            let left = self
                .expected(running)
                .map(|median| match running.started_at {
                    Some(started) => median.saturating_sub(now.since(started)),
                    None => median,
                });
            first_end = Some(match (first_end, left) {
                (None, left) => left,
                (Some(Some(end)), Some(left)) => Some(end.min(left)),
                _ => None,
            });
        }
        let mut start = match first_end {
            None => Some(now),
            Some(left) => left.map(|left| now.after(left)),
        };
        let mut ahead = self.in_order();
        // The position whose start `start` is.
        let mut at = 1;
        let mut starts = Vec::with_capacity(positions.len());
        for &position in positions {
            while start.is_some() && at < position {
                start = start.and_then(|start| {
                    let pipeline = &self.find(*ahead.next()?)?.pipeline;
                    Some(start.after(self.median(pipeline)?))
                });
                at += 1;
            }
            starts.push(start);
        }
        starts
    }

    /// When an experiment still to finish should start and finish.
    pub(super) fn eta(&self, record: &Record, position: Option<usize>) -> Waiting {
        let now = Timestamp::now();
        match (position, self.hold()) {
            (Some(_), Some(hold)) => Waiting::Held(hold),
            (Some(position), None) => self.waiting_eta(record, self.starts(now, &[position])[0]),
            (None, _) => self.running_eta(record, now),
        }
    }

    /// The views of `records`, their estimates made in one walk of the
    /// queue, not one each: a page or a batch of queued experiments costs
    /// what its last one does.
    pub(super) fn views<'r>(&self, records: impl IntoIterator<Item = &'r Record>) -> Vec<View> {
        let now = Timestamp::now();
        let mut views: Vec<View> = records
            .into_iter()
            .map(|record| View {
                record: record.clone(),
                position: (record.state == State::Queued).then(|| self.position(record.id)),
                eta: Waiting::Done,
            })
            .collect();
        let hold = self.hold();
        let mut positions: Vec<usize> = views.iter().filter_map(|view| view.position).collect();
        positions.sort_unstable();
        positions.dedup();
        if hold.is_some() {
            positions.clear();
        }
        let starts = self.starts(now, &positions);
        for view in &mut views {
            view.eta = match (view.position, &hold) {
                (Some(_), Some(hold)) => Waiting::Held(hold.clone()),
                (Some(position), None) => {
                    let at = positions
                        .binary_search(&position)
                        .expect("a position asked for");
                    self.waiting_eta(&view.record, starts[at])
                }
                (None, _) => self.running_eta(&view.record, now),
            };
        }
        views
    }

    pub(super) fn view(&self, record: &Record) -> View {
        let position = (record.state == State::Queued).then(|| self.position(record.id));
        View {
            record: record.clone(),
            position,
            eta: self.eta(record, position),
        }
    }
}
