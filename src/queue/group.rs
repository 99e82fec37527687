//! Grouped runs, as the queue sees them: which waiting experiments one run
//! takes with the head, and what a cancel of one of them does while their
//! group runs.
//!
//! A pipeline with `group = N` lets one run serve the head and the
//! experiments right behind it that have the same pipeline, parameters,
//! recorded definition and submitter, up to N, stopping at the first that
//! differs: the order never changes. Each member is RUNNING with its own
//! entry among the runs in flight, which says where it stands
//! ([`Stage`]): a cancel while the group's command runs makes it CANCELED at
//! once (it gets no results, the others go on), and the cancel of the last
//! one stops the command.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use super::index::{Index, Running, Stage};
use super::{Canceled, Queue};
use crate::error::Error;
use crate::exec::Signal;
use crate::model::{Group, Id, Record, State};
use crate::pipeline::ExecutorKind;
use crate::time::Timestamp;

/// Whether `other`, waiting right behind `head`, may be served by the same
/// run: the same search for the same person, and not marked to run alone.
fn joins(head: &Record, other: &Record) -> bool {
    other.state == State::Queued
        && other.solo.is_none()
        && other.pipeline == head.pipeline
        && other.params == head.params
        && other.definition == head.definition
        && other.submitted_by == head.submitted_by
}

/// Most experiments a run of `head` may serve: its pipeline's `group`, for
/// a command (local or Slurm) not marked to run alone.
fn limit(head: &Record) -> usize {
    let definition = head.definition();
    match definition.executor {
        ExecutorKind::Local | ExecutorKind::Slurm if head.solo.is_none() => definition.group_size(),
        _ => 1,
    }
}

impl Queue {
    /// Like [`Queue::next_when`], for a run that may serve a group: the
    /// head, and behind it those it may take ([`joins`]), up to its
    /// pipeline's `group`, all RUNNING, in run order. A group of one is an
    /// ordinary run (no `group` in its record).
    pub fn next_group(
        &self,
        admit: impl FnOnce(&Record) -> Option<Option<Sender<Signal>>>,
    ) -> Option<Vec<Record>> {
        let mut index = self.lock();
        if self.is_closing() || index.pause.is_some() {
            return None;
        }
        let id = index.head()?;
        if index.pinned.contains(&id) {
            // Its move is being written; whoever writes it wakes the worker.
            return None;
        }
        let head = index.find(id)?;
        let signals = admit(head)?;
        let limit = limit(head);
        let mut ids = vec![id];
        for &next in index.in_order().skip(1) {
            if ids.len() >= limit || index.pinned.contains(&next) {
                break;
            }
            match index.find(next) {
                Some(other) if joins(head, other) => ids.push(next),
                _ => break,
            }
        }
        let group = (ids.len() > 1).then_some(Group {
            id,
            size: ids.len() as u32,
        });
        let now = Timestamp::now();
        let mut records = Vec::with_capacity(ids.len());
        for member in ids {
            let record = index.update(member, |record| {
                record.state = State::Running;
                record.started_at = Some(now);
                record.attempts += 1;
                record.error = None;
                record.group = group;
            })?;
            index.running.push(Running {
                id: member,
                signals: signals.clone(),
                group: group.map(|group| (group.id, Stage::Starting { canceled: false })),
            });
            records.push(record);
        }
        if let Some(group) = group {
            index.metrics.group_started(group.size as usize);
        }
        Some(records)
    }

    /// The group `group` is recorded RUNNING on disk and its command is
    /// about to start: its members may be cancelled at once from now on.
    /// Returns those cancelled meanwhile, CANCELED now, for the worker to
    /// write before anything runs.
    pub fn begin_group(&self, group: Id) -> Vec<Record> {
        let mut index = self.lock();
        let mut canceled = Vec::new();
        for running in index.running.iter_mut() {
            match &mut running.group {
                Some((of, stage)) if *of == group => {
                    if *stage == (Stage::Starting { canceled: true }) {
                        canceled.push(running.id);
                    }
                    *stage = Stage::Running;
                }
                _ => {}
            }
        }
        index
            .running
            .retain(|running| !canceled.contains(&running.id));
        canceled
            .into_iter()
            .filter_map(|id| {
                index.update(id, |record| {
                    record.state = State::Canceled;
                    record.finished_at = Some(Timestamp::now());
                    record.error =
                        Some("canceled by a client as its group started; it got no results".into());
                })
            })
            .collect()
    }

    /// The members of `group` still in its run (not cancelled), in run order.
    pub fn members(&self, group: Id) -> Vec<Id> {
        let index = self.lock();
        index
            .running
            .iter()
            .filter(|running| running.group.is_some_and(|(of, _)| of == group))
            .map(|running| running.id)
            .collect()
    }

    /// The command of `group` has ended: its members still in the run are
    /// the worker's to settle, and a cancel of one comes too late. Returns
    /// them, in run order.
    pub fn settle_group(&self, group: Id) -> Vec<Id> {
        let mut index = self.lock();
        let mut members = Vec::new();
        for running in index.running.iter_mut() {
            if let Some((of, stage)) = &mut running.group {
                if *of == group {
                    *stage = Stage::Settling;
                    members.push(running.id);
                }
            }
        }
        members
    }

    /// Held by whoever writes the record of a member of a running group
    /// (the worker, a cancel), so that a cancel's CANCELED is never
    /// overwritten by the run's RUNNING.
    pub fn member_pen(&self) -> Arc<Mutex<()>> {
        self.member_pen.clone()
    }
}

impl Index {
    /// Whether the running experiment `id` is a member of a grouped run.
    pub(super) fn is_member(&self, id: Id) -> bool {
        self.running
            .iter()
            .any(|running| running.id == id && running.group.is_some())
    }

    /// Cancels the running member `id` of a group, as its stage allows.
    pub(super) fn cancel_member(&mut self, id: Id) -> Result<Canceled, Error> {
        let at = self
            .running
            .iter()
            .position(|running| running.id == id)
            .expect("a member is running");
        let (group, stage) = self.running[at].group.expect("a member of a group");
        match stage {
            Stage::Starting { .. } => {
                self.running[at].group = Some((group, Stage::Starting { canceled: true }));
            }
            Stage::Settling => {}
            Stage::Running => {
                let running = self.running.remove(at);
                let record = self
                    .update(id, |record| {
                        record.state = State::Canceled;
                        record.finished_at = Some(Timestamp::now());
                        record.error = Some(format!(
                            "canceled by a client while its group {group} ran; it got no results"
                        ));
                    })
                    .expect("the record exists");
                let others = self
                    .running
                    .iter()
                    .any(|other| other.group == Some((group, Stage::Running)));
                if !others {
                    // The last one: nobody waits for the command any more.
                    if let Some(signals) = &running.signals {
                        let _ = signals.send(Signal::Cancel);
                    }
                }
                return Ok(Canceled::Member(record));
            }
        }
        let record = self.find(id).expect("the record exists");
        Ok(Canceled::Stopping(self.view(record)))
    }

    /// Puts back a member whose cancel could not be written, if its group
    /// still runs; true if it did.
    pub(super) fn uncancel_member(&mut self, id: Id) -> bool {
        let Some(group) = self
            .find(id)
            .filter(|record| record.state == State::Canceled)
            .and_then(|record| record.group)
        else {
            return false;
        };
        let Some(signals) = self
            .running
            .iter()
            .find(|other| other.group == Some((group.id, Stage::Running)))
            .map(|other| other.signals.clone())
        else {
            return false;
        };
        self.update(id, |record| {
            record.state = State::Running;
            record.finished_at = None;
            record.error = None;
        });
        self.running.push(Running {
            id,
            signals,
            group: Some((group.id, Stage::Running)),
        });
        true
    }
}
