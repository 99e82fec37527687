//! The in-memory index of experiments: states, queue positions, backlog counts,
//! admission against the capacity, and cancel.
//!
//! The index is rebuilt from the experiments directory at start and changed only
//! here, under one std `Mutex` that is never held across an `.await` or a file
//! operation, so every read route answers from memory in microseconds. The run
//! order is the id order of the QUEUED experiments (ids are given in acceptance
//! order, and the worker always takes the oldest), except for those an
//! operator moved to the front: they run first, the most recently moved
//! first. Both orders are the records' own (ids, and the instant of each move),
//! so the start-up scan rebuilds the same queue.
//!
//! Here: the [`Queue`], its lock and its verbs; `index` keeps the records and
//! the order, `estimate` makes the estimates, `view` holds what is answered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Error;
use crate::events::Events;
use crate::exec::Signal;
use crate::metrics::Metrics;
use crate::model::{Drain, Id, Moved, Pause, Record, Sharing, State};
use crate::time::Timestamp;

mod estimate;
mod group;
mod index;
mod view;

use index::{Index, Running};
pub use view::{Backlog, BatchPage, Filter, View, Waiting};
// The pages' tests make estimates by hand.
#[cfg(test)]
pub(crate) use view::{Eta, Hold};

/// What a move to the front did.
#[derive(Debug)]
pub enum Fronted {
    /// It is at the head now. Its record is to be written by the caller, then
    /// [`Queue::moved`] (or [`Queue::unmove`] if the write failed) called;
    /// until then the worker does not take it, nor may it be cancelled.
    Moved {
        record: Record,
        /// Its earlier move, if it had one, to put back if the write fails.
        before: Option<Moved>,
        /// The position it had.
        from: usize,
    },
    /// It runs next already; nothing changed.
    Next(View),
}

/// What a cancel did.
#[derive(Debug)]
pub enum Canceled {
    /// It was waiting, or cancelled already: it is CANCELED now. The record is
    /// to be persisted by the caller (when `changed`).
    Done { record: Record, changed: bool },
    /// It is running: the command is being stopped and will end CANCELED.
    Stopping(View),
    /// It is a member of a grouped run that goes on: it is CANCELED now and
    /// gets no results. The record is to be written by the caller, holding
    /// [`Queue::member_pen`]; if that fails, [`Queue::uncancel`] puts it back.
    Member(Record),
}

/// The index, shared by the HTTP side, the intake and the worker.
pub struct Queue {
    index: Mutex<Index>,
    /// The index's metrics, reachable without its lock.
    metrics: Arc<Metrics>,
    capacity: usize,
    /// Set at shutdown: nothing more is started.
    closing: AtomicBool,
    /// See [`Queue::member_pen`].
    member_pen: Arc<Mutex<()>>,
}

impl Queue {
    /// An index of `records` (as the start-up scan found and recovery settled
    /// them), paused if `pause` says so.
    pub fn new(capacity: usize, mut records: Vec<Record>, pause: Option<Pause>) -> Queue {
        records.sort_unstable_by_key(|record| record.id);
        // The store shares what records hold alike thread by thread as it
        // reads them; one copy across its threads (and for records made elsewhere).
        let mut sharing = Sharing::default();
        let mut index = Index::default();
        let mut moved = Vec::new();
        for record in &mut records {
            sharing.share(record);
            index.counts[record.state.index()] += 1;
            if record.state == State::Queued {
                match &record.moved_to_front {
                    Some(front) => moved.push((std::cmp::Reverse(front.at), record.id)),
                    None => index.waiting.push_back(record.id),
                }
            }
        }
        // The order the moves made: the latest first (their instants are distinct).
        moved.sort_unstable();
        index.front = moved.into_iter().map(|(_, id)| id).collect();
        for record in &records {
            if record.state == State::Complete {
                if let Some(took) = index::run_time(record) {
                    index
                        .durations
                        .entry(record.pipeline.clone())
                        .or_default()
                        .push(took);
                }
            }
        }
        index.records = records;
        index.pause = pause;
        Queue {
            metrics: index.metrics.clone(),
            index: Mutex::new(index),
            capacity,
            closing: AtomicBool::new(false),
            member_pen: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves the index consistent (every
        // change is made by `update`, which cannot panic half-way), so carry on.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The head, if it may start now: none waits, the queue is paused, the
    /// server is closing, or the head's move to the front is being written
    /// (whoever writes it wakes the worker).
    fn startable_head(&self, index: &Index) -> Option<Id> {
        if self.is_closing() || index.pause.is_some() {
            return None;
        }
        let id = index.head()?;
        (!index.pinned.contains(&id)).then_some(id)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Promises room for `count` more experiments, or refuses: the queue holds
    /// at most `capacity` waiting experiments, counting those being written.
    pub fn reserve(&self, count: usize) -> Result<(), Error> {
        let mut index = self.lock();
        if let Some(drain) = &index.drain {
            return Err(Error::Draining(refusal(drain)));
        }
        if count > self.capacity {
            // Waiting would never help: say so, rather than "try again later".
            return Err(Error::TooLarge(format!(
                "the batch holds {count} records, more than the {} the queue holds (--capacity); split it",
                self.capacity
            )));
        }
        if index.waiting_len() + index.reserved + count > self.capacity {
            return Err(Error::QueueFull {
                capacity: self.capacity,
            });
        }
        index.reserved += count;
        Ok(())
    }

    /// Gives back a reservation whose submission failed.
    pub fn unreserve(&self, count: usize) {
        let mut index = self.lock();
        index.reserved = index.reserved.saturating_sub(count);
    }

    /// Adds newly accepted experiments, which were reserved for.
    pub fn enqueue(&self, records: &[Record]) {
        let mut index = self.lock();
        index.reserved = index.reserved.saturating_sub(records.len());
        for record in records {
            index.insert(record.clone());
        }
        // Told once all are in: a batch's estimates in one walk of the queue.
        let ids: Vec<Id> = records.iter().map(|record| record.id).collect();
        index.tell_all(&ids);
        index.metrics.accepted(records.len());
        index.tell_backlog();
    }

    /// The same index, counting into `metrics`, which the executors count into too.
    pub fn counting_in(self, metrics: Arc<Metrics>) -> Queue {
        let Queue {
            index,
            capacity,
            closing,
            member_pen,
            ..
        } = self;
        let mut index = index.into_inner().unwrap_or_else(|p| p.into_inner());
        index.metrics = metrics.clone();
        Queue {
            index: Mutex::new(index),
            metrics,
            capacity,
            closing,
            member_pen,
        }
    }

    /// What `GET /metrics` shows of this queue's history.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The queue as a scrape reads it.
    pub fn gauges(&self) -> crate::metrics::Gauges {
        let index = self.lock();
        crate::metrics::Gauges {
            queued: index.counts[State::Queued.index()],
            running: index.counts[State::Running.index()],
            paused: index.pause.is_some(),
            // The smallest id is the oldest, wherever an operator put it in the queue.
            oldest_queued: index
                .waiting
                .iter()
                .min()
                .and_then(|id| index.find(*id))
                .map(|record| record.submitted_at),
        }
    }

    /// Where every change of the index is told.
    pub fn events(&self) -> Arc<Events> {
        self.lock().events.clone()
    }

    pub fn get(&self, id: Id) -> Option<View> {
        let index = self.lock();
        index.find(id).map(|record| index.view(record))
    }

    /// The views of experiments `ids`, in their order (`None` for one not
    /// known), their estimates made in one walk of the queue: a batch of ten
    /// thousand costs what its last one does, not ten thousand walks.
    pub fn get_all(&self, ids: &[Id]) -> Vec<Option<View>> {
        let index = self.lock();
        let mut views = index
            .views(ids.iter().filter_map(|&id| index.find(id)))
            .into_iter()
            .peekable();
        ids.iter()
            .map(|&id| views.next_if(|view| view.record.id == id))
            .collect()
    }

    /// The estimates of experiments `ids` (a page of a batch), in their
    /// order: [`Waiting::Done`] for one that has finished, or is not known.
    pub fn estimates(&self, ids: &[Id]) -> Vec<Waiting> {
        self.get_all(ids)
            .into_iter()
            .map(|view| view.map_or(Waiting::Done, |view| view.eta))
            .collect()
    }

    /// Experiments newest first, as the filter says, and the page token of the next page.
    pub fn list(&self, filter: &Filter) -> (Vec<View>, Option<Id>) {
        let index = self.lock();
        let upper = filter.before.map_or(index.records.len(), |before| {
            index.records.partition_point(|record| record.id < before)
        });
        let mut matching = index.records[..upper]
            .iter()
            .rev()
            .filter(|record| filter.state.is_none_or(|state| record.state == state))
            .filter(|record| filter.batch.is_none_or(|batch| record.batch == Some(batch)))
            .filter(|record| {
                filter
                    .submitted_by
                    .as_deref()
                    .is_none_or(|by| record.submitted_by.as_deref() == Some(by))
            });
        let page: Vec<View> = index.views(matching.by_ref().take(filter.limit));
        let next = match matching.next() {
            Some(_) => page.last().map(|view| view.record.id),
            None => None,
        };
        (page, next)
    }

    pub fn backlog(&self) -> Backlog {
        let index = self.lock();
        Backlog {
            queued: index.counts[State::Queued.index()],
            running: index.counts[State::Running.index()],
        }
    }

    /// Experiments per state, in [`State::ALL`] order.
    pub fn counts(&self) -> [usize; 6] {
        self.lock().counts
    }

    /// Takes the next waiting experiment (the oldest), marks it RUNNING and
    /// returns its record, unless none is waiting, the queue is paused or the
    /// server is closing. `signals` gives, for the head's record, what will
    /// reach its run for cancel and shutdown (none if it cannot be stopped).
    /// The worker takes runs by [`Queue::next_group`]; this one-record form
    /// is the unit tests' way to start an experiment.
    #[cfg(test)]
    pub fn next(&self, signals: impl FnOnce(&Record) -> Option<Sender<Signal>>) -> Option<Record> {
        let mut index = self.lock();
        let id = self.startable_head(&index)?;
        let signals = signals(index.find(id)?);
        let record = index.update(id, |record| {
            record.state = State::Running;
            record.started_at = Some(Timestamp::now());
            record.attempts += 1;
            record.error = None;
        })?;
        index.running.push(Running {
            id,
            signals,
            group: None,
        });
        Some(record)
    }

    /// The experiments recovery left RUNNING to be followed (re-attached
    /// runs), oldest first, each now in flight with what `signals` gives it.
    pub fn take_reattached(
        &self,
        mut signals: impl FnMut(&Record) -> Option<Sender<Signal>>,
    ) -> Vec<Record> {
        let mut index = self.lock();
        let found: Vec<Record> = index
            .records
            .iter()
            .filter(|record| {
                record.state == State::Running && !index.running.iter().any(|r| r.id == record.id)
            })
            .cloned()
            .collect();
        for record in &found {
            let signals = signals(record);
            index.running.push(Running {
                id: record.id,
                signals,
                group: record
                    .group
                    .filter(|group| group.size > 1)
                    .map(|group| (group.id, index::Stage::Running)),
            });
        }
        found
    }

    /// Replaces the running experiment's record with the worker's copy, which
    /// the worker has written to disk first, so memory is never ahead of it.
    pub fn update_running(&self, record: Record) {
        let id = record.id;
        self.lock().update(id, |stored| *stored = record);
    }

    /// Like [`Queue::update_running`], for the run's last change: the
    /// experiment is no longer the running one.
    pub fn finish(&self, record: Record) {
        let mut index = self.lock();
        index.running.retain(|running| running.id != record.id);
        let id = record.id;
        index.update(id, |stored| *stored = record);
    }

    /// Cancels an experiment: a waiting one at once, a running one by stopping its command.
    pub fn cancel(&self, id: Id) -> Result<Canceled, Error> {
        let mut index = self.lock();
        let Some(record) = index.find(id) else {
            return Err(Error::NotFound(format!("no experiment {id}")));
        };
        match record.state {
            State::Canceled => Ok(Canceled::Done {
                record: record.clone(),
                changed: false,
            }),
            State::Queued if index.pinned.contains(&id) => Err(Error::Busy(format!(
                "experiment {id} is being moved to the front this instant; cancel it again in a moment"
            ))),
            State::Queued => {
                let record = index
                    .update(id, |record| {
                        record.state = State::Canceled;
                        record.finished_at = Some(Timestamp::now());
                        record.error = Some("canceled by a client before it ran".into());
                    })
                    .expect("the record exists");
                Ok(Canceled::Done {
                    record,
                    changed: true,
                })
            }
            State::Running if index.is_member(id) => index.cancel_member(id),
            State::Running => {
                let view = index.view(record);
                match index.running.iter().find(|running| running.id == id).and_then(|r| r.signals.as_ref()) {
                    Some(signals) => {
                        let _ = signals.send(Signal::Cancel);
                        Ok(Canceled::Stopping(view))
                    }
                    None => Err(Error::WrongState(format!(
                        "experiment {id} is running the built-in analysis, which takes moments and cannot be stopped"
                    ))),
                }
            }
            finished => Err(Error::WrongState(format!(
                "experiment {id} has finished ({}); there is nothing to cancel",
                finished.as_str()
            ))),
        }
    }

    /// Undoes the cancel of a waiting experiment whose CANCELED record could
    /// not be written: it waits again, in its place.
    pub fn uncancel(&self, id: Id) {
        let mut index = self.lock();
        if index.uncancel_member(id) {
            return;
        }
        index.update(id, |record| {
            if record.state == State::Canceled && record.started_at.is_none() {
                record.state = State::Queued;
                record.finished_at = None;
                record.error = None;
            }
        });
    }

    /// Notes on a finished experiment that `later` runs it again; returns its
    /// record as it is now, to be written.
    pub fn retried(&self, id: Id, later: Id) -> Option<Record> {
        self.lock().update(id, |record| {
            if record.state.is_finished() {
                record.retried_as = Some(later);
            }
        })
    }

    /// Pauses the queue: nothing new starts (a running experiment runs on).
    /// An existing pause stays as it is; returns whether this one took effect.
    pub fn pause(&self, pause: Pause) -> bool {
        let mut index = self.lock();
        if index.pause.is_some() {
            return false;
        }
        index.pause = Some(pause);
        index.tell_backlog();
        true
    }

    /// Lifts the pause, and returns it (`None` if the queue was not paused).
    pub fn resume(&self) -> Option<Pause> {
        let mut index = self.lock();
        let pause = index.pause.take();
        index.tell_backlog();
        pause
    }

    /// The pause, while the queue is paused.
    pub fn paused(&self) -> Option<Pause> {
        self.lock().pause.clone()
    }

    /// The experiment that runs next, and the one running now (the oldest
    /// in flight), if any.
    pub fn head(&self) -> (Option<Id>, Option<Id>) {
        let index = self.lock();
        (
            index.head(),
            index.running.first().map(|running| running.id),
        )
    }

    /// Drains the server: no new experiment is accepted (what is queued still
    /// runs). An existing drain stays as it is; returns whether this one took effect.
    pub fn drain(&self, drain: Drain) -> bool {
        let mut index = self.lock();
        if index.drain.is_some() {
            return false;
        }
        index.drain = Some(drain);
        index.tell_backlog();
        true
    }

    /// Accepts submissions again; returns the drain lifted (`None` if there was none).
    pub fn undrain(&self) -> Option<Drain> {
        let mut index = self.lock();
        let drain = index.drain.take();
        index.tell_backlog();
        drain
    }

    /// The drain, while the server is draining.
    pub fn drained(&self) -> Option<Drain> {
        self.lock().drain.clone()
    }

    /// Moves a QUEUED experiment to the head of the queue, `by` whom: it runs
    /// next, before those moved earlier. Its record is to be written before
    /// the answer; see [`Fronted::Moved`].
    pub fn move_to_front(&self, id: Id, by: String) -> Result<Fronted, Error> {
        let mut index = self.lock();
        let Some(record) = index.find(id) else {
            return Err(Error::NotFound(format!("no experiment {id}")));
        };
        if record.state != State::Queued {
            return Err(Error::WrongState(format!(
                "experiment {id} is {}; only a queued experiment can be moved to the front",
                record.state.as_str()
            )));
        }
        if index.pinned.contains(&id) {
            return Err(Error::Busy(format!(
                "experiment {id} is being moved to the front already; try again in a moment"
            )));
        }
        if index.head() == Some(id) {
            return Ok(Fronted::Next(index.view(record)));
        }
        let before = record.moved_to_front.clone();
        let from = index.position(id);
        // Later than every move still waiting, so that the order is the
        // records' own even if two moves fall in one millisecond, or the clock
        // stepped back.
        let latest = index
            .front
            .front()
            .and_then(|&first| index.find(first))
            .and_then(|first| first.moved_to_front.as_ref())
            .map(|moved| moved.at);
        let now = Timestamp::now();
        let at = match latest {
            Some(latest) if latest >= now => latest.after(Duration::from_millis(1)),
            _ => now,
        };
        let moved = index
            .update(id, |record| {
                record.moved_to_front = Some(Moved { at, by });
            })
            .expect("the record exists");
        index.unwait(id);
        index.wait(&moved);
        index.pinned.push(id);
        // Told again: `update` told it with its old place. Those it passed
        // moved back a place: the backlog event tells their pages to look.
        index.tell(id);
        index.tell_backlog();
        Ok(Fronted::Moved {
            record: moved,
            before,
            from,
        })
    }

    /// Says a move to the front is on disk: the worker may take the experiment.
    pub fn moved(&self, id: Id) {
        self.lock().pinned.retain(|&pinned| pinned != id);
    }

    /// Undoes a move to the front whose record could not be written: the
    /// experiment waits where it waited before.
    pub fn unmove(&self, id: Id, before: Option<Moved>) {
        let mut index = self.lock();
        index.pinned.retain(|&pinned| pinned != id);
        if index
            .find(id)
            .is_some_and(|record| record.state == State::Queued)
        {
            let record = index
                .update(id, |record| record.moved_to_front = before)
                .expect("the record exists");
            index.unwait(id);
            index.wait(&record);
            index.tell(id);
            index.tell_backlog();
        }
    }

    /// Calls `f` with every record, in id order, under the index's lock: for
    /// a quick look over all of them (keep `f` short, with no file operation).
    pub fn with_records<T>(&self, f: impl FnOnce(&[Record]) -> T) -> T {
        f(&self.lock().records)
    }

    /// Takes finished experiments out of the index, whose directories are
    /// gone (the retention sweep removed them), and tells listeners; a
    /// QUEUED or RUNNING one is never taken out. Returns how many were.
    pub fn remove(&self, ids: &[Id]) -> usize {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let mut index = self.lock();
        let mut gone = Vec::new();
        let Index {
            records, counts, ..
        } = &mut *index;
        records.retain(|record| {
            let remove = record.state.is_finished() && ids.binary_search(&record.id).is_ok();
            if remove {
                counts[record.state.index()] -= 1;
                gone.push((record.id, record.batch));
            }
            !remove
        });
        for (id, batch) in &gone {
            let data = serde_json::json!({ "id": id, "removed": true });
            index
                .events
                .publish("removed", Some(*id), *batch, data.to_string());
        }
        gone.len()
    }

    /// Stops the queue for shutdown: nothing more starts, and every run in flight is told to stop.
    pub fn close(&self) {
        let index = self.lock();
        self.closing.store(true, Ordering::SeqCst);
        for running in &index.running {
            if let Some(signals) = &running.signals {
                let _ = signals.send(Signal::Shutdown);
            }
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

impl Queue {
    /// Up to `limit` experiments of the batch `batch` after the id `after`,
    /// oldest first (a plate reads A01 to H12), with the batch's counts;
    /// `None` if no such batch exists. Records only: a page of a large batch
    /// must not cost an estimate per queued experiment under the lock.
    pub fn batch(&self, batch: Id, after: Option<Id>, limit: usize) -> Option<BatchPage> {
        let index = self.lock();
        let start = index.records.partition_point(|record| record.id < batch);
        // A batch's ids are contiguous from its first: its records are a run
        // of the index (one the scan skipped leaves a gap, not a stranger).
        let members = index.records[start..]
            .iter()
            .take_while(|record| record.batch == Some(batch));
        let mut counts = [0; 6];
        let mut records = Vec::new();
        let mut more = false;
        for record in members {
            counts[record.state.index()] += 1;
            if after.is_some_and(|after| record.id <= after) {
                continue;
            }
            if records.len() < limit {
                records.push(record.clone());
            } else {
                more = true;
            }
        }
        let first = index
            .records
            .get(start)
            .filter(|r| r.batch == Some(batch))?;
        Some(BatchPage {
            next: more.then(|| records.last().map(|r| r.id)).flatten(),
            upload: first.upload.clone(),
            records,
            counts,
        })
    }
}

/// What a client refused during a drain is told: who drains, since when, why,
/// and that what is queued still runs.
fn refusal(drain: &Drain) -> String {
    format!(
        "the server is draining: it takes no new experiments (since {}, by {}: {}); \
         experiments already queued still run. Nothing was written; submit again once an \
         operator reopens it (POST /queue/undrain)",
        drain.since, drain.by, drain.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64, state: State) -> Record {
        Record::for_test(id, state)
    }

    #[test]
    fn positions_follow_the_id_order_of_waiting_experiments() {
        let queue = Queue::new(
            10,
            vec![
                record(1, State::Complete),
                record(2, State::Queued),
                record(5, State::Queued),
            ],
            None,
        );
        assert_eq!(queue.get(Id(2)).unwrap().position, Some(1));
        assert_eq!(queue.get(Id(5)).unwrap().position, Some(2));
        assert_eq!(queue.get(Id(1)).unwrap().position, None);
        assert_eq!(queue.next(|_| None).unwrap().id, Id(2));
        assert_eq!(queue.get(Id(5)).unwrap().position, Some(1));
        assert_eq!(
            queue.backlog(),
            Backlog {
                queued: 1,
                running: 1
            }
        );
    }

    #[test]
    fn the_capacity_counts_waiting_and_reserved_slots() {
        let queue = Queue::new(3, vec![record(1, State::Queued)], None);
        queue.reserve(2).unwrap();
        assert!(matches!(
            queue.reserve(1),
            Err(Error::QueueFull { capacity: 3 })
        ));
        queue.unreserve(1);
        queue.reserve(1).unwrap();
        queue.enqueue(&[record(2, State::Queued), record(3, State::Queued)]);
        assert!(queue.reserve(1).is_err());
        // A cancelled experiment's room is free at once.
        queue.cancel(Id(3)).unwrap();
        queue.reserve(1).unwrap();
        // A batch larger than the whole queue could never fit.
        assert!(matches!(queue.reserve(4), Err(Error::TooLarge(_))));
    }

    #[test]
    fn the_worker_takes_the_oldest_and_closing_stops_it() {
        let queue = Queue::new(
            10,
            vec![record(7, State::Queued), record(3, State::Queued)],
            None,
        );
        let first = queue.next(|_| None).unwrap();
        assert_eq!(
            (first.id, first.state, first.attempts),
            (Id(3), State::Running, 1)
        );
        queue.finish(Record {
            state: State::Complete,
            ..first
        });
        assert_eq!(
            queue.backlog(),
            Backlog {
                queued: 1,
                running: 0
            }
        );
        queue.close();
        assert!(queue.next(|_| None).is_none());
    }

    #[test]
    fn a_cancelled_experiment_never_begins() {
        let queue = Queue::new(
            10,
            vec![
                record(1, State::Queued),
                record(2, State::Complete),
                record(4, State::Queued),
            ],
            None,
        );
        assert!(matches!(
            queue.cancel(Id(1)),
            Ok(Canceled::Done { changed: true, .. })
        ));
        assert!(matches!(
            queue.cancel(Id(1)),
            Ok(Canceled::Done { changed: false, .. })
        ));
        assert_eq!(queue.next(|_| None).unwrap().id, Id(4));
        assert!(queue.next(|_| None).is_none());
        assert!(matches!(queue.cancel(Id(2)), Err(Error::WrongState(_))));
        assert!(matches!(queue.cancel(Id(3)), Err(Error::NotFound(_))));
    }

    #[test]
    fn cancelling_a_running_command_signals_its_runner() {
        let queue = Queue::new(10, vec![record(1, State::Queued)], None);
        let (sender, receiver) = std::sync::mpsc::channel();
        queue.next(|_| Some(sender)).unwrap();
        assert!(matches!(queue.cancel(Id(1)), Ok(Canceled::Stopping(_))));
        assert!(matches!(receiver.try_recv(), Ok(Signal::Cancel)));
        queue.close();
        assert!(matches!(receiver.try_recv(), Ok(Signal::Shutdown)));
    }

    #[test]
    fn listings_are_newest_first_and_paged() {
        let queue = Queue::new(
            10,
            (1..=5)
                .map(|id| {
                    record(
                        id,
                        if id % 2 == 0 {
                            State::Complete
                        } else {
                            State::Queued
                        },
                    )
                })
                .collect(),
            None,
        );
        let ids = |views: Vec<View>| {
            views
                .into_iter()
                .map(|view| view.record.id.0)
                .collect::<Vec<_>>()
        };
        let (page, next) = queue.list(&Filter {
            limit: 2,
            ..Filter::default()
        });
        assert_eq!((ids(page), next), (vec![5, 4], Some(Id(4))));
        let (page, next) = queue.list(&Filter {
            limit: 2,
            before: Some(Id(4)),
            ..Filter::default()
        });
        assert_eq!((ids(page), next), (vec![3, 2], Some(Id(2))));
        let (page, next) = queue.list(&Filter {
            limit: 5,
            state: Some(State::Queued),
            ..Filter::default()
        });
        assert_eq!((ids(page), next), (vec![5, 3, 1], None));
    }

    /// The waiting ids in run order, as positions say.
    fn run_order(queue: &Queue) -> Vec<u64> {
        let index = queue.lock();
        index.in_order().map(|id| id.0).collect()
    }

    #[test]
    fn moved_experiments_run_first_the_latest_moved_first_and_a_restart_rebuilds_the_order() {
        let queue = Queue::new(
            10,
            (1..=5).map(|id| record(id, State::Queued)).collect(),
            None,
        );
        let moved = |id: u64| match queue.move_to_front(Id(id), "10.0.0.7".into()).unwrap() {
            Fronted::Moved { record, from, .. } => {
                queue.moved(Id(id));
                (record, from)
            }
            Fronted::Next(view) => panic!("{id} was next already: {view:?}"),
        };
        let (four, from) = moved(4);
        assert_eq!(from, 4);
        assert_eq!(four.moved_to_front.as_ref().unwrap().by, "10.0.0.7");
        let (two, _) = moved(2);
        // Two moves in one millisecond still have distinct instants, in order.
        assert!(two.moved_to_front.unwrap().at > four.moved_to_front.unwrap().at);
        assert_eq!(run_order(&queue), [2, 4, 1, 3, 5]);
        assert_eq!(queue.get(Id(4)).unwrap().position, Some(2));
        assert_eq!(queue.get(Id(1)).unwrap().position, Some(3));
        // Next already: nothing changes.
        assert!(matches!(
            queue.move_to_front(Id(2), "x".into()),
            Ok(Fronted::Next(_))
        ));
        // Moved again, it goes to the head again.
        moved(4);
        assert_eq!(run_order(&queue), [4, 2, 1, 3, 5]);

        // The records alone rebuild the same order.
        let records = queue.with_records(|records| records.to_vec());
        let again = Queue::new(10, records, None);
        assert_eq!(run_order(&again), [4, 2, 1, 3, 5]);
        assert_eq!(again.next(|_| None).unwrap().id, Id(4));
        assert_eq!(again.next(|_| None).unwrap().id, Id(2));
        assert_eq!(again.next(|_| None).unwrap().id, Id(1));
    }

    #[test]
    fn a_move_being_written_holds_the_worker_and_a_cancel_and_a_failed_write_undoes_it() {
        let queue = Queue::new(
            10,
            (1..=3).map(|id| record(id, State::Queued)).collect(),
            None,
        );
        let Fronted::Moved { before, .. } = queue.move_to_front(Id(3), "a".into()).unwrap() else {
            panic!("not moved");
        };
        assert!(
            queue.next(|_| None).is_none(),
            "the worker waits for the write"
        );
        assert!(matches!(queue.cancel(Id(3)), Err(Error::Busy(_))));
        assert!(matches!(
            queue.move_to_front(Id(3), "b".into()),
            Err(Error::Busy(_))
        ));
        queue.unmove(Id(3), before);
        assert_eq!(run_order(&queue), [1, 2, 3]);
        assert_eq!(queue.get(Id(3)).unwrap().record.moved_to_front, None);
        assert_eq!(queue.next(|_| None).unwrap().id, Id(1));
        // Only a queued experiment moves; an unknown one is not found.
        assert!(matches!(
            queue.move_to_front(Id(1), "a".into()),
            Err(Error::WrongState(_))
        ));
        assert!(matches!(
            queue.move_to_front(Id(9), "a".into()),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn a_draining_queue_admits_nothing_until_it_is_undrained() {
        let queue = Queue::new(10, vec![record(1, State::Queued)], None);
        assert!(queue.drain(Drain {
            reason: "moving".into(),
            since: Timestamp::now(),
            by: "10.0.0.7".into(),
        }));
        let refused = queue.reserve(1).unwrap_err();
        assert!(matches!(refused, Error::Draining(_)));
        assert!(refused.to_string().contains("moving"), "{refused}");
        assert!(refused.to_string().contains("10.0.0.7"), "{refused}");
        // What is queued still runs.
        assert_eq!(queue.next(|_| None).unwrap().id, Id(1));
        assert!(queue.undrain().is_some());
        queue.reserve(1).unwrap();
    }

    #[test]
    fn removing_takes_out_finished_experiments_only() {
        let queue = Queue::new(
            10,
            vec![
                record(1, State::Complete),
                record(2, State::Queued),
                record(3, State::Canceled),
            ],
            None,
        );
        let mut listener = queue.events().subscribe(None).receiver;
        assert_eq!(queue.remove(&[Id(3), Id(2), Id(1)]), 2);
        let told: Vec<(&str, Option<Id>)> = std::iter::from_fn(|| listener.try_recv().ok())
            .map(|event| (event.kind, event.experiment))
            .collect();
        assert_eq!(told, [("removed", Some(Id(1))), ("removed", Some(Id(3)))]);
        assert!(queue.get(Id(1)).is_none() && queue.get(Id(3)).is_none());
        assert_eq!(queue.get(Id(2)).unwrap().position, Some(1));
        assert_eq!(queue.counts(), [1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_paused_queue_starts_nothing_until_it_is_resumed() {
        use crate::model::PausedBy;
        let queue = Queue::new(10, vec![record(1, State::Queued)], None);
        let pause = Pause {
            reason: "the disk is full".into(),
            since: Timestamp::now(),
            by: PausedBy::Workstation,
            operator: None,
        };
        assert!(queue.pause(pause.clone()));
        assert!(!queue.pause(Pause {
            reason: "another".into(),
            ..pause.clone()
        }));
        assert!(queue.next(|_| None).is_none());
        assert_eq!(queue.head(), (Some(Id(1)), None));
        assert_eq!(queue.resume(), Some(pause));
        assert_eq!(queue.next(|_| None).unwrap().id, Id(1));
        assert_eq!(queue.head(), (None, Some(Id(1))));
    }

    #[test]
    fn estimates_add_the_medians_ahead_and_say_none_behind_a_pipeline_never_run() {
        let now = Timestamp::now();
        let minutes = |n: u64| Duration::from_secs(60 * n);
        let run = |id: u64, pipeline: &str, took: Duration| Record {
            pipeline: pipeline.into(),
            started_at: Some(Timestamp::from_millis(now.millis() - 3_600_000)),
            finished_at: Some(Timestamp::from_millis(now.millis() - 3_600_000).after(took)),
            ..record(id, State::Complete)
        };
        let waiting = |id: u64, pipeline: &str| Record {
            pipeline: pipeline.into(),
            ..record(id, State::Queued)
        };
        let queue = Queue::new(
            20,
            vec![
                // Pipeline a: runs of 1, 3 and 2 minutes (the median, 2); b: 5.
                run(1, "a", minutes(1)),
                run(2, "a", minutes(3)),
                run(3, "a", minutes(2)),
                run(4, "b", minutes(5)),
                waiting(5, "a"),
                waiting(6, "b"),
                waiting(7, "a"),
                waiting(8, "never-run"),
                waiting(9, "a"),
            ],
            None,
        );
        // 5 starts now and runs 2 minutes; 6 waits for it and runs 5.
        let started = queue.next(|_| None).unwrap();
        assert_eq!(started.id, Id(5));
        let single: Vec<Waiting> = (5..=9).map(|id| queue.get(Id(id)).unwrap().eta).collect();
        let bulk = queue.estimates(&[Id(9), Id(8), Id(7), Id(6), Id(5), Id(1), Id(99)]);
        let (listed, _) = queue.list(&Filter {
            limit: 20,
            ..Filter::default()
        });
        let eta = |waiting: &Waiting| waiting.eta().copied();
        let finish_5 = eta(&single[0]).unwrap().finish;
        let start_6 = eta(&single[1]).unwrap().start.unwrap();
        // Each figure is made at its own "now": milliseconds apart.
        let close =
            |a: Timestamp, b: Timestamp| a.since(b).max(b.since(a)) < Duration::from_secs(1);
        assert_eq!(eta(&single[0]).unwrap().start, None, "running");
        assert!(close(
            finish_5,
            started.started_at.unwrap().after(minutes(2))
        ));
        assert!(close(start_6, finish_5));
        assert_eq!(eta(&single[1]).unwrap().finish, start_6.after(minutes(5)));
        let start_7 = eta(&single[2]).unwrap().start.unwrap();
        assert_eq!(start_7, start_6.after(minutes(5)));
        assert_eq!(eta(&single[2]).unwrap().finish, start_7.after(minutes(2)));
        // Its own pipeline has no run: no estimate, nor for those behind it.
        assert!(matches!(single[3], Waiting::Unknown(None)));
        assert!(matches!(single[4], Waiting::Unknown(None)));

        // A page of a batch and a listing say what each one's page says.
        assert!(matches!(bulk[0], Waiting::Unknown(None)));
        assert!(matches!(bulk[1], Waiting::Unknown(None)));
        assert!(close(eta(&bulk[2]).unwrap().start.unwrap(), start_7));
        assert!(close(eta(&bulk[3]).unwrap().start.unwrap(), start_6));
        assert!(close(eta(&bulk[4]).unwrap().finish, finish_5));
        assert!(bulk[5].is_done() && bulk[6].is_done(), "finished, unknown");
        let from_list = |id: u64| {
            listed
                .iter()
                .find(|view| view.record.id == Id(id))
                .map(|view| view.eta.clone())
                .unwrap()
        };
        assert!(close(eta(&from_list(7)).unwrap().start.unwrap(), start_7));
        assert!(close(eta(&from_list(6)).unwrap().start.unwrap(), start_6));
        assert!(matches!(from_list(9), Waiting::Unknown(None)));
        assert!(from_list(1).is_done());
    }

    #[test]
    fn a_batch_reads_oldest_first_in_pages_with_its_counts() {
        let mut records: Vec<Record> = (1..=6)
            .map(|id| Record {
                batch: (2..=5).contains(&id).then_some(Id(2)),
                upload: Some("plate.fasta".into()),
                ..record(
                    id,
                    if id == 3 {
                        State::Complete
                    } else {
                        State::Queued
                    },
                )
            })
            .collect();
        records.remove(3); // experiment 4, skipped by the scan
        let queue = Queue::new(10, records, None);
        let page = queue.batch(Id(2), None, 2).unwrap();
        let ids: Vec<u64> = page.records.iter().map(|r| r.id.0).collect();
        assert_eq!((ids, page.next), (vec![2, 3], Some(Id(3))));
        assert_eq!(page.total(), 3);
        assert_eq!(page.counts[State::Complete.index()], 1);
        assert_eq!(page.upload.as_deref(), Some("plate.fasta"));
        let rest = queue.batch(Id(2), page.next, 2).unwrap();
        let ids: Vec<u64> = rest.records.iter().map(|r| r.id.0).collect();
        assert_eq!((ids, rest.next), (vec![5], None));
        assert!(queue.batch(Id(1), None, 2).is_none());
        assert!(queue.batch(Id(3), None, 2).is_none());
    }
}
