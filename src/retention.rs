//! The retention policy (`--retention-days`): finished experiments are
//! removed that many days after they finished, by a sweep a few minutes after
//! the start and then daily; off unless the operator sets it.
//!
//! One rule says what is due ([`due`]), for the sweep, for `GET /retention`
//! (what the next sweep would remove) and for `seqspool retention --dry-run`
//! (the same, read from the directory by the command line, `cli::retention`,
//! which sits above this room), so the listing is what the sweep does. A QUEUED or RUNNING experiment is never due, nor
//! one whose batch still has a member that is: a batch goes as a whole, so its
//! page never shows part of a plate. The store removes crash-safely (see
//! [`crate::store::Store::trash`]); the index and the events follow. The
//! sweep itself, which the server runs, is in `control`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::model::{Id, Record, State};
use crate::time::Timestamp;

/// How long after the start the first sweep comes: late enough not to add to
/// a start's work, early enough that an operator who just set the option sees it act.
pub const FIRST_SWEEP: Duration = Duration::from_secs(5 * 60);

/// Time between two sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An experiment a sweep removes, as the listings show it.
#[derive(Clone, Debug, Serialize)]
pub struct Due {
    pub id: Id,
    pub query_name: String,
    pub state: State,
    pub finished_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<Id>,
    /// The space its directory takes on disk, in bytes (what removing it frees).
    pub bytes: u64,
}

/// The instant before which an experiment must have finished to be due,
/// when they are kept `days` days.
pub fn cutoff(days: u32, now: Timestamp) -> Timestamp {
    Timestamp::from_millis(
        now.millis()
            .saturating_sub(DAY.as_millis() as u64 * u64::from(days)),
    )
}

/// The experiments of `records` a sweep removes: finished (complete, failed
/// or cancelled) before `cutoff`, and in no batch that still has a member
/// that is not. An experiment with no finish time is kept.
pub fn due(records: &[Record], cutoff: Timestamp) -> Vec<&Record> {
    let old = |record: &Record| {
        record.state.is_finished() && record.finished_at.is_some_and(|at| at < cutoff)
    };
    let kept_batches: HashSet<Id> = records
        .iter()
        .filter(|record| !old(record))
        .filter_map(|record| record.batch)
        .collect();
    records
        .iter()
        .filter(|record| old(record))
        .filter(|record| {
            record
                .batch
                .is_none_or(|batch| !kept_batches.contains(&batch))
        })
        .collect()
}

/// What the sweeps have done, and when the next comes.
#[derive(Default)]
pub struct Sweeps {
    pub(crate) next: Mutex<Option<Timestamp>>,
    pub(crate) last: Mutex<Option<Sweep>>,
    /// One sweep at a time (the daily one, `POST /retention/sweep`).
    pub(crate) running: tokio::sync::Mutex<()>,
}

/// What one sweep removed.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub at: Timestamp,
    pub cutoff: Timestamp,
    pub count: usize,
    pub bytes: u64,
    pub removed: Vec<Due>,
}

/// What `GET /retention` answers: the policy, and what the next sweep would remove.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// Days a finished experiment is kept; `null` when retention is off.
    pub retention_days: Option<u32>,
    /// The days this listing was made for (`?days=`, or the policy's).
    pub days: Option<u32>,
    /// Experiments that finished before this are due.
    pub cutoff: Option<Timestamp>,
    pub next_sweep: Option<Timestamp>,
    pub last_sweep: Option<Sweep>,
    pub count: usize,
    pub bytes: u64,
    pub experiments: Vec<Due>,
}

impl Due {
    pub(crate) fn of(record: &Record, bytes: u64) -> Due {
        Due {
            id: record.id,
            query_name: record.query_name.clone(),
            state: record.state,
            finished_at: record.finished_at.unwrap_or(record.submitted_at),
            batch: record.batch,
            bytes,
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(id: u64, state: State, at: u64, batch: Option<u64>) -> Record {
        Record {
            finished_at: Some(Timestamp::from_millis(at)),
            batch: batch.map(Id),
            ..Record::for_test(id, state)
        }
    }

    #[test]
    fn only_finished_experiments_older_than_the_cutoff_are_due_and_batches_go_whole() {
        let cutoff = Timestamp::from_millis(1_000);
        let records = vec![
            finished(1, State::Complete, 10, None),
            finished(2, State::ExecutorError, 10, None),
            finished(3, State::SystemError, 10, None),
            finished(4, State::Canceled, 10, None),
            finished(5, State::Complete, 2_000, None),
            // Never, whatever their records say of an end.
            finished(6, State::Queued, 10, None),
            finished(7, State::Running, 10, None),
            Record::for_test(8, State::Complete),
            // A batch with a member still queued stays whole; a finished old batch goes.
            finished(9, State::Canceled, 10, Some(9)),
            Record {
                batch: Some(Id(9)),
                ..Record::for_test(10, State::Queued)
            },
            finished(11, State::Complete, 10, Some(11)),
            finished(12, State::Complete, 20, Some(11)),
            // A batch with a recent member stays whole too.
            finished(13, State::Complete, 10, Some(13)),
            finished(14, State::Complete, 2_000, Some(13)),
        ];
        let ids: Vec<u64> = due(&records, cutoff).iter().map(|r| r.id.0).collect();
        assert_eq!(ids, [1, 2, 3, 4, 11, 12]);
    }

    #[test]
    fn the_cutoff_is_the_days_before_now() {
        let now = Timestamp::from_millis(10 * DAY.as_millis() as u64);
        assert_eq!(
            cutoff(3, now),
            Timestamp::from_millis(7 * DAY.as_millis() as u64)
        );
        assert_eq!(cutoff(30, now), Timestamp::from_millis(0));
    }
}
