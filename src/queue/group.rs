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
    /// Like [`Queue::next`], for a run that may serve a group: the
    /// head, and behind it those it may take ([`joins`]), up to its
    /// pipeline's `group`, all RUNNING, in run order. A group of one is an
    /// ordinary run (no `group` in its record).
    pub fn next_group(
        &self,
        admit: impl FnOnce(&Record) -> Option<Option<Sender<Signal>>>,
    ) -> Option<Vec<Record>> {
        let mut index = self.lock();
        let id = self.startable_head(&index)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Definition;

    /// A queued experiment of a pipeline grouping three, with `tag`.
    fn waiting(id: u64, tag: &str) -> Record {
        let mut record = Record::for_test(id, State::Queued);
        record.definition = Some(Arc::new(Definition {
            group: 3,
            ..Definition::legacy("true")
        }));
        record.params.insert("tag".into(), tag.into());
        record
    }

    fn ids(records: &[Record]) -> Vec<u64> {
        records.iter().map(|record| record.id.0).collect()
    }

    #[test]
    fn a_group_takes_those_alike_right_behind_the_head_up_to_its_size_and_stops_at_the_first_that_differs(
    ) {
        let mut solo = waiting(8, "a");
        solo.solo = Some("its group 000007 failed".into());
        let queue = Queue::new(
            20,
            vec![
                waiting(1, "a"),
                waiting(2, "a"),
                waiting(3, "a"),
                waiting(4, "a"),
                waiting(5, "b"),
                waiting(6, "a"),
                waiting(7, "a"),
                solo,
                waiting(9, "a"),
            ],
            None,
        );
        let next = || queue.next_group(|_| Some(None)).unwrap();
        let first = next();
        assert_eq!(ids(&first), [1, 2, 3]);
        assert!(first
            .iter()
            .all(|r| r.group == Some(Group { id: Id(1), size: 3 }) && r.state == State::Running));
        for id in [1, 2, 3] {
            queue.finish(Record {
                state: State::Complete,
                ..queue.get(Id(id)).unwrap().record
            });
        }
        let alone = next();
        assert_eq!(
            (ids(&alone), alone[0].group),
            (vec![4], None),
            "a group of one is a run"
        );
        queue.finish(Record {
            state: State::Complete,
            ..alone[0].clone()
        });
        assert_eq!(ids(&next()), [5]);
        queue.finish(Record {
            state: State::Complete,
            ..queue.get(Id(5)).unwrap().record
        });
        // One marked to run alone ends the group before it, and runs alone.
        assert_eq!(ids(&next()), [6, 7]);
    }

    #[test]
    fn a_member_is_cancelled_as_its_stage_allows_and_the_last_stops_the_run() {
        let queue = Queue::new(10, (1..=3).map(|id| waiting(id, "a")).collect(), None);
        let (sender, receiver) = std::sync::mpsc::channel();
        queue.next_group(|_| Some(Some(sender))).unwrap();
        // Starting: noted, and cancelled by the worker once the start is on disk.
        assert!(matches!(queue.cancel(Id(3)), Ok(Canceled::Stopping(_))));
        let canceled = queue.begin_group(Id(1));
        assert_eq!(ids(&canceled), [3]);
        assert_eq!(queue.get(Id(3)).unwrap().record.state, State::Canceled);
        // Running: CANCELED at once; the run goes on until the last is cancelled.
        let Ok(Canceled::Member(record)) = queue.cancel(Id(2)) else {
            panic!("not cancelled at once");
        };
        assert_eq!(record.state, State::Canceled);
        assert!(receiver.try_recv().is_err(), "the others go on");
        assert_eq!(queue.members(Id(1)), [Id(1)]);
        // A cancel that could not be written is undone while the group runs.
        queue.uncancel(Id(2));
        assert_eq!(queue.get(Id(2)).unwrap().record.state, State::Running);
        assert!(matches!(queue.cancel(Id(2)), Ok(Canceled::Member(_))));
        assert!(matches!(queue.cancel(Id(1)), Ok(Canceled::Member(_))));
        assert!(matches!(receiver.try_recv(), Ok(Signal::Cancel)));
        assert!(queue.settle_group(Id(1)).is_empty());
    }

    #[test]
    fn a_settling_member_ends_as_its_run_did() {
        let queue = Queue::new(10, (1..=2).map(|id| waiting(id, "a")).collect(), None);
        queue.next_group(|_| Some(None)).unwrap();
        queue.begin_group(Id(1));
        assert_eq!(queue.settle_group(Id(1)), [Id(1), Id(2)]);
        assert!(matches!(queue.cancel(Id(2)), Ok(Canceled::Stopping(_))));
        assert_eq!(queue.get(Id(2)).unwrap().record.state, State::Running);
    }

    #[test]
    fn estimates_count_a_members_share_and_a_running_group_takes_its_size_in_shares() {
        use std::time::Duration;
        let minutes = |n: u64| Duration::from_secs(60 * n);
        let an_hour_ago = Timestamp::from_millis(Timestamp::now().millis() - 3_600_000);
        // A group of two that took four minutes: two minutes a member.
        let done = |id: u64| Record {
            state: State::Complete,
            started_at: Some(an_hour_ago),
            finished_at: Some(an_hour_ago.after(minutes(4))),
            group: Some(Group { id: Id(1), size: 2 }),
            ..waiting(id, "a")
        };
        let queue = Queue::new(
            10,
            vec![
                done(1),
                done(2),
                waiting(3, "a"),
                waiting(4, "a"),
                waiting(5, "a"),
                waiting(6, "b"),
            ],
            None,
        );
        let group = queue.next_group(|_| Some(None)).unwrap();
        assert_eq!(ids(&group), [3, 4, 5]);
        let started = group[0].started_at.unwrap();
        let finish = queue.get(Id(4)).unwrap().eta.eta().unwrap().finish;
        let behind = queue.get(Id(6)).unwrap().eta.eta().copied().unwrap();
        let close =
            |a: Timestamp, b: Timestamp| a.since(b).max(b.since(a)) < Duration::from_secs(1);
        assert!(
            close(finish, started.after(minutes(6))),
            "three shares of two minutes"
        );
        assert!(close(behind.start.unwrap(), started.after(minutes(6))));
        assert_eq!(behind.finish, behind.start.unwrap().after(minutes(2)));
    }
}
