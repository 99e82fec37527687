//! Acceptance: turning validated queries into durable experiments, in order.
//!
//! Durability costs flushes, and flushes are shared (group commit) and
//! overlapped. The intake thread takes every submission waiting for it as one
//! group: each is admitted (a full queue refuses before anything is written)
//! and written under `.incoming/`, and the group's flush starts at once on a
//! thread of its own, so the next group is written and flushing while this one
//! is still on its way to the disk (the journal merges fsyncs issued together).
//! The completer thread takes the groups strictly in order: once a group is
//! flushed it is renamed into place and the directory flushed; only then are
//! its experiments queued, the worker woken, and their handlers let answer
//! 2xx. Ids, directories and the queue all follow the order of arrival.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::model::{Choice, Id, Record};
use crate::query::Query;
use crate::queue::Queue;
use crate::store::{Published, Staged, Store};
use crate::time::Timestamp;

/// Submissions that may wait for the intake thread; past it handlers wait for room.
const PENDING_SUBMISSIONS: usize = 1024;

/// Most submissions flushed as one group: enough to share the flushes of every
/// client of a busy lab, few enough that the first of them is not kept waiting long.
const MAX_GROUP: usize = 256;

/// Groups whose flushes may be under way at once; past it the intake waits for
/// the oldest. Two overlap the wait of one group with the writing of the next;
/// a few more absorb a burst.
const GROUPS_IN_FLIGHT: usize = 4;

/// The handle the HTTP side submits through.
#[derive(Clone)]
pub struct Intake {
    messages: mpsc::Sender<Message>,
}

enum Message {
    Submit(Submission),
    /// Shutdown: stop taking submissions; the thread ends and drops the worker's channel.
    Close,
}

struct Submission {
    queries: Vec<Query>,
    /// The pipeline they run in.
    choice: Choice,
    reply: oneshot::Sender<Result<Vec<Record>, Error>>,
}

impl Intake {
    /// Starts the intake thread. It gives ids from `next_id` on and rings
    /// `wake` when it has queued experiments; it ends, dropping `wake`, at
    /// [`Intake::close`].
    pub fn spawn(
        store: Arc<Store>,
        queue: Arc<Queue>,
        wake: mpsc::Sender<()>,
        next_id: Id,
    ) -> (Intake, JoinHandle<()>) {
        let (messages, mut pending) = mpsc::channel(PENDING_SUBMISSIONS);
        let (flushing, flushes) = std_mpsc::sync_channel(GROUPS_IN_FLIGHT);
        let completer = Completer {
            store: store.clone(),
            queue: queue.clone(),
            wake,
        };
        let mut writer = Writer {
            store,
            queue,
            next_id,
            flushing,
        };
        let thread = thread::Builder::new()
            .name("intake".into())
            .spawn(move || {
                let completer = thread::Builder::new()
                    .name("intake-done".into())
                    .spawn(move || completer.run(flushes))
                    .expect("spawning the completer thread");
                let mut closing = false;
                while !closing {
                    let Some(Message::Submit(first)) = pending.blocking_recv() else {
                        break;
                    };
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match pending.try_recv() {
                            Ok(Message::Submit(next)) => group.push(next),
                            Ok(Message::Close) => closing = true,
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
                        }
                        if closing || pending.is_empty() {
                            break;
                        }
                    }
                    writer.accept(group);
                }
                // The groups already flushing are answered before the intake ends.
                drop(writer);
                let _ = completer.join();
            })
            .expect("spawning the intake thread");
        (Intake { messages }, thread)
    }

    /// Accepts queries as experiments of the pipeline `choice` says, all or
    /// none; answers once they are durable.
    pub async fn submit(&self, queries: Vec<Query>, choice: Choice) -> Result<Vec<Record>, Error> {
        let (reply, answer) = oneshot::channel();
        self.messages
            .send(Message::Submit(Submission {
                queries,
                choice,
                reply,
            }))
            .await
            .map_err(|_| Error::ShuttingDown)?;
        answer.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Stops the intake after the submissions already sent; later ones get 503.
    pub async fn close(&self) {
        let _ = self.messages.send(Message::Close).await;
    }
}

/// The first stage: admits and writes a group, then starts its flush.
struct Writer {
    store: Arc<Store>,
    queue: Arc<Queue>,
    next_id: Id,
    /// Hands each group, flushing on a thread of its own, to the completer.
    flushing: std_mpsc::SyncSender<Flushing>,
}

/// A submission of the group that was admitted and written.
struct Admitted {
    reply: oneshot::Sender<Result<Vec<Record>, Error>>,
    records: Vec<Record>,
    staged: Vec<Staged>,
}

/// A group on its way to the disk.
struct Flushing {
    group: Vec<Admitted>,
    flush: Flush,
}

/// A group's flush: under way on a thread of its own, or done already.
enum Flush {
    Running(JoinHandle<Result<(), Error>>),
    Done(Result<(), Error>),
}

impl Flushing {
    fn is_finished(&self) -> bool {
        match &self.flush {
            Flush::Running(thread) => thread.is_finished(),
            Flush::Done(_) => true,
        }
    }

    /// Waits for the flush and gives the group back with its outcome.
    fn finish(self) -> (Vec<Admitted>, Result<(), Error>) {
        let flushed = match self.flush {
            Flush::Running(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("a flush thread panicked".into()))),
            Flush::Done(flushed) => flushed,
        };
        (self.group, flushed)
    }
}

impl Writer {
    /// Admits and writes a group of submissions, answering those refused, and
    /// starts flushing the rest.
    fn accept(&mut self, group: Vec<Submission>) {
        let Writer {
            store,
            queue,
            next_id,
            flushing,
        } = self;
        let mut admitted = Vec::with_capacity(group.len());
        for Submission {
            queries,
            choice,
            reply,
        } in group
        {
            let count = queries.len();
            match admit(queue, count) {
                Ok(()) => match stage(store, &choice, next_id, &queries) {
                    Ok((records, staged)) => admitted.push(Admitted {
                        reply,
                        records,
                        staged,
                    }),
                    Err(err) => {
                        queue.unreserve(count);
                        let _ = reply.send(Err(err));
                    }
                },
                // The client may have gone; nothing was written for it anyway.
                Err(err) => drop(reply.send(Err(err))),
            }
        }
        if admitted.is_empty() {
            return;
        }
        let paths: Arc<[PathBuf]> = admitted
            .iter()
            .flat_map(|a| &a.staged)
            .flat_map(Staged::paths)
            .collect();
        let (flusher, to_flush) = (store.clone(), paths.clone());
        let flush = match thread::Builder::new()
            .name("intake-flush".into())
            .spawn(move || flusher.flush(&to_flush))
        {
            Ok(thread) => Flush::Running(thread),
            // At the thread limit: flush here, without the overlap.
            Err(_) => Flush::Done(store.flush(&paths)),
        };
        if let Err(std_mpsc::SendError(lost)) = flushing.send(Flushing {
            group: admitted,
            flush,
        }) {
            // Only if the completer panicked: answer the group rather than leave it hanging.
            let (group, _) = lost.finish();
            for submission in group {
                queue.unreserve(submission.records.len());
                let _ = submission.reply.send(Err(Error::Internal(
                    "the intake's completer stopped".into(),
                )));
            }
        }
    }
}

/// The second stage: publishes flushed groups in order, then answers them.
struct Completer {
    store: Arc<Store>,
    queue: Arc<Queue>,
    /// Wakes the worker when it sleeps.
    wake: mpsc::Sender<()>,
}

impl Completer {
    /// Completes groups in the order they were written until the writer is gone.
    /// Groups whose flush has finished by the time the oldest one is done are
    /// completed with it, sharing one flush of the directory.
    fn run(self, flushes: std_mpsc::Receiver<Flushing>) {
        let mut carried = None;
        loop {
            let Some(first) = carried.take().or_else(|| flushes.recv().ok()) else {
                break;
            };
            let mut ready = vec![first.finish()];
            while let Ok(next) = flushes.try_recv() {
                if !next.is_finished() {
                    carried = Some(next);
                    break;
                }
                ready.push(next.finish());
            }
            self.complete(ready);
        }
    }

    /// Makes flushed groups visible and durable, then queues them and answers
    /// their handlers; answers failures with what failed where.
    fn complete(&self, groups: Vec<(Vec<Admitted>, Result<(), Error>)>) {
        let Completer { store, queue, wake } = self;
        let mut published: Vec<(Admitted, Published)> = Vec::new();
        let mut failed: Vec<(Admitted, Error)> = Vec::new();
        for (admitted, flushed) in groups {
            for mut submission in admitted {
                let staged = std::mem::take(&mut submission.staged);
                match flushed
                    .as_ref()
                    .map_err(Error::again)
                    .and_then(|()| store.publish(staged))
                {
                    Ok(visible) => published.push((submission, visible)),
                    Err(err) => failed.push((submission, err)),
                }
            }
        }
        if !published.is_empty() {
            if let Err(err) = store.sync_root() {
                for (submission, visible) in published.drain(..) {
                    store.withdraw(visible);
                    failed.push((submission, Error::again(&err)));
                }
            }
        }
        for (submission, err) in failed {
            queue.unreserve(submission.records.len());
            let _ = submission.reply.send(Err(err));
        }

        for (submission, _durable) in published {
            // Logged before the worker can see them, so "accepted" always comes before "started".
            log_accepted(&submission.records);
            queue.enqueue(&submission.records);
            // A full channel means a wake-up is pending already: the worker will see these too.
            let _ = wake.try_send(());
            // The client may have gone; the experiments are accepted all the same.
            let _ = submission.reply.send(Ok(submission.records));
        }
    }
}

/// Reserves room in the queue for `count` experiments, or refuses before anything is written.
fn admit(queue: &Queue, count: usize) -> Result<(), Error> {
    if queue.is_closing() {
        return Err(Error::ShuttingDown);
    }
    queue.reserve(count)
}

/// Writes the experiments under `.incoming/`, giving ids from `next_id` on.
fn stage(
    store: &Store,
    choice: &Choice,
    next_id: &mut Id,
    queries: &[Query],
) -> Result<(Vec<Record>, Vec<Staged>), Error> {
    let now = Timestamp::now();
    let batch = (queries.len() > 1).then_some(*next_id);
    let mut records = Vec::with_capacity(queries.len());
    let mut staged = Vec::with_capacity(queries.len());
    for query in queries {
        let id = *next_id;
        // Ids are used up even if the write fails: an id is never given twice.
        *next_id = Id(id.0 + 1);
        let record = Record::new(id, query, batch, choice, now);
        staged.push(store.stage(&record, query)?);
        records.push(record);
    }
    Ok((records, staged))
}

fn log_accepted(records: &[Record]) {
    let batch = match records {
        [first, _, ..] => format!(" in batch {}", first.id),
        _ => String::new(),
    };
    for record in records {
        let notes: String = record
            .notes
            .iter()
            .map(|note| format!("; {note}"))
            .collect();
        let by = record
            .submitted_by
            .as_deref()
            .map_or(String::new(), |by| format!(" from {by}"));
        log::info!(
            "experiment {} accepted{batch}{by}: '{}', {} residues ({}{notes})",
            record.id,
            record.query_name,
            record.length,
            record.alphabet.as_str()
        );
    }
}
